"""The suite registry: every suite by name, with its version and a hash of its content.

Loading only; generation and scoring are elsewhere. A suite's version changes when its data,
prompt or scorer changes (STYLE rule 7); the content hash catches what a version bump missed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Callable
from dataclasses import dataclass

from redline.records import Sample
from redline.suites import bfcl_data as bd

BFCL_GROUPS: dict[str, tuple[str, ...]] = {
    "non_live": bd.NON_LIVE_CATEGORIES,
    "live": bd.LIVE_CATEGORIES,
    "single_turn": bd.SINGLE_TURN_CATEGORIES,
}


class SuiteError(ValueError):
    """A suite cannot be found or loaded; the message names it and what is known."""


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    samples: tuple[Sample, ...]

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for sample in self.samples:
            digest.update(sample.model_dump_json().encode())
            digest.update(b"\n")
        return digest.hexdigest()[:16]


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
    name: str, limit: int | None = None, bfcl_data: str | os.PathLike | None = None
) -> Suite:
    """Load suite ``name``; ``limit`` keeps its first N samples."""
    if name not in suite_names():
        raise SuiteError(f"unknown suite {name!r}; known: {', '.join(suite_names())}")
    if name == "fc:dev":
        from redline.suites import devset

        samples, version = devset.generate_dev_set(), f"fc-dev@{devset.VERSION}"
    elif name in ("regression:ifeval", "regression:gsm8k", "regression:mmlu"):
        from redline.suites import public

        public_name = name.partition(":")[2]
        try:
            samples = public.load_public(public_name, limit=limit)
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
    if limit is not None:
        samples = samples[:limit]
    return Suite(name, version, tuple(samples))
