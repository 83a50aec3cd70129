"""The suite registry: every suite by name, with its version and a hash of its content, and the
part of a suite a run takes (``--limit``: a seeded draw stratified by category; ``--first``).

Loading only; generation and scoring are elsewhere. A suite's version changes when its data,
prompt or scorer changes (STYLE rule 7); the content hash catches what a version bump missed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redline.records import Sample
from redline.suites import bfcl_data as bd

BFCL_GROUPS: dict[str, tuple[str, ...]] = {
    "non_live": bd.NON_LIVE_CATEGORIES,
    "live": bd.LIVE_CATEGORIES,
    "single_turn": bd.SINGLE_TURN_CATEGORIES,
}


class SuiteError(ValueError):
    """A suite cannot be found or loaded; the message names it and what is known."""


def _content_hash(samples: Sequence[Sample]) -> str:
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(sample.model_dump_json().encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Suite:
    """A suite's samples, or the part of them a run takes (``selection`` says how; empty when
    the run takes them all)."""

    name: str
    version: str
    samples: tuple[Sample, ...]
    selection: dict[str, Any] = field(default_factory=dict)
    whole_hash: str | None = None  # content hash of the whole suite when only a part is held

    @property
    def content_hash(self) -> str:
        """Hash of the samples held."""
        return _content_hash(self.samples)

    @property
    def suite_hash(self) -> str:
        """Hash of the whole suite, whatever part is held: a larger limit runs the same suite."""
        return self.whole_hash or self.content_hash

    @property
    def sample_ids(self) -> list[str] | None:
        """The ids held when they are a part of the suite; None when they are all of it."""
        return [s.id for s in self.samples] if self.selection.get("partial") else None


def _draw_key(seed: int, sample_id: str) -> bytes:
    # A hash rather than random.shuffle: the order of a category does not depend on the suite's
    # order or on Python's generator, and adding a sample does not reorder the others.
    return hashlib.sha256(f"{seed}\0{sample_id}".encode()).digest()


def draw_order(samples: Sequence[Sample], seed: int = 0) -> list[Sample]:
    """Every sample in the order a ``--limit`` takes them: the first N are the draw of N.

    Within a category the order is seeded. Between categories, each next sample goes to the
    category with the smallest share drawn so far (count / size; ties to the larger category,
    then by name): every category is drawn once before any is drawn twice, and after that the
    counts follow the categories' sizes (never above the proportional count rounded up). Since
    the draw of N is a prefix of one order, a larger N keeps every sample of a smaller one.
    """
    by_category: dict[str, list[Sample]] = {}
    for sample in samples:
        by_category.setdefault(sample.category, []).append(sample)
    queues = {
        c: sorted(rows, key=lambda s: _draw_key(seed, s.id)) for c, rows in by_category.items()
    }
    taken = dict.fromkeys(queues, 0)
    order: list[Sample] = []
    for _ in range(len(samples)):
        category = min(
            (c for c in queues if taken[c] < len(queues[c])),
            key=lambda c: (taken[c] / len(queues[c]), -len(queues[c]), c),
        )
        order.append(queues[category][taken[category]])
        taken[category] += 1
    return order


def select(
    samples: Sequence[Sample], limit: int | None = None, first: int | None = None, seed: int = 0
) -> tuple[list[Sample], dict[str, Any]]:
    """The part of ``samples`` a run takes, in the suite's order, and how it was chosen.

    ``limit``: a draw of N stratified by category (see :func:`draw_order`); ``first``: the first
    N in the suite's order. At most one of them.
    """
    if limit is not None and first is not None:
        raise SuiteError("give a limit (a draw by category) or a first N, not both")
    if limit is not None:
        chosen = {s.id for s in draw_order(samples, seed)[:limit]}
        part = [s for s in samples if s.id in chosen]
        how: dict[str, Any] = {"limit": limit, "draw_seed": seed}
    elif first is not None:
        part, how = list(samples[:first]), {"first": first}
    else:
        return list(samples), {}
    return part, {**how, "of": len(samples), "partial": len(part) < len(samples)}


def _bfcl_version(data_dir: str | os.PathLike | None) -> str:
    if data_dir is not None or os.environ.get(bd.ENV_VAR):
        return f"bfcl-{bd.VERSION}@custom"
    try:
        return f"bfcl-{bd.VERSION}@{importlib.metadata.version('bfcl-eval')}"
    except importlib.metadata.PackageNotFoundError:
        return f"bfcl-{bd.VERSION}@unknown"


def _bfcl_loader(categories: tuple[str, ...]) -> Callable[[str | os.PathLike | None], list[Sample]]:
    def load(data_dir: str | os.PathLike | None) -> list[Sample]:
        return [s for c in categories for s in bd.load_samples(c, data_dir)]

    return load


REGRESSION_PARTS = ("instructions", "format", "knowledge", "arithmetic", "multilingual")
OTHER_SUITES = (
    "fc:dev",
    "xlam",  # = xlam:test
    "xlam:test",
    "xlam:train",
    "regression",
    *(f"regression:{part}" for part in REGRESSION_PARTS),
    "regression:ifeval",
    "regression:gsm8k",
    "regression:mmlu",
)


def suite_names() -> list[str]:
    """Every registered suite name."""
    names = [f"bfcl:{c}" for c in bd.SINGLE_TURN_CATEGORIES]
    return [*names, *(f"bfcl:{g}" for g in BFCL_GROUPS), *OTHER_SUITES]


def local_copy_variable(name: str) -> str | None:
    """The environment variable that names a local copy of hub suite ``name`` (None for a
    suite that ships with redline)."""
    from redline.suites import public, xlam

    if name.startswith("xlam"):
        return xlam.ENV_VAR
    public_name = name.partition(":")[2]
    if name.startswith("regression:") and public_name in public.SETS:
        return public.SETS[public_name][0]
    return None


def needs_network(name: str) -> bool:
    """Whether loading ``name`` would reach the hub (xlam or a public set without a local copy)."""
    variable = local_copy_variable(name)
    return variable is not None and not os.environ.get(variable)


def load_suite(
    name: str,
    limit: int | None = None,
    bfcl_data: str | os.PathLike | None = None,
    *,
    first: int | None = None,
    draw_seed: int = 0,
) -> Suite:
    """Load suite ``name``; ``limit`` keeps a seeded draw of N samples stratified by category
    (seeded by ``draw_seed``), ``first`` its first N samples (see :func:`select`)."""
    if name not in suite_names():
        raise SuiteError(f"unknown suite {name!r}; known: {', '.join(suite_names())}")
    if name == "fc:dev":
        from redline.suites import devset

        samples, version = devset.generate_dev_set(), f"fc-dev@{devset.VERSION}"
    elif name in ("regression:ifeval", "regression:gsm8k", "regression:mmlu"):
        from redline.suites import public

        public_name = name.partition(":")[2]
        try:
            samples = public.load_public(public_name)
        except public.PublicSetError as exc:
            raise SuiteError(str(exc)) from exc
        version = f"{public_name}@{public.source_of(public_name)}"
    elif name.startswith("regression"):
        from redline.suites import regression

        part = name.partition(":")[2]
        samples = [
            s for s in regression.generate_regression_set() if not part or s.category == part
        ]
        version = f"regression@{regression.ITEMS_VERSION}"
    elif name.startswith("xlam"):
        from redline.suites import xlam

        try:
            samples = xlam.load_xlam(name.partition(":")[2] or "test")
        except xlam.XlamError as exc:
            raise SuiteError(str(exc)) from exc
        source = os.environ.get(xlam.ENV_VAR) or xlam.HUB_ID
        version = f"xlam@{source}#split{xlam.SPLIT_SEED}"
    else:
        key = name.split(":", 1)[1]
        try:
            samples = _bfcl_loader(BFCL_GROUPS.get(key, (key,)))(bfcl_data)
        except bd.BFCLDataError as exc:
            raise SuiteError(str(exc)) from exc
        version = _bfcl_version(bfcl_data)
    part, selection = select(samples, limit, first, draw_seed)
    whole = _content_hash(samples) if selection.get("partial") else None
    return Suite(name, version, tuple(part), selection, whole)
