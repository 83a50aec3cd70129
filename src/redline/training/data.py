"""Training data preparation: read xlam rows (hub or local file) or the built-in set, validate
them in three layers (format, execution, semantic), drop duplicates and anything an evaluation
suite asks, add negative samples and, optionally, general-data replay (redline.training.general),
split 90/10 with seed 42, and write TRL and ShareGPT files.

No model is loaded here unless general prompts need answers (then the answerer given does). The
prompts are the harness's prompt modes, so a model is trained on exactly the text it is
evaluated on.
"""

from __future__ import annotations

import json
import os
import random
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from redline.harness.prompts import get_mode
from redline.parsing import format_calls
from redline.records import Sample, ToolCall, ToolSpec, error_text

SPLIT_SEED = 42
VAL_SHARE = 0.1
DEFAULT_NEGATIVES = 0.1
# What the model is taught to say when no offered tool fits (the seed: refuse, don't force a call).
REFUSAL = "None of the available functions can help with this request, so I will not call any."
# Schema keywords about a value's content rather than its type or shape: their failures belong to
# the semantic layer, everything else the validator reports to the execution layer.
VALUE_KEYWORDS = frozenset(
    {
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "multipleOf",
    }
)
LAYERS = ("format", "execution", "semantic", "duplicate", "eval_overlap")
# The longest row kept, in characters of its query, tools and answers together (as JSON text).
# No prompt this harness trains on comes near it (the longest BFCL prompt with its tools is a few
# thousand characters); a row above it is a broken export, not an example, and is dropped as
# too_long before it can take a training step's memory.
MAX_ROW_CHARS = 100_000
# Output format of the target text per prompt mode.
TARGET_FORMAT = {"json": "json", "native": "hermes", "python": "python"}


class DataError(ValueError):
    """The data source cannot be read at all; the message names it."""


@dataclass(frozen=True)
class Row:
    """One raw example in xlam's shape: ``query``, ``tools`` and ``answers`` (JSON text or
    already decoded)."""

    id: str
    query: Any
    tools: Any
    answers: Any
    where: str | None = None  # FILE:LINE (or FILE: item N) for a row read from a local file
    problem: str | None = None  # why the line is no row at all (not JSON, not an object)


@dataclass(frozen=True)
class Drop:
    id: str
    layer: str
    reason: str
    general: bool = False  # a general replay prompt, not a row of the source
    where: str | None = None  # FILE:LINE of a row read from a local file


@dataclass
class Prepared:
    train: list[Sample]
    val: list[Sample]
    drops: list[Drop]
    read: int
    negatives: int
    suites_checked: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    general: int = 0
    general_wanted: int = 0
    unreadable: list[Drop] = field(default_factory=list)  # lines that held no row at all

    def report(self) -> dict[str, Any]:
        by_layer = Counter(d.layer for d in self.drops)
        reasons: dict[str, Counter[str]] = {layer: Counter() for layer in LAYERS}
        for d in self.drops:
            # Group reasons by their stable head ("call to unknown function", "type", ...).
            reasons[d.layer][d.reason.split(": ")[0]] += 1
        return {
            "read": self.read,
            "unreadable": len(self.unreadable),
            "kept": self.read - sum(not d.general for d in self.drops),
            "dropped": {layer: by_layer.get(layer, 0) for layer in LAYERS},
            "drop_reasons": {k: dict(v.most_common()) for k, v in reasons.items() if v},
            "negatives_added": self.negatives,
            "general_added": self.general,
            "general_wanted": self.general_wanted,
            "train": len(self.train),
            "val": len(self.val),
            "suites_checked": self.suites_checked,
            "settings": self.settings,
        }


# -- reading -------------------------------------------------------------------------------


def _rows_from_samples(samples: Iterable[Sample]) -> list[Row]:
    return [
        Row(
            id=s.id,
            query=s.messages[-1]["content"],
            tools=[t.to_openai()["function"] for t in s.tools],
            answers=[{"name": c.name, "arguments": c.arguments} for c in s.expected or []],
        )
        for s in samples
    ]


def _rows_from_dataset(dataset: Iterable[dict[str, Any]], prefix: str) -> list[Row]:
    return [
        Row(
            id=f"{prefix}_{row.get('id', index)}",
            query=row.get("query"),
            tools=row.get("tools"),
            answers=row.get("answers"),
        )
        for index, row in enumerate(dataset)
    ]


