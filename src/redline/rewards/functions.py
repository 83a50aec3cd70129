"""TRL-shaped reward functions: a metric's per-sample score, shaped for training.

Each reward is called by trl's ``GRPOTrainer`` as ``f(prompts, completions, **columns)`` and
returns one ``float | None`` per completion. Scoring rules live in redline.metrics; this module
only builds samples from dataset columns, parses completions and maps scores to rewards.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from redline.metrics.scorers import RULES, Outcome, Prepared
from redline.parsing import PARSERS, parse, parse_openai_message
from redline.records import Completion, ErrorType, Sample, ToolCall, ToolSpec, error_text

logger = logging.getLogger("redline.rewards")

# Dataset columns the rewards read (TRL passes every column but "prompt" as a keyword list).
COLUMNS = {
    "tools": "the offered tools: a list of tool objects (OpenAI, bare or BFCL form) or its JSON",
    "answers": 'the expected calls: a list of {"name", "arguments"} or its JSON (xlam\'s column); '
    "[] means no call is expected",
    "possible_answer": "optional: BFCL ground truth ([{name: {param: [accepted values]}}]), "
    "used instead of answers",
    "expect": 'optional: "calls", "no_call" (irrelevance) or "any_call" (relevance)',
    "bfcl_category": "optional: the BFCL category, for BFCL-exact AST rewards",
}
_NEEDS_TOOLS = {"schema_hit", "exec", "ast"}


def completion_of(completion: Any, fmt: str = "auto") -> Completion:
    """A TRL completion (text, or a conversational message list) parsed into a Completion."""
    if isinstance(completion, str):
        return parse(completion, fmt)
    message = completion
    if isinstance(completion, list):
        assistant = [m for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
        message = assistant[-1] if assistant else (completion[-1] if completion else {})
    if not isinstance(message, dict):
        raise TypeError(
            f"a completion is a string or a list of messages, got {type(completion).__name__}"
        )
    if message.get("tool_calls"):
        return parse_openai_message(message)
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return parse(content, fmt)


def _loaded(value: Any, column: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"column {column!r} holds text that is not JSON: {exc}") from exc
    return _without_nulls(value, column)


def _without_nulls(value: Any, column: str) -> Any:
    """A column value given as objects, without its objects' null fields.

    A datasets column of nested objects has one Arrow struct type for every row, so each row
    gets every key that any row has, None where it had none: tools would gain null parameter
    schemas and answers null arguments. Those nulls are Arrow's, not the author's, and cannot be
    told apart from an author's; JSON text keeps the author's (said once)."""
    dropped = False

    def walk(item: Any) -> Any:
        nonlocal dropped
        if isinstance(item, dict):
            kept = {}
            for key, sub in item.items():
                if sub is None:
                    dropped = True
                else:
                    kept[key] = walk(sub)
            return kept
        if isinstance(item, list):
            return [walk(sub) for sub in item]
        return item

    out = walk(value)
    global _NULLS_SAID
    if dropped and not _NULLS_SAID:
        _NULLS_SAID = True
        logger.warning(
            "column %r holds objects with null fields, as a datasets column of nested objects "
            "does (each row gets every key of every row, None where it had none): the rewards "
            "drop them. Store tools and answers as JSON text to keep a null you meant.",
            column,
        )
    return out


_NULLS_SAID = False


def _tools(value: Any) -> list[ToolSpec]:
    return [ToolSpec.model_validate(t) for t in _loaded(value or [], "tools")]


def _sample_from_row(row: dict[str, Any]) -> Sample:
    tools = _tools(row.get("tools"))
    possible = row.get("possible_answer")
    possible = _loaded(possible, "possible_answer") if possible is not None else None
    answers = row.get("answers")
    expected = None
    if answers is not None:
        expected = [ToolCall.model_validate(c) for c in _loaded(answers, "answers")]
    expect = row.get("expect") or ("no_call" if possible is None and expected == [] else "calls")
    return Sample(
        id="reward",
        messages=[],
        tools=tools,
        expect=expect,
        expected=expected,
        possible_answer=possible,
        bfcl_category=row.get("bfcl_category"),
    )


def _row_key(value: Any) -> Any:
    return value if isinstance(value, (str, type(None))) else json.dumps(value, sort_keys=True)


# A shape maps the rules' outcomes (by scorer name; each has .value, .error_type, .detail) and
# the sample to the reward.
Shape = Callable[[Mapping[str, Outcome], Sample], float | None]


class RewardFunction:
    """A reward TRL can call. Never raises on a completion: an internal error gives ``None`` for
    that completion (TRL leaves it out), is counted in ``errors`` and logged once. A completion
    that cannot be scored because its sample is malformed also gives ``None`` (``unscored``).

    The scorers run as redline.metrics' rules: the same verdicts as the metric scorers.
    """

    def __init__(
        self,
        name: str,
        scorers: Sequence[str],
        shape: Shape,
        reward_range: tuple[float, float] = (0.0, 1.0),
        fmt: str = "auto",
        config: dict[str, Any] | None = None,
        blind_to: Mapping[str, str] | None = None,
    ) -> None:
        if fmt != "auto" and fmt not in PARSERS:
            raise ValueError(f"unknown output format {fmt!r}; choose auto, {', '.join(PARSERS)}")
        unknown = [s for s in scorers if s not in RULES]
        if unknown:
            raise ValueError(f"unknown scorer(s) {unknown}; known: {', '.join(RULES)}")
        self.__name__ = name
        self.scorers = tuple(scorers)
        self._rules = tuple((s, RULES[s]) for s in self.scorers)
        self.shape = shape
        self.reward_range = reward_range
        self.fmt = fmt
        self.config = {"name": name, "fmt": fmt, **(config or {})}
        # The mistakes that change what an answer means which this reward does not look at, by
        # design, with why (redline.rewards.testing holds a reward to seeing the others).
        self.blind_to = dict(blind_to or {})
        self.errors = 0
        self.unscored = 0
        self._logged: set[str] = set()

    def __repr__(self) -> str:
        return f"<reward {self.__name__} fmt={self.fmt}>"

    def score(self, completion: Any, row: dict[str, Any]) -> float | None:
        """The reward of one completion given its dataset row (raises on internal errors)."""
        return self._reward(completion, Prepared(_sample_from_row(row)))[0]

    def _reward(self, completion: Any, prepared: Prepared) -> tuple[float | None, bool]:
        """The reward of one completion and whether its sample is malformed; raises on internal
        errors."""
        parsed = completion_of(completion, self.fmt)
        scores = {name: rule(prepared, parsed) for name, rule in self._rules}
        value = self.shape(scores, prepared.sample)
        if value is None:
            return None, any(s.error_type is ErrorType.invalid_sample for s in scores.values())
        if not math.isfinite(value):
            raise ValueError(f"reward {self.__name__} computed {value}")
        return value, False

    def _check_columns(self, columns: dict[str, Any]) -> None:
        # A missing column is a configuration error: say so at the first step, loudly.
        needed = []
        if _NEEDS_TOOLS & set(self.scorers) and "tools" not in columns:
            needed.append("tools")
        if not {"answers", "possible_answer", "expect"} & set(columns):
            needed.append("answers")
        if needed:
            raise ValueError(
                f"reward {self.__name__} needs the dataset column(s) {needed}; the columns "
                f"rewards read: " + "; ".join(f"{k}: {v}" for k, v in COLUMNS.items())
            )

    def __call__(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), **columns: Any
    ) -> list[float | None]:
        self._check_columns(columns)
        completions = list(completions)  # any iterable, as before
        count = len(completions)
        given = {c: columns[c] for c in COLUMNS if c in columns}
        for c, values in given.items():
            if len(values) < count:
                raise IndexError(f"column {c!r} has {len(values)} values for {count} completions")
        rewards: list[float | None] = []
        failed = unscored = 0
        # A GRPO group's completions share their prompt's row: its sample is built once a call.
        samples: dict[tuple, Prepared] = {}
        for index, completion in enumerate(completions):
            row = {c: values[index] for c, values in given.items()}
            try:
                key = tuple(map(_row_key, row.values()))
                prepared = samples.get(key)
                if prepared is None:
                    prepared = samples[key] = Prepared(_sample_from_row(row))
                value, malformed = self._reward(completion, prepared)
            except Exception as exc:  # noqa: BLE001 - a training step must never die here
                value, malformed = None, False
                failed += 1
                self._log_once(exc, index, completion, row)
            if value is None and malformed:
                unscored += 1
            rewards.append(value)
        self.errors += failed
        self.unscored += unscored
        log_metric = columns.get("log_metric")
        if failed and callable(log_metric):
            log_metric(f"redline/{self.__name__}/errors", float(failed))
        return rewards

    def _log_once(self, exc: Exception, index: int, completion: Any, row: dict[str, Any]) -> None:
        kind = type(exc).__name__
        if kind in self._logged:
            return
        self._logged.add(kind)
        logger.warning(
            "reward %s could not score completion %d (%s: %s); it gets None, and later %s errors "
            "are only counted. completion=%.500r row=%.500r",
            self.__name__,
            index,
            kind,
            exc,
            kind,
            completion,
            row,
        )


# --- the rewards ---------------------------------------------------------------------------------


def _value_of(name: str) -> Shape:
    def shape(scores: Mapping[str, Outcome], sample: Sample) -> float | None:
        return scores[name].value

    return shape


def _abstain(scores: Mapping[str, Outcome], sample: Sample) -> float | None:
    if sample.expect == "no_call":
        return 1.0 if scores["irrelevance"].value == 1.0 else -1.0
    # A call was needed: refusing (no call at all) is penalised; calling is neutral here, the
    # content is judged by the other rewards.
    return -1.0 if scores["parse"].error_type is ErrorType.no_call else 0.0


def _toolrl(scores: Mapping[str, Outcome], sample: Sample) -> float | None:
    correctness = scores["toolrl"].value
    if correctness is None:
        return None
    fmt = scores["format_strict"].value
    if fmt is None:  # irrelevance: the right format is no call
        fmt = correctness
    return 6.0 * correctness - 3.0 + fmt


def _single(name: str, scorer: str, fmt: str = "auto") -> RewardFunction:
    shape = _value_of(scorer)
    blind = BLIND_TO.get(name)
    return RewardFunction(name, (scorer,), shape, (0.0, 1.0), fmt, blind_to=blind)


_MEANING = ("drop_required", "wrong_type", "wrong_value", "rename_function")
# What each reward does not look at among the mistakes that change an answer's meaning (the
# battery's meaning corruptions), and why: a tie there is the reward's design, not a flaw.
BLIND_TO: dict[str, dict[str, str]] = {
    "parse": dict.fromkeys(_MEANING, "parse asks only whether the calls parse"),
    "schema_hit": dict.fromkeys(
        ("wrong_type", "wrong_value"),
        "schema_hit asks only that each call names an offered tool and gives its required "
        "parameters",
    ),
    "exec": {
        "wrong_value": "exec asks only that the arguments validate against the schema, which a "
        "wrong value of the right type does"
    },
    "format_strict": dict.fromkeys(_MEANING, "format_strict judges the output's form only"),
    "abstain": dict.fromkeys(_MEANING, "abstain judges only whether a call was made"),
}


def make_reward(name: str, fmt: str = "auto", spec: Any = None) -> RewardFunction:
    """Build the reward called ``name`` (see REWARD_NAMES); ``spec`` only for ``composite``."""
    if name == "composite":
        return make_composite(DEFAULT_SPEC if spec is None else spec, fmt=fmt)
    if spec is not None:
        raise ValueError(f"reward {name!r} takes no spec")
    if name in _SINGLE:
        return _single(name, _SINGLE[name], fmt)
    if name == "abstain":
        return RewardFunction(
            "abstain",
            ("irrelevance", "parse"),
            _abstain,
            (-1.0, 1.0),
            fmt,
            blind_to=BLIND_TO["abstain"],
        )
    if name == "toolrl":
        return RewardFunction("toolrl", ("toolrl", "format_strict"), _toolrl, (-3.0, 4.0), fmt)
    raise ValueError(f"unknown reward {name!r}; known: {', '.join(REWARD_NAMES)}")


_SINGLE = {
    "parse": "parse",
    "schema_hit": "schema_hit",
    "exec": "exec",
    "semantic_f1": "semantic_f1",
    "ast_match": "ast",
    "format_strict": "format_strict",
}
REWARD_NAMES = (*_SINGLE, "abstain", "toolrl", "composite")


class Component(BaseModel):
    """One line of a composite spec: ``- {name: semantic_f1, weight: 0.25}``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    weight: float


