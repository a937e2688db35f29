"""Lock files as another run would leave them (jobs/runtime/lock.py), for the lock tests of every tier.

`live_holder` starts a real process (`sleep`) and writes the lock as that process would have taken it, so
the command under test meets a holder that is alive on this host without a second Spark run.
`dead_holder` writes the lock of a process that has already ended (a run that was killed).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.runtime.lock import Holder, encode, process_start

STARTED = "2026-04-01T09:00:00+00:00"


def holder(pid: int, command: str, release_id: str | None = None, host: str | None = None) -> Holder:
    return Holder(command, release_id, host or socket.gethostname(), pid, process_start(pid), "operator-a", STARTED)


def write_lock(path: Path, who: Holder) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = encode(who)
    path.write_bytes(data)
    return data


@contextmanager
def live_holder(path: Path, command: str, release_id: str | None = None) -> Iterator[Holder]:
    """A lock at `path` held by a live process on this host; the process is stopped afterwards."""
    proc = subprocess.Popen(["sleep", "300"])
    try:
        who = holder(proc.pid, command, release_id)
        write_lock(path, who)
        yield who
    finally:
        proc.kill()
        proc.wait()


def dead_holder(path: Path, command: str, release_id: str | None = None) -> Holder:
    """A lock at `path` left by a process that has ended (as after a SIGKILL)."""
    proc = subprocess.Popen(["true"])
    who = holder(proc.pid, command, release_id)
    proc.wait()
    write_lock(path, who)
    return who
