"""Loaders for public general-ability sets a user with network adds to the regression checks:
IFEval (``google/IFEval``), GSM8K (``openai/gsm8k``) and an MMLU subset (``cais/mmlu``), read
through HF ``datasets`` from the hub or from a local file in the same format.

Each row becomes an ``answer`` Sample whose checks are code (redline.metrics.checks). Loading
only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redline.records import Sample

# IFEval instructions whose checker needs NLTK's punkt data, which cannot be downloaded here:
# left out of an item's checks (the item keeps its other instructions).
NEEDS_PUNKT = frozenset({"length_constraints:number_sentences"})
LETTERS = "ABCDEFGHIJ"


class PublicSetError(ValueError):
    """A public set cannot be loaded or a row is malformed; the message names it."""


def _rows(source: str, hub: tuple[str, str | None, str]) -> Any:
    from datasets import load_dataset

    path = Path(source)
    if path.is_file():
        kind = "json" if path.suffix in (".json", ".jsonl") else path.suffix.lstrip(".")
        return load_dataset(kind, data_files=str(path), split="train")
    name, config, split = hub
    return (
        load_dataset(source, config, split=split)
        if source == name
        else load_dataset(source, split=split)
    )


def _ifeval(row: dict[str, Any], i: int) -> Sample:
    checks = [
        {
            "kind": "ifeval",
            "instruction_id": iid,
            "kwargs": {k: v for k, v in (kw or {}).items() if v is not None},
            "prompt": row["prompt"],
        }
        for iid, kw in zip(row["instruction_id_list"], row["kwargs"], strict=True)
        if iid not in NEEDS_PUNKT
    ]
    return Sample(
        id=f"ifeval_{row.get('key', i)}",
        messages=[{"role": "user", "content": row["prompt"]}],
        expect="answer",
        category="ifeval",
        metadata={"checks": checks or [{"kind": "contains_any", "answers": [""]}]},
    )


def _gsm8k(row: dict[str, Any], i: int) -> Sample:
    final = row["answer"].rsplit("####", 1)[-1].strip().replace(",", "")
    prompt = (
        f"{row['question']}\nSolve it step by step, then give the final number on the last line."
    )
    return Sample(
        id=f"gsm8k_{i:05d}",
        messages=[{"role": "user", "content": prompt}],
        expect="answer",
        category="gsm8k",
        metadata={"checks": [{"kind": "number", "value": float(final)}]},
    )


def _mmlu(row: dict[str, Any], i: int) -> Sample:
    choices = "\n".join(f"{LETTERS[j]}. {c}" for j, c in enumerate(row["choices"]))
    prompt = f"{row['question']}\n{choices}\nAnswer with the letter of the correct choice."
    return Sample(
        id=f"mmlu_{row.get('subject', 'x')}_{i:05d}",
        messages=[{"role": "user", "content": prompt}],
        expect="answer",
        category=f"mmlu_{row.get('subject', 'all')}",
        metadata={"checks": [{"kind": "choice", "letter": LETTERS[int(row["answer"])]}]},
    )


SETS: dict[
    str, tuple[str, tuple[str, str | None, str], Callable[[dict[str, Any], int], Sample]]
] = {
    # name: (environment variable for a local copy, (hub id, config, split), row converter)
    "ifeval": ("REDLINE_IFEVAL", ("google/IFEval", None, "train"), _ifeval),
    "gsm8k": ("REDLINE_GSM8K", ("openai/gsm8k", "main", "test"), _gsm8k),
    "mmlu": ("REDLINE_MMLU", ("cais/mmlu", "all", "test"), _mmlu),
}


def source_of(name: str) -> str:
    env, (hub_id, _, _), _ = SETS[name]
    return os.environ.get(env) or hub_id


def load_public(name: str, limit: int | None = None) -> list[Sample]:
    """The rows of public set ``name`` (ifeval, gsm8k, mmlu) as regression Samples."""
    if name not in SETS:
        raise PublicSetError(f"unknown public set {name!r}; known: {', '.join(SETS)}")
    env, hub, convert = SETS[name]
    source = source_of(name)
    try:
        rows = _rows(source, hub)
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; say which source
        offline = "" if env in os.environ else f"; set {env} to a local copy to work offline"
        raise PublicSetError(f"cannot load {name} from {source}: {exc}{offline}") from exc
    samples = []
    for i, row in enumerate(rows):
        if limit is not None and i >= limit:
            break
        try:
            samples.append(convert(row, i))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise PublicSetError(
                f"{name} row {i} from {source}: {type(exc).__name__}: {exc}"
            ) from exc
    return samples
