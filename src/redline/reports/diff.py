"""A field-by-field diff of a sample's parsed calls against its expected calls, for reading:
calls lined up by name, values compared as JSON text (1 and 1.0 differ here). Not a scorer:
the verdicts shown beside it are the records' own scores.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from redline.records import Completion, Sample, canonical_json

MISSING_CALL = "missing call"
UNEXPECTED_CALL = "unexpected call"


@dataclass(frozen=True)
class ArgumentRow:
    call: str  # "name #k", k counting the calls of that name in the answer
    parameter: str
    expected: str
    got: str
    status: str  # equal, differs, missing, unexpected, optional (absent), missing/unexpected call


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _expected_calls(sample: Sample) -> list[tuple[str, dict[str, list[Any]]]]:
    """(name, {parameter: accepted values}) per expected call; BFCL answers list several
    accepted values per parameter, with "" meaning the parameter may be left out."""
    if sample.expected is not None:
        return [(c.name, {k: [v] for k, v in c.arguments.items()}) for c in sample.expected]
    out = []
    for item in sample.possible_answer or []:
        for name, params in item.items():
            accepted = {k: (v if isinstance(v, list) else [v]) for k, v in (params or {}).items()}
            out.append((name, accepted))
    return out


def argument_diff(sample: Sample, completion: Completion) -> list[ArgumentRow]:
    """One row per argument of every expected and every parsed call."""
    expected = _expected_calls(sample)
    parsed = list(completion.calls)
    used: set[int] = set()
    rows: list[ArgumentRow] = []
    seen: dict[str, int] = {}
    for name, accepted in expected:
        seen[name] = seen.get(name, 0) + 1
        label = f"{name} #{seen[name]}"
        match = next(
            (i for i, c in enumerate(parsed) if i not in used and c.name == name),
            None,
        )
        if match is None:
            rows.append(ArgumentRow(label, "", "(the call)", "(not made)", MISSING_CALL))
            continue
        used.add(match)
        given = parsed[match].arguments
        for param, values in accepted.items():
            optional = "" in values
            shown = " or ".join(_show(v) for v in values if v != "") or '""'
            if optional:
                shown += " (or left out)"
            if param not in given:
                status = "optional (absent)" if optional else "missing"
                rows.append(ArgumentRow(label, param, shown, "(not given)", status))
                continue
            got = canonical_json(given[param])
            status = "equal" if any(got == canonical_json(v) for v in values) else "differs"
            rows.append(ArgumentRow(label, param, shown, _show(given[param]), status))
        for param, value in given.items():
            if param not in accepted:
                rows.append(ArgumentRow(label, param, "(not expected)", _show(value), "unexpected"))
    for i, call in enumerate(parsed):
        if i in used:
            continue
        label = f"{call.name} (extra)"
        rows.append(ArgumentRow(label, "", "(no such call)", "(made)", UNEXPECTED_CALL))
        rows.extend(
            ArgumentRow(label, p, "(no such call)", _show(v), UNEXPECTED_CALL)
            for p, v in call.arguments.items()
        )
    return rows


def diff_rows(sample: Sample, completion: Completion) -> list[dict[str, str]]:
    """:func:`argument_diff` as plain dicts, for tables."""
    return [asdict(r) for r in argument_diff(sample, completion)]
