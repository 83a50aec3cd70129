"""Shared fixtures: BFCL data from the bfcl-eval package, the official checker, and the
end-of-session check that no process a test started is still alive (tests/processes.py)."""

from __future__ import annotations

import pytest

from redline.suites import bfcl_data
from tests.processes import no_process_outlives_the_session  # noqa: F401  (autouse, session)


@pytest.fixture(scope="session")
def official_checker():
    return bfcl_data.load_official_checker()


@pytest.fixture(scope="session")
def python_language():
    from bfcl_eval.constants.enums import Language

    return Language.PYTHON


@pytest.fixture(scope="session")
def explore_runs(tmp_path_factory):
    """The runs folder of tests/explore_runs.py, built once per test process."""
    from tests.explore_runs import build_runs

    return build_runs(tmp_path_factory.mktemp("explore") / "runs")