# The seed's reward: parse, schema hit, exec and semantic F1 at 0.25 each.
DEFAULT_SPEC = [
    {"name": "parse", "weight": 0.25},
    {"name": "schema_hit", "weight": 0.25},
    {"name": "exec", "weight": 0.25},
    {"name": "semantic_f1", "weight": 0.25},
]


def load_spec(spec: Any) -> list[Component]:
    """A composite spec from a YAML file path, YAML text, or a list of ``{name, weight}``."""
    where = "spec"
    if isinstance(spec, Path) or (
        isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml"))
    ):
        where = str(spec)
        try:
            spec = yaml.safe_load(Path(spec).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read reward spec {where}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ValueError(f"{where}: not valid YAML: {exc}") from exc
    elif isinstance(spec, str):
        spec = yaml.safe_load(spec)
    if not isinstance(spec, list) or not spec:
        raise ValueError(f"{where}: a reward spec is a non-empty list of {{name, weight}}")
    components = []
    for i, item in enumerate(spec):
        try:
            component = Component.model_validate(item)
        except ValidationError as exc:
            raise ValueError(f"{where}: item {i}: {error_text(exc)} ({item!r})") from exc
        if component.name not in REWARD_NAMES or component.name == "composite":
            known = ", ".join(n for n in REWARD_NAMES if n != "composite")
            raise ValueError(
                f"{where}: item {i}: unknown reward {component.name!r}; known: {known}"
            )
        if not math.isfinite(component.weight):
            raise ValueError(f"{where}: item {i}: weight must be a finite number")
        components.append(component)
    if sum(c.weight for c in components) == 0:
        # The composite scales the weights that apply up to the full total: a total of 0
        # would give every completion 0 or None.
        raise ValueError(f"{where}: the weights sum to 0; the composite would score nothing")
    return components


def make_composite(spec: Any = None, fmt: str = "auto", name: str = "composite") -> RewardFunction:
    """A weighted sum of rewards. Components that do not apply to a sample (None) are left out
    and the others' weights scaled up to the full total, so the scale stays the same; when none
    applies the composite is None."""
    components = load_spec(DEFAULT_SPEC if spec is None else spec)
    parts = [(make_reward(c.name, fmt), c.weight) for c in components]
    scorers = tuple(dict.fromkeys(s for reward, _ in parts for s in reward.scorers))
    total = sum(w for _, w in parts)

    def shape(scores: Mapping[str, Outcome], sample: Sample) -> float | None:
        value, weight = 0.0, 0.0
        for reward, w in parts:  # a part reads its own scorers' outcomes only
            part = reward.shape(scores, sample)
            if part is not None:
                value += w * part
                weight += w
        if weight == 0.0:
            return None
        return value * (total / weight)

    low = sum(min(w * r.reward_range[0], w * r.reward_range[1]) for r, w in parts)
    high = sum(max(w * r.reward_range[0], w * r.reward_range[1]) for r, w in parts)
    spec_out = [c.model_dump() for c in components]
    # A composite sees what any part with a weight sees.
    weighted = [reward.blind_to for reward, w in parts if w != 0]
    blind = {
        corruption: "none of its weighted parts looks at it"
        for corruption in _MEANING
        if all(corruption in part for part in weighted)
    }
    return RewardFunction(
        name,
        scorers,
        shape,
        (low, high),
        fmt,
        config={"spec": spec_out},
        blind_to=blind,
    )