def read_source(source: str, builtin_size: int = 1200) -> tuple[list[Row], list[Sample]]:
    """The rows of ``source`` and the evaluation samples it must also be kept apart from.

    ``builtin``: the seeded offline set (redline.suites.devset). ``xlam``: the hub dataset (or
    the file in ``$REDLINE_XLAM``); only its train part of the 90/10 split is read, and its test
    part (the ``xlam:test`` suite) is returned for the overlap check. Anything else is a local
    file in xlam's format (JSON or JSON lines with ``query``, ``tools``, ``answers``).
    """
    from redline.suites import xlam

    if source == "builtin":
        from redline.suites.devset import generate_train_set

        return _rows_from_samples(generate_train_set(builtin_size)), []
    if source == "xlam":
        origin = os.environ.get(xlam.ENV_VAR) or xlam.HUB_ID
        try:
            dataset = xlam._load(origin)
        except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; say which source
            raise DataError(f"cannot load xlam data from {origin}: {exc}") from exc
        parts = dataset.train_test_split(test_size=xlam.TEST_SIZE, seed=xlam.SPLIT_SEED)
        test = []
        for index, row in enumerate(parts["test"]):
            try:
                test.append(xlam.row_to_sample(row, index))
            except xlam.XlamError:
                continue  # a malformed test row asks nothing a training row could copy
        return _rows_from_dataset(parts["train"], "xlam"), test
    path = Path(source)
    if not path.is_file():
        raise DataError(f"data source {source!r} is neither builtin, xlam nor an existing file")
    if path.suffix in (".json", ".jsonl"):
        return _rows_from_json(path), []
    try:
        dataset = xlam._load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"cannot read {path}: {exc}") from exc
    return _rows_from_dataset(dataset, path.stem), []


def _rows_from_json(path: Path) -> list[Row]:
    """The rows of a local JSON array or JSON-lines file, read here rather than by datasets:
    one bad line (truncated, ``null``) becomes one row that is dropped with its FILE:LINE,
    where datasets stopped the whole file without naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            # One array is one value: nothing after the break can be read.
            raise DataError(
                f"{path}: not JSON ({exc.msg}) at line {exc.lineno}, column {exc.colno}"
            ) from None
        return [
            _row_of(item, index, path.stem, f"{path}: item {index}")
            for index, item in enumerate(items)
        ]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # a blank line is no row (datasets skips them too)
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append(
                Row(
                    f"{path.stem}_{len(rows)}",
                    None,
                    None,
                    None,
                    where,
                    f"not JSON ({exc.msg}, column {exc.colno})",
                )
            )
            continue
        rows.append(_row_of(item, len(rows), path.stem, where))
    return rows


def _row_of(item: Any, index: int, prefix: str, where: str) -> Row:
    """One decoded line or array item as a Row; anything but an object is a row to drop."""
    if not isinstance(item, dict):
        kind = "null" if item is None else type(item).__name__
        return Row(f"{prefix}_{index}", None, None, None, where, f"not an object but {kind}")
    return Row(
        id=f"{prefix}_{item.get('id', index)}",
        query=item.get("query"),
        tools=item.get("tools"),
        answers=item.get("answers"),
        where=where,
    )


# -- the three validation layers -------------------------------------------------------------


def _decoded(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise _Dropped("format", f"{what} is not JSON: {exc.msg} at char {exc.pos}") from None
    return value


class _Dropped(Exception):
    def __init__(self, layer: str, reason: str) -> None:
        super().__init__(reason)
        self.layer, self.reason = layer, reason


def _tool_spec(tool: Any, index: int) -> ToolSpec:
    from redline.suites.xlam import xlam_tool

    if not isinstance(tool, dict) or "name" not in tool and "function" not in tool:
        raise _Dropped("format", f"tools[{index}] is not a tool object")
    body = tool.get("function", tool)
    params = body.get("parameters") if isinstance(body, dict) else None
    # xlam writes parameters as {name: {type: "str", ...}}; JSON Schema has type/properties.
    if isinstance(params, dict) and "properties" not in params and "type" not in params:
        tool = xlam_tool(body)
    try:
        return ToolSpec.model_validate(tool)
    except ValueError as exc:
        raise _Dropped("format", f"tools[{index}] is not a valid tool: {exc}") from None


def _empty_required_strings(spec: ToolSpec, arguments: dict[str, Any]) -> str | None:
    for name in spec.required:
        value = arguments.get(name)
        if isinstance(value, str) and not value.strip():
            return f"empty required string: {spec.name}.{name}"
    return None


def _size(value: Any) -> int:
    """Characters of a row's value as it is stored: text as it is, anything else as JSON."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    try:
        return len(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError):
        return len(str(value))


