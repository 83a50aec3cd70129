"""The layering of STYLE.md, read from the source: the scoring core (records, schema, parsing,
metrics) imports nothing above it, parsing sits below the metrics, the harness does not import
the suites and the suites do not import the harness. Every import counts, inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import redline

PACKAGE = Path(redline.__file__).resolve().parent
CORE = ("records", "schema", "parsing", "metrics")
# What each part may not import (besides the core's rule): the rooms above it or beside it.
FORBIDDEN = {
    "parsing": ("metrics",),
    "harness": ("suites", "rewards", "training", "reports", "cli", "gate"),
    "suites": ("harness", "rewards", "training", "reports", "cli", "gate"),
    "gate": ("suites", "rewards", "training", "reports", "cli"),
    # The command line is the top floor: a library part never imports it.
    "rewards": ("cli",),
    "training": ("cli",),
    "reports": ("cli",),
}


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute name) of everything ``source`` (the text of ``module``) imports. For
    ``from a import b`` both ``a`` and ``a.b`` are listed, since ``b`` may be a module."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this module's package
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def room(name: str) -> str | None:
    """The part of redline a module name belongs to (``redline.harness.runs`` -> ``harness``);
    None outside redline or for a name that is no module of it (``redline.__version__``)."""
    parts = name.split(".")
    if parts[0] != "redline" or len(parts) < 2:
        return None
    head = parts[1]
    if (PACKAGE / head).is_dir() or (PACKAGE / f"{head}.py").is_file():
        return head
    return None


def violations(source: str, module: str, own: str, is_package: bool = False) -> list[str]:
    """The imports of ``module`` (in part ``own``) that break the layering, one per statement."""
    bad: dict[int, str] = {}
    for line, name in imported_modules(source, module, is_package):
        target = room(name)
        if target is None or target == own or line in bad:
            continue
        if own in CORE and target not in CORE:
            bad[line] = f"{module}:{line} imports {name} (the scoring core imports nothing above)"
        elif target in FORBIDDEN.get(own, ()):
            bad[line] = f"{module}:{line} imports {name} ({own} may not import {target})"
    return list(bad.values())


def _files(part: str) -> list[Path]:
    path = PACKAGE / part
    return sorted(path.rglob("*.py")) if path.is_dir() else [PACKAGE / f"{part}.py"]


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("part", [*CORE, "harness", "suites", "gate", *FORBIDDEN])
def test_each_part_imports_only_what_its_layer_allows(part):
    files = _files(part)
    assert all(f.is_file() for f in files) and files, f"redline.{part} is not where STYLE puts it"
    found, imports = [], 0
    for path in files:
        source = path.read_text(encoding="utf-8")
        is_package = path.name == "__init__.py"
        imports += len(imported_modules(source, _module(path), is_package))
        found += violations(source, _module(path), part, is_package)
    assert imports > 0  # the walk read real code, so an empty list below means something
    assert not found, "layering broken:\n" + "\n".join(found)


def test_only_the_command_line_imports_typer():
    # Every command lives in redline.cli; the packages below it are libraries without one.
    outside, imports = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "cli"):
            continue
        found = imported_modules(path.read_text(encoding="utf-8"), _module(path))
        imports += len(found)
        names = [name for _, name in found if name.partition(".")[0] == "typer"]
        outside += [f"{_module(path)} imports {name}" for name in names]
    assert imports > 0 and (PACKAGE / "cli" / "__init__.py").is_file()
    assert not outside, "\n".join(outside)


def test_the_moved_modules_leave_no_shim_behind():
    assert (PACKAGE / "parsing" / "__init__.py").is_file()
    assert not (PACKAGE / "harness" / "parsing.py").exists()
    assert not (PACKAGE / "suites" / "gate.py").exists()
    assert not (PACKAGE / "cli.py").exists()
    assert not (PACKAGE / "training" / "cli.py").exists()


@pytest.mark.parametrize(
    ("source", "module", "own", "expected"),
    [
        # function-level and relative imports count like the others
        ("def f():\n    from ..harness import runs\n", "redline.metrics.x", "metrics", 1),
        ("from redline import training\n", "redline.records", "records", 1),
        ("import redline.cli\n", "redline.parsing.json", "parsing", 1),
        ("from redline.metrics.scorers import x\n", "redline.parsing.json", "parsing", 1),
        ("from redline.suites.registry import Suite\n", "redline.harness.runner", "harness", 1),
        ("from redline.harness.runs import MANIFEST\n", "redline.suites.gate", "suites", 1),
        ("from . import common\n", "redline.parsing", "parsing", 0),
        ("from redline.records import Sample\nimport json\n", "redline.metrics.x", "metrics", 0),
        ("from redline import __version__\n", "redline.records", "records", 0),
        ("from redline.parsing import parse\n", "redline.metrics.x", "metrics", 0),
    ],
)
def test_the_check_sees_an_import_that_breaks_the_layering(source, module, own, expected):
    is_package = module == "redline.parsing"
    assert len(violations(source, module, own, is_package)) == expected


def test_the_registry_suite_is_what_the_runner_takes():
    from redline.harness.suite import Suite
    from redline.records import Sample, ToolCall
    from redline.suites.registry import Suite as RegistrySuite

    messages = [{"role": "user", "content": "p"}]
    sample = Sample(id="s0", messages=messages, expected=[ToolCall(name="f", arguments={})])
    assert isinstance(RegistrySuite("fc:x", "1", (sample,)), Suite)
    assert not isinstance(object(), Suite)
