"""BFCL multi-turn environments: fresh instances of the benchmark's simulated API classes per
entry, and decoded calls executed against them by name, never by evaluating model text.

The classes are imported from the installed ``bfcl_eval`` package (its environment, like its data
files); results become strings by BFCL's rules so they can be fed back and compared.
"""

from __future__ import annotations

import ast
import copy
import enum
import importlib
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redline.parsing.python import parse_python
from redline.records import ToolCall

# Where BFCL keeps each class (its constants/executable_backend_config.CLASS_FILE_PATH_MAPPING);
# read from the package at first use so a newer bfcl-eval's map wins.
_CONFIG_MODULE = "bfcl_eval.constants.executable_backend_config"
# Names the official executor refuses before running anything (multi_turn_utils.py).
BLOCKED_NAMES = frozenset({"kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run"})
ERROR_PREFIX = "Error during execution: "


class BFCLEnvironmentError(RuntimeError):
    """An entry's environment cannot be built (unknown class, bfcl-eval missing)."""


class Refusal(enum.StrEnum):
    """Why a call was not run: each still gets BFCL's error string as its result."""

    blocked = "blocked"  # a name on BFCL's block list (kill, exit, remove, ...)
    unknown_function = "unknown_function"  # no public method of an involved class has that name
    invalid_name = "invalid_name"  # not a (dotted) Python identifier: would be code, not a name


@dataclass(frozen=True)
class Execution:
    """One executed call: the result string the model sees, and why it was refused (if it was)."""

    call: ToolCall
    result: str
    refused: Refusal | None = None


def _backend_config() -> tuple[dict[str, str], frozenset[str]]:
    """BFCL's class -> module map and its stateless classes (no scenario to load)."""
    try:
        config = importlib.import_module(_CONFIG_MODULE)
    except ImportError as err:
        raise BFCLEnvironmentError(
            f"multi-turn environments need the bfcl-eval package ({err}); pip install bfcl-eval"
        ) from err
    return dict(config.CLASS_FILE_PATH_MAPPING), frozenset(config.STATELESS_CLASSES)


def is_long_context(entry_id: str) -> bool:
    """BFCL passes ``long_context=True`` when the category in the id names long_context (or
    composite); the classes then pad their state and outputs."""
    category = entry_id.rsplit("_", 1)[0]
    return "long_context" in category or "composite" in category


def result_text(value: Any) -> str:
    """A method's return value as BFCL feeds it back: str as is, a dict as JSON (``str`` when it
    will not serialise), anything else through ``str``. Exact types, as BFCL tests them."""
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except Exception:  # BFCL falls back on any failure (objects in the dict, circularity)
            return str(value)
    return str(value)