def validate_row(row: Row) -> Sample:
    """The row as a Sample, or raises ``_Dropped`` naming the first layer it fails."""
    if row.problem is not None:
        raise _Dropped("format", row.problem)
    size = sum(_size(v) for v in (row.query, row.tools, row.answers))
    if size > MAX_ROW_CHARS:
        raise _Dropped("format", f"too_long: {size:,} characters (the limit is {MAX_ROW_CHARS:,})")
    if not isinstance(row.query, str) or not row.query.strip():
        raise _Dropped("format", "query is empty or not text")
    tools = _decoded(row.tools, "tools")
    answers = _decoded(row.answers, "answers")
    if not isinstance(tools, list) or not tools:
        raise _Dropped("format", "tools is not a non-empty list")
    if not isinstance(answers, list):
        raise _Dropped("format", "answers is not a list of calls")
    specs = [_tool_spec(t, i) for i, t in enumerate(tools)]
    calls = []
    for i, answer in enumerate(answers):
        # The call forms ToolCall reads: xlam's, OpenAI's, arguments as JSON text or named
        # "parameters".
        why = "not an object"
        if isinstance(answer, dict):
            try:
                calls.append(ToolCall.model_validate(answer))
                continue
            except ValidationError as exc:
                why = error_text(exc)
        raise _Dropped(
            "format", f"answers[{i}] is not a call with a name and an arguments object ({why})"
        )
    by_name = {s.name: s for s in specs}
    for call in calls:  # execution: the call could run against the offered tools
        spec = by_name.get(call.name)
        if spec is None:
            raise _Dropped("execution", f"call to unknown function: {call.name}")
        problem = spec.validator(call.arguments)
        if problem is not None:
            keyword, path, message = problem
            layer = "semantic" if keyword in VALUE_KEYWORDS else "execution"
            where = ".".join(str(p) for p in (call.name, *path))
            raise _Dropped(layer, f"{keyword}: {where}: {message}")
    for call in calls:  # semantic: values that validate but make no sense
        empty = _empty_required_strings(by_name[call.name], call.arguments)
        if empty:
            raise _Dropped("semantic", empty)
    return Sample(
        id=row.id,
        messages=[{"role": "user", "content": row.query}],
        tools=specs,
        expect="calls" if calls else "no_call",
        expected=calls or None,
        category=("parallel" if len(calls) > 1 else "single") if calls else "irrelevance",
    )


# -- overlap with evaluation suites ------------------------------------------------------------


