"""What the harness needs of a suite: its name, version, content hash and samples. A Protocol, so
the runner runs any suite without importing redline.suites, which sits beside the harness, not
below it; redline.suites.registry.Suite is the one the CLI and the training callback pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

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
