"""Processes the tests start: started through here, recorded, stopped by the caller's finalizer,
and checked at the end of the session, which fails when one of them (or anything it spawned) is
still alive, naming its pid, command line and the test that started it.

How a test starts a process:

    from tests.processes import run, running, start, stop

    with running([sys.executable, "-m", "http.server"], stdout=subprocess.DEVNULL) as proc:
        ...                     # stopped when the block ends, whatever fails

    @pytest.fixture(scope="module")
    def server():
        with running([...]) as proc:   # a fixture: yield inside the block
            yield proc

    done = run([...], timeout=60, stdout=subprocess.PIPE, text=True)   # to completion

    proc = start([...])         # when a block does not fit: pair it with a finalizer
    request.addfinalizer(lambda: stop(proc))

`start` takes `subprocess.Popen`'s arguments and puts the process in a session of its own, so
`stop` reaches its children too (`transformers serve` and `redline` spawn some). `stop` sends
SIGTERM to the whole group, waits `grace` seconds, then SIGKILL (`grace=0`: SIGKILL at once).

The check is the autouse session fixture `no_process_outlives_the_session`, made available to
the suite by importing it into tests/conftest.py. Its teardown runs after every other fixture
of the session, in each pytest-xdist worker for the processes that worker started; what it finds
alive is reported as an error at teardown of that worker's last test, and then killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
import pytest


@dataclass(frozen=True)
class Started:
    """One process started through `start`: its pid (also its session id), command line and
    the test that was running when it started."""

    pid: int
    command: str
    test: str


# Per interpreter, so per xdist worker: each worker checks the processes it started.
_started: dict[int, Started] = {}


def start(args: Sequence[str], **popen_kwargs) -> subprocess.Popen:
    """`subprocess.Popen(args, **popen_kwargs)` in a new session, recorded for the end check."""
    proc = subprocess.Popen(args, start_new_session=True, **popen_kwargs)
    test = re.sub(r" \((setup|call|teardown)\)$", "", os.environ.get("PYTEST_CURRENT_TEST", "?"))
    _started[proc.pid] = Started(proc.pid, " ".join(str(a) for a in args), test)
    return proc


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop `proc` and every process in its session: SIGTERM, `grace` seconds, SIGKILL. Safe to
    call twice or on a process that has already exited (its leftover children are still
    stopped)."""
    if grace > 0 and _signal_group(proc.pid, signal.SIGTERM):
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        _wait_group_gone(proc.pid, max(0.0, grace / 2))
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()  # reap it, so it is not left as a zombie
    _wait_group_gone(proc.pid, 5.0)


@contextmanager
def running(args: Sequence[str], grace: float = 10.0, **popen_kwargs) -> Iterator[subprocess.Popen]:
    """`start` on entry, `stop` on exit however the block ends."""
    proc = start(args, **popen_kwargs)
    try:
        yield proc
    finally:
        stop(proc, grace=grace)


def run(
    args: Sequence[str], timeout: float, grace: float = 5.0, **popen_kwargs
) -> subprocess.CompletedProcess:
    """Like `subprocess.run(args, timeout=timeout, ...)`, through `running`: on a timeout (which
    raises `subprocess.TimeoutExpired`) or any other error the process and its children are
    stopped. Pass `stdout=subprocess.PIPE` etc. to capture."""
    with running(args, grace=grace, **popen_kwargs) as proc:
        out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def survivors() -> list[tuple[Started, psutil.Process]]:
    """Live processes (zombies aside) in the session of a process started through `start`:
    the process itself, or a child of it that outlived its parent."""
    alive = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            leader = _started.get(os.getsid(proc.pid))
        except (ProcessLookupError, PermissionError):
            continue
        if leader is not None and proc.info["status"] != psutil.STATUS_ZOMBIE:
            alive.append((leader, proc))
    return alive


def _describe(leader: Started, proc: psutil.Process) -> str:
    try:
        command = " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        command = "?"
    of = "" if proc.pid == leader.pid else f", child of pid {leader.pid} ({leader.command})"
    return f"pid {proc.pid}: {command} (started by {leader.test}{of})"


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_session() -> Iterator[None]:
    """Fails the session when a process started through `start` is still alive at its end."""
    yield
    left = survivors()
    if not left:
        return
    names = "\n".join(f"  {_describe(leader, proc)}" for leader, proc in left)
    for _, proc in left:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    pytest.fail(
        f"{len(left)} process(es) started by the tests still alive at the end of the session "
        f"(killed now; stop each in a finalizer, see tests/processes.py):\n{names}",
        pytrace=False,
    )


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the process group; False when nothing is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