def normalise_prompt(text: str) -> str:
    """The form prompts are compared in: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _user_texts(sample: Sample) -> Iterable[str]:
    for message in sample.messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and content.strip():
            yield normalise_prompt(content)


def evaluation_suites() -> list[str]:
    """Every evaluation suite loadable here: all single-turn BFCL categories, the dev set, the
    regression set, and the public sets and xlam test split where a local copy is configured."""
    from redline.suites import bfcl_data as bd
    from redline.suites.registry import needs_network

    names = [f"bfcl:{c}" for c in bd.SINGLE_TURN_CATEGORIES]
    names += ["fc:dev", "regression"]
    names += [
        n
        for n in ("regression:ifeval", "regression:gsm8k", "regression:mmlu", "xlam:test")
        if not needs_network(n)
    ]
    return names


def evaluation_prompts(
    suites: Sequence[str], extra: dict[str, Sequence[Sample]] | None = None
) -> dict[str, str]:
    """Normalised user prompt -> the first suite that asks it."""
    from redline.suites.registry import load_suite

    prompts: dict[str, str] = {}
    for name in suites:
        for sample in load_suite(name).samples:
            for text in _user_texts(sample):
                prompts.setdefault(text, name)
    for name, samples in (extra or {}).items():
        for sample in samples:
            for text in _user_texts(sample):
                prompts.setdefault(text, name)
    return prompts


# -- negatives, split, writing ---------------------------------------------------------------


def make_negatives(samples: Sequence[Sample], share: float, rng: random.Random) -> list[Sample]:
    """Irrelevance items: a request paired with another item's tools, none of which it named
    or was offered, answered without a call. ``share`` is their fraction of the final set."""
    if not 0 <= share < 1:
        raise ValueError(f"negative share must be in [0, 1), got {share}")
    positives = [s for s in samples if s.expect == "calls"]
    want = round(share * len(samples) / (1 - share)) if share else 0
    if not positives or want == 0:
        return []
    out: list[Sample] = []
    for n in range(want * 4):  # a few tries per negative; some requests pair with nothing
        if len(out) == want:
            break
        query = positives[rng.randrange(len(positives))]
        donor = samples[rng.randrange(len(samples))]
        own = {t.name for t in query.tools} | {c.name for c in query.expected or []}
        if own & {t.name for t in donor.tools}:
            continue
        out.append(
            Sample(
                id=f"{query.id}_neg{n}",
                messages=query.messages,
                tools=donor.tools,
                expect="no_call",
                category="negative",
            )
        )
    return out


def split(samples: Sequence[Sample], seed: int = SPLIT_SEED) -> tuple[list[Sample], list[Sample]]:
    """A deterministic 90/10 train/val split."""
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    n_val = round(len(samples) * VAL_SHARE)
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return [samples[i] for i in train], [samples[i] for i in val]


def target_text(sample: Sample, mode: str) -> str:
    """What the model should answer: the expected calls in the mode's format, a general item's
    free-text reference, or a refusal."""
    if sample.expect == "answer":
        return sample.metadata["reference"]
    if sample.expect != "calls":
        return REFUSAL
    return format_calls(list(sample.expected or []), TARGET_FORMAT[mode])


def trl_row(sample: Sample, mode: str) -> dict[str, Any]:
    """A TRL conversational prompt-completion row, plus the columns redline's rewards read."""
    prompt_mode = get_mode(mode)
    return {
        "id": sample.id,
        "prompt": prompt_mode.messages(sample),
        "completion": [{"role": "assistant", "content": target_text(sample, mode)}],
        "tools": json.dumps([t.to_openai() for t in sample.tools], ensure_ascii=False),
        "answers": json.dumps(
            [{"name": c.name, "arguments": c.arguments} for c in sample.expected or []],
            ensure_ascii=False,
        ),
        "expect": sample.expect,
        "category": sample.category,
    }


