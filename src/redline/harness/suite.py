"""What the harness needs of a suite: its name, version, hashes, samples and how they were
chosen from the whole suite (a run folder's identity). A Protocol, so the runner runs any suite
without importing redline.suites, which sits beside the harness, not below it;
redline.suites.registry.Suite is the one the CLI and the training callback pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from redline.records import Sample


@runtime_checkable
class Suite(Protocol):
    """A named, versioned set of samples, as a run's manifest records it."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def content_hash(self) -> str: ...

    @property
    def samples(self) -> Sequence[Sample]: ...

    @property
    def suite_hash(self) -> str:
        """Hash of the whole suite, whatever part of it is held."""
        ...

    @property
    def selection(self) -> dict[str, Any]:
        """How the samples were chosen (``{limit, draw_seed, of, partial}`` or ``{first}``);
        empty for the whole suite."""
        ...

    @property
    def sample_ids(self) -> list[str] | None:
        """The ids held when they are a part of the suite; None when they are all of it."""
        ...