def _is_dotted_identifier(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


class Environment:
    """The simulated APIs of one multi-turn entry: fresh instances of ``involved_classes``, each
    loaded with a deep copy of its ``initial_config``. Nothing is shared with other environments.
    """

    def __init__(
        self,
        involved_classes: Iterable[str],
        initial_config: Mapping[str, Any] | None = None,
        *,
        long_context: bool = False,
    ) -> None:
        modules, stateless = _backend_config()
        config = initial_config or {}
        self.instances: dict[str, Any] = {}
        # Method name -> instance. Later classes overwrite earlier ones, as BFCL's mapping does
        # (no two multi-turn classes share a method name, so this never decides in practice).
        self._methods: dict[str, Any] = {}
        for class_name in involved_classes:
            if class_name not in modules:
                raise BFCLEnvironmentError(
                    f"unknown BFCL class {class_name!r}; known: {', '.join(sorted(modules))}"
                )
            cls = getattr(importlib.import_module(modules[class_name]), class_name)
            instance = cls()
            if class_name not in stateless:  # MathAPI has no scenario, as BFCL lists it
                scenario = copy.deepcopy(config.get(class_name, {}))
                instance._load_scenario(scenario, long_context=long_context)
            self.instances[class_name] = instance
            for name, _ in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not name.startswith("_"):
                    self._methods[name] = instance

    @classmethod
    def for_entry(cls, entry: Mapping[str, Any]) -> Environment:
        """The environment of a BFCL multi-turn entry (its id decides long_context)."""
        return cls(
            entry["involved_classes"],
            entry.get("initial_config", {}),
            long_context=is_long_context(str(entry.get("id", ""))),
        )

    @property
    def function_names(self) -> list[str]:
        """Every public method name a call may use, sorted."""
        return sorted(self._methods)

    def _refusal(self, name: str) -> tuple[Refusal, str] | None:
        if not _is_dotted_identifier(name):
            return Refusal.invalid_name, f"{ERROR_PREFIX}invalid function name {name!r}"
        head, _, rest = name.partition(".")
        # BFCL checks the block list on the first segment after a dot (after it prefixed a known
        # method with its instance), else on the whole name.
        last = name.rpartition(".")[2]
        if rest:
            checked = "<instance>" if rest == last and last in self._methods else rest.split(".")[0]
        else:
            checked = name
        if checked in BLOCKED_NAMES:
            return Refusal.blocked, f"{ERROR_PREFIX}Function call {checked} is not allowed."
        if rest or name not in self._methods:
            # What BFCL's eval reports for a name it cannot find; a dotted name fails on its head.
            return Refusal.unknown_function, f"{ERROR_PREFIX}name {head!r} is not defined"
        return None

    def execute(self, call: ToolCall) -> Execution:
        """Run one call: a public method of an involved instance, keyword arguments only. Any
        exception it raises becomes BFCL's ``Error during execution: ...`` string."""
        refused = self._refusal(call.name)
        if refused is not None:
            return Execution(call, refused[1], refused[0])
        method = getattr(self._methods[call.name], call.name)
        try:
            # A copy: BFCL builds fresh values from the call text each time, and a method that
            # keeps an argument in its state must not alias the recorded call.
            value = method(**copy.deepcopy(call.arguments))
            return Execution(call, result_text(value))
        except Exception as err:  # the simulated APIs signal misuse by raising, as in BFCL
            return Execution(call, f"{ERROR_PREFIX}{err}")

    def execute_all(self, calls: Iterable[ToolCall]) -> list[Execution]:
        """Run calls in order (later ones see the state earlier ones left)."""
        return [self.execute(call) for call in calls]

    def state(self) -> dict[str, dict[str, Any]]:
        """Every public attribute of every instance, by class: what BFCL's state check compares."""
        return {
            name: {k: v for k, v in vars(instance).items() if not k.startswith("_")}
            for name, instance in self.instances.items()
        }


def _signature_of(env: Environment, name: str) -> inspect.Signature | None:
    instance = env._methods.get(name)
    return inspect.signature(getattr(instance, name)) if instance is not None else None


def _keywordise(node: ast.Call, env: Environment, positional: str) -> None:
    if not node.args:
        return
    if positional == "drop":
        node.args = []
        return
    name = node.func.id if isinstance(node.func, ast.Name) else None
    signature = _signature_of(env, name) if name else None
    if signature is None:
        raise ValueError(f"cannot name the positional arguments of {ast.unparse(node)!r}")
    params = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(node.args) > len(params):
        raise ValueError(f"too many positional arguments in {ast.unparse(node)!r}")
    node.keywords = [
        ast.keyword(arg=p, value=v) for p, v in zip(params, node.args, strict=False)
    ] + node.keywords
    node.args = []


def python_calls(text: str, env: Environment, *, positional: str = "drop") -> list[ToolCall]:
    """Calls from python-format text (``[f(a=1), g(2)]``) for ``env``, read with redline's parser.

    redline's parser takes keyword arguments only. ``positional`` says what happens to positional
    ones first: ``"drop"`` (the default) removes them, as BFCL's prompting decoder does to model
    output (``resolve_ast_call`` reads keywords only), so the call then runs without them;
    ``"bind"`` names them from the method's signature, which is how BFCL's ground truth runs (it is
    evaluated as written). Raises ValueError when the text is not a list of calls.
    """
    if positional not in ("bind", "drop"):
        raise ValueError(f"positional must be 'bind' or 'drop', not {positional!r}")
    source = text.strip()
    try:
        tree = ast.parse(source if source.startswith("[") else f"[{source}]", mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as err:
        raise ValueError(f"{text!r:.120} is not a python list of calls: {err}") from None
    if isinstance(tree.body, ast.List):
        for element in tree.body.elts:
            if isinstance(element, ast.Call):
                _keywordise(element, env, positional)
    completion = parse_python(ast.unparse(tree))
    if completion.parse_error is not None:
        raise ValueError(f"{text!r:.120}: {completion.parse_error.message}")
    return list(completion.calls)
