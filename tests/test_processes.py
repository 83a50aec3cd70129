"""The suite's end-of-session process check (tests/processes.py), shown failing: a pytest run of
a small test file that leaks a `sleep` (and a `sleep` orphaned by its shell) ends in an error
naming each one, also under pytest-xdist, while a file that stops what it starts passes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.processes import run, start, stop, survivors

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = "from tests.processes import no_process_outlives_the_session  # noqa: F401\n"

# Each leaking test notes its leaked pid in pids.txt, so the outer test can kill it even when
# the check under test fails to.
LEAKS_A_SLEEP = """
from pathlib import Path
from tests.processes import running, start

def test_leaks_a_sleep():
    with Path("pids.txt").open("a") as pids:
        print(start(["sleep", "601"]).pid, file=pids)

def test_stops_what_it_starts():
    with running(["sleep", "603"]):
        pass
"""

LEAKS_AN_ORPHAN = """
import subprocess, time
from pathlib import Path
from tests.processes import start

def test_leaks_the_child_of_a_shell_that_exited():
    shell = start(["sh", "-c", "sleep 602 >/dev/null 2>&1 & echo $!"], stdout=subprocess.PIPE)
    pid = int(shell.communicate()[0])
    with Path("pids.txt").open("a") as pids:
        print(pid, file=pids)
    child = Path(f"/proc/{pid}/cmdline")
    while not child.read_bytes().startswith(b"sleep"):  # until the fork has become `sleep`
        time.sleep(0.01)
"""

TIDY = """
from tests.processes import running, start, stop

def test_block():
    with running(["sleep", "604"]):
        pass

def test_finalizer(request):
    proc = start(["sleep", "605"])
    request.addfinalizer(lambda: stop(proc))
"""


def inner_pytest(folder: Path, files: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    """pytest, in a process of its own, on `files` (name: source) with the suite's check."""
    (folder / "conftest.py").write_text(CONFTEST)
    for name, source in files.items():
        (folder / name).write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    pytest_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return run(
        [*pytest_command, "--rootdir", str(folder), *options, str(folder)],
        timeout=120,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def named_pids(output: str, seconds: str) -> set[int]:
    return {int(pid) for pid in re.findall(rf"pid (\d+): sleep {seconds}\b", output)}


@pytest.fixture
def leaked(tmp_path):
    """The pids the inner run's tests leaked; any still alive when the test ends is killed."""
    pids = tmp_path / "pids.txt"
    yield lambda: {int(line) for line in pids.read_text().split()}
    for pid in {int(line) for line in pids.read_text().split()} if pids.exists() else ():
        try:
            if psutil.Process(pid).name() == "sleep":
                os.kill(pid, signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


# One process: one check at its end names both. xdist, a file per worker: each worker's check
# names what that worker started, so the run has an error per worker.
@pytest.mark.parametrize(
    "options, errors", [((), "1 error"), (("-n", "2", "--dist", "loadfile"), "2 errors")]
)
def test_a_leaked_process_fails_the_session_naming_it(tmp_path, leaked, options, errors):
    files = {"test_a.py": LEAKS_A_SLEEP, "test_b.py": LEAKS_AN_ORPHAN}
    done = inner_pytest(tmp_path, files, *options)
    assert done.returncode == 1, done.stdout
    assert f"3 passed, {errors}" in done.stdout, done.stdout
    assert "started by the tests still alive at the end of the session" in done.stdout
    named = named_pids(done.stdout, "601") | named_pids(done.stdout, "602")
    assert len(leaked()) == 2 and named == leaked(), done.stdout
    assert "sleep 601 (started by test_a.py::test_leaks_a_sleep)" in done.stdout
    assert re.search(
        r"sleep 602 \(started by test_b.py::test_leaks_the_child_of_a_shell_that_exited, "
        r"child of pid \d+ \(sh -c sleep 602 ",
        done.stdout,
    ), done.stdout
    assert "sleep 603" not in done.stdout, "a stopped process is not reported"
    assert all(gone(pid) for pid in named), "the check kills what it reports"


def test_a_session_that_stops_what_it_starts_passes(tmp_path):
    done = inner_pytest(tmp_path, {"test_tidy.py": TIDY})
    assert done.returncode == 0, done.stdout
    assert "2 passed" in done.stdout and "still alive" not in done.stdout


def test_stop_reaches_the_children_of_a_process():
    shell = start(["sh", "-c", "sleep 606 & sleep 607 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(psutil.Process(shell.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        children = psutil.Process(shell.pid).children()
        assert len(children) == 2
    finally:
        stop(shell, grace=1)
    assert shell.returncode is not None
    assert all(gone(child.pid) for child in children)
    assert not [p for leader, p in survivors() if leader.pid == shell.pid]
