"""requirements.lock, what `make setup` installs: exact pins only, each within pyproject.toml's
ranges (so a range changed without `make lock` is caught), torch the CPU build, and the data
packages the Makefile names."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("train", "serve", "dev", "explore")


def lock_pins(text: str) -> dict[str, Version]:
    """name -> version of every requirement line; anything but `name==version` is an error."""
    pins = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        assert match, f"requirements.lock:{number}: not an exact pin: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in pins, f"requirements.lock:{number}: {name} pinned twice"
        pins[name] = Version(match[2])
    return pins


@pytest.fixture(scope="module")
def pins() -> dict[str, Version]:
    return lock_pins((ROOT / "requirements.lock").read_text())


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = project["build-system"]["requires"]
    extras = project["project"]["optional-dependencies"]
    wanted = project["project"]["dependencies"] + build
    return [Requirement(r) for r in wanted + [r for extra in EXTRAS for r in extras[extra]]]


def test_every_declared_requirement_is_pinned_within_its_range(pins):
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject.toml's "
            f"{requirement}: run make lock"
        )


def test_torch_is_the_cpu_build_and_meets_the_constraint(pins):
    constraint = Requirement(
        next(
            line
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.startswith("torch")
        )
    )
    assert pins["torch"].local == "cpu"
    assert constraint.specifier.contains(pins["torch"])
    assert not [name for name in pins if name.startswith("nvidia-")], "CUDA wheels are locked"


def test_the_data_packages_and_pip_are_pinned_as_the_makefile_says(pins):
    makefile = (ROOT / "Makefile").read_text()
    data = re.search(r"^DATA_PACKAGES := (.+)$", makefile, re.M)[1].split()
    tools = re.search(r"^LOCK_TOOLS := (.+)$", makefile, re.M)[1].split()
    for pin in data + [t for t in tools if t.startswith("pip==")]:
        name, version = pin.split("==")
        assert pins[canonicalize_name(name)] == Version(version), pin


def test_a_stale_or_loose_lock_is_caught():
    assert lock_pins("a==1.0\n# comment\nb==2.0  # via a\n") == {
        "a": Version("1.0"),
        "b": Version("2.0"),
    }
    with pytest.raises(AssertionError, match="requirements.lock:2: not an exact pin"):
        lock_pins("a==1.0\nb>=2\n")
    with pytest.raises(AssertionError, match="pinned twice"):
        lock_pins("a==1.0\nA==1.1\n")