def sharegpt_row(sample: Sample, mode: str) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT layout: a function_call turn, or a plain gpt turn for negatives
    and general items."""
    answer = (
        json.dumps(
            [{"name": c.name, "arguments": c.arguments} for c in sample.expected or []],
            ensure_ascii=False,
        )
        if sample.expect == "calls"
        else target_text(sample, mode)
    )
    return {
        "conversations": [
            {"from": "human", "value": sample.messages[-1]["content"]},
            {"from": "function_call" if sample.expect == "calls" else "gpt", "value": answer},
        ],
        "tools": json.dumps([t.to_openai()["function"] for t in sample.tools], ensure_ascii=False),
    }


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_prepared(prepared: Prepared, out: str | os.PathLike, mode: str) -> Path:
    """Write ``train.jsonl``/``val.jsonl`` (TRL), ``sharegpt/`` with ``dataset_info.json``,
    ``prepare_report.json`` and ``dropped.jsonl`` into ``out``."""
    folder = Path(out)
    (folder / "sharegpt").mkdir(parents=True, exist_ok=True)
    for name, samples in (("train", prepared.train), ("val", prepared.val)):
        _write_jsonl(folder / f"{name}.jsonl", (trl_row(s, mode) for s in samples))
        rows = [sharegpt_row(s, mode) for s in samples]
        (folder / "sharegpt" / f"{name}.json").write_text(
            json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    columns = {"messages": "conversations", "tools": "tools"}
    info = {
        f"redline_{name}": {
            "file_name": f"{name}.json",
            "formatting": "sharegpt",
            "columns": columns,
        }
        for name in ("train", "val")
    }
    (folder / "sharegpt" / "dataset_info.json").write_text(json.dumps(info, indent=2))
    _write_jsonl(folder / "dropped.jsonl", (asdict(d) for d in prepared.drops))
    (folder / "prepare_report.json").write_text(json.dumps(prepared.report(), indent=2))
    return folder


def prepare(
    source: str,
    mode: str = "json",
    negatives: float = DEFAULT_NEGATIVES,
    limit: int | None = None,
    builtin_size: int = 1200,
    seed: int = SPLIT_SEED,
    suites: Sequence[str] | None = None,
    general: str | None = None,
    general_share: float = 0.0,
    answerer: Any = None,
) -> Prepared:
    """Read, validate, de-duplicate, add negatives and general replay, and split; see the module
    docstring. ``general`` (builtin or a file, see redline.training.general) is mixed in at
    ``general_share`` of the final set; ``answerer`` answers its prompts that lack a response."""
    if mode not in TARGET_FORMAT:
        raise ValueError(f"unknown prompt mode {mode!r}; choose from {', '.join(TARGET_FORMAT)}")
    if not 0 <= general_share < 1:
        raise ValueError(f"general share must be in [0, 1), got {general_share}")
    if general_share and general is None:
        general = "builtin"
    rows, held_out = read_source(source, builtin_size)
    if limit is not None:
        rows = rows[:limit]
    suites = list(evaluation_suites() if suites is None else suites)
    extra = {"xlam:test": held_out} if held_out else {}
    asked = evaluation_prompts(suites, extra)
    kept: list[Sample] = []
    drops: list[Drop] = []
    unreadable: list[Drop] = []
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for row in rows:
        try:
            sample = validate_row(row)
        except _Dropped as drop:
            drops.append(Drop(row.id, drop.layer, drop.reason, where=row.where))
            if row.problem is not None:
                unreadable.append(drops[-1])
            continue
        text = normalise_prompt(sample.messages[-1]["content"])
        if text in asked:
            reason = f"asked by {asked[text]}"
            drops.append(Drop(row.id, "eval_overlap", reason, where=row.where))
            continue
        key = (text, tuple(sorted(t.name for t in sample.tools)))
        if key in seen:
            reason = f"same request and tools as: {seen[key]}"
            drops.append(Drop(row.id, "duplicate", reason, where=row.where))
            continue
        seen[key] = row.id
        kept.append(sample)
    added = make_negatives(kept, negatives, random.Random(seed))
    wanted = round(general_share * (len(kept) + len(added)) / (1 - general_share))
    replay = _general_replay(general, wanted, asked, drops, answerer)
    train, val = split(kept + added + replay, seed)
    settings = {
        "source": source,
        "mode": mode,
        "negatives": negatives,
        "limit": limit,
        "seed": seed,
        "builtin_size": builtin_size if source == "builtin" else None,
        "general": general if general_share else None,
        "general_share": general_share,
    }
    checked = [*suites, *extra]
    return Prepared(
        train, val, drops, len(rows), len(added), checked, settings, len(replay), wanted, unreadable
    )


def _general_replay(
    source: str | None, want: int, asked: dict[str, str], drops: list[Drop], answerer: Any
) -> list[Sample]:
    """Up to ``want`` general replay items, in the source's order (fewer when it runs out); a
    prompt an evaluation suite asks, or one repeated, is dropped (and reported) like any row."""
    from redline.training.general import read_general, replay_samples

    if not want or source is None:
        return []
    chosen, seen = [], set()
    for item in read_general(source):
        if len(chosen) == want:
            break
        text = normalise_prompt(item.prompt)
        if text in asked:
            drops.append(Drop(item.id, "eval_overlap", f"asked by {asked[text]}", general=True))
        elif text in seen:
            reason = "same general prompt as an earlier one"
            drops.append(Drop(item.id, "duplicate", reason, general=True))
        else:
            seen.add(text)
            chosen.append(item)
    samples, empty = replay_samples(chosen, answerer, source)
    reason = "the model gave an empty general answer"
    drops.extend(Drop(ident, "format", reason, general=True) for ident in empty)
    return samples
