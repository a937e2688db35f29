"""Locks that keep two runs from writing the same place at once (issue 19 item 5).

An orchestrator may retry a task while its first attempt still runs, or two operators may start the
same job. Every writer takes a lock file under `WH/_locks/` before it reads or changes anything:

    WH/_locks/bronze.lock            ingest, erase, run: one writer of bronze and the records at a time
    WH/_locks/release-<RID>.lock     publish and run of that release id; erase while it removes its staging

The file is created with O_CREAT|O_EXCL, so of two runs that start together exactly one wins. It holds
the holder (host, pid, the process's start time, user), the command, the release id and the start time
(UTC): no argument values beyond those, no secrets. A run that finds the lock taken refuses at once
(`LockedError`, exit 1) naming the holder and the lock file, and touches nothing. The lock is removed
when the run ends, also on an error (with the folders taking it created, when empty: a mistyped
warehouse leaves no trace); a killed run (SIGKILL, a lost machine) leaves it behind.

A lock left behind is broken only when the operator passes --break-lock, and a holder alive on this
host never: its pid is checked with os.kill(pid, 0) and, on Linux, its start time, so a reused pid is
not taken for the holder. A holder on another host cannot be checked from here, so it counts as alive
unless the operator, having checked, passes --break-lock.

In one process a lock is re-entrant for the thread that holds it: `tokumei run` takes its locks once,
before Spark starts, and the stages it calls take the same locks again without effect. Another thread
of the same process is refused like another process.

Where it holds: a local warehouse (a local disk; NFS from v3 on). A dbfs:/ or /dbfs/ warehouse uses the
same file through the /dbfs mount, best effort: exclusive create is not guaranteed there across
clusters, but a retry started seconds later finds the file. A warehouse at a URI without a local path
(abfss://, s3://, gs://) gets no lock: a warning says so, and the orchestrator must keep runs apart
(Airflow max_active_runs=1, Databricks max_concurrent_runs: 1).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from jobs.runtime.errors import InputError, RefusedError
from jobs.runtime.warehouse import Warehouse, check_release_id

log = logging.getLogger("tokumei.lock")

BREAK_FLAG = "--break-lock"
ALIVE, DEAD, UNKNOWN = "alive", "dead", "unknown"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: written into the lock file, named in the refusal."""

    command: str  # e.g. "tokumei publish --release-id r1": built from non-secret values only
    release_id: str | None
    host: str
    pid: int
    process_start: int | None  # clock ticks since boot (Linux /proc/<pid>/stat), None elsewhere
    user: str
    started_at: str  # UTC, ISO 8601

    @classmethod
    def me(cls, command: str, release_id: str | None) -> Holder:
        pid = os.getpid()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(command, release_id, socket.gethostname(), pid, process_start(pid), _user(), now)

    def describe(self) -> str:
        return f"`{self.command}`（{self.user}@{self.host}、pid {self.pid}、{self.started_at} 開始）"


class LockedError(RefusedError):
    """The lock is held (or left behind) by another run; nothing was changed."""

    def __init__(self, message: str, path: Path, holder: Holder | None, state: str):
        self.path, self.holder, self.state = path, holder, state
        super().__init__(message)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry and no $USER
        return f"uid {os.getuid()}"


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the command name may hold spaces
    except (OSError, IndexError, ValueError):
        return None


def liveness(holder: Holder) -> str:
    """ALIVE or DEAD for a holder on this host; UNKNOWN on another host (its pids mean nothing here)."""
    if holder.host != socket.gethostname():
        return UNKNOWN
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return DEAD
    except PermissionError:
        pass  # it exists, under another user
    now = process_start(holder.pid)
    if holder.process_start is not None and now is not None and now != holder.process_start:
        return DEAD  # the pid was reused by a later process
    return ALIVE


# path -> (thread ident, depth): the locks this process holds (re-entrancy within one thread).
_held: dict[str, tuple[int, int]] = {}
_held_guard = threading.Lock()


@contextmanager
def hold(path: Path, command: str, release_id: str | None = None, *, label: str,
         break_lock: bool = False) -> Iterator[Path]:
    """Hold the lock file `path` for the block; refuse (LockedError) when another run holds it.
    `label` names what is locked in the refusal (「リリース r1」); `break_lock`: the operator's --break-lock."""
    key = os.path.abspath(path)
    me = threading.get_ident()
    with _held_guard:
        owner, depth = _held.get(key, (me, 0))
        entered = depth > 0 and owner == me
        if entered:
            _held[key] = (me, depth + 1)
    if entered:
        try:
            yield path
        finally:
            _leave(key)
        return
    mine = Holder.me(command, release_id)
    created = [d for d in (path.parent.parent, path.parent) if not d.exists()]  # WH and WH/_locks
    _acquire(path, mine, label, break_lock)
    with _held_guard:
        _held[key] = (me, 1)
    try:
        yield path
    finally:
        if _leave(key) == 0:
            _release(path, mine, created)


def _leave(key: str) -> int:
    with _held_guard:
        owner, depth = _held[key]
        if depth > 1:
            _held[key] = (owner, depth - 1)
        else:
            del _held[key]
        return depth - 1


def encode(holder: Holder) -> bytes:
    """The lock file's content: the holder as JSON."""
    return (json.dumps(asdict(holder), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _acquire(path: Path, mine: Holder, label: str, break_lock: bool) -> None:
    data = encode(mine)
    for _ in range(5):  # a lock (or its folder) removed between our create and our read: try again
        path.parent.mkdir(parents=True, exist_ok=True)
        if _create(path, data):
            return
        raw = _read_raw(path)
        if raw is None:
            continue
        holder = _parse(raw)
        state = liveness(holder) if holder else UNKNOWN
        if not break_lock or state == ALIVE:
            raise LockedError(refusal(path, holder, state, label, break_lock), path, holder, state)
        if _read_raw(path) == raw:  # still the one we judged: another breaker may have been faster
            log.warning("%s: breaking the lock left by %s (%s)", path, holder.describe() if holder else "an unreadable file", state)
            path.unlink(missing_ok=True)
        break_lock = False  # break at most once: a lock created since is a new run's
    raise LockedError(f"ロック {path} を取得できません（作成と削除が繰り返されています）/ cannot take the lock {path}",
                      path, None, UNKNOWN)


def _create(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except (FileExistsError, FileNotFoundError):  # not found: another run removed the empty folder just now
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return True


def _read_raw(path: Path) -> bytes | None:
    """The lock file's bytes, None when it is gone; an empty file is re-read once (its creator may be writing)."""
    for attempt in range(2):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        if raw or attempt:
            return raw
        time.sleep(0.2)
    return b""


def _parse(raw: bytes) -> Holder | None:
    try:
        fields = json.loads(raw.decode("utf-8"))
        holder = Holder(**{k: fields.get(k) for k in Holder.__dataclass_fields__})
    except (ValueError, TypeError, AttributeError):
        return None
    well_formed = isinstance(holder.pid, int) and holder.pid > 0 and isinstance(holder.host, str) \
        and isinstance(holder.command, str)  # pid 0 or -1 would make os.kill address a whole group
    return holder if well_formed else None


def _release(path: Path, mine: Holder, created: list[Path]) -> None:
    """Remove our lock, and the folders taking it created if they are empty now: a run refused for bad
    input or a mistyped warehouse leaves no trace."""
    raw = _read_raw(path)
    if raw is not None and _parse(raw) == mine:
        path.unlink(missing_ok=True)
    else:  # broken by an operator with --break-lock while we ran: the file is another run's now
        log.warning("%s: the lock is no longer ours (broken with %s?); left as it is", path, BREAK_FLAG)
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:  # not empty: other locks, or the warehouse the run wrote
            break


def refusal(path: Path, holder: Holder | None, state: str, label: str, break_lock: bool) -> str:
    """What the refused operator reads: who holds the lock, where it is, and what to do next."""
    if holder is None:
        return (f"{label}のロック {path} を読めません（壊れています）。保持者を確認できないため実行しません。"
                f"ほかに実行中のものがないことを確かめてから {BREAK_FLAG} を付けて再実行してください。何も変更していません。"
                f" / the lock {path} is unreadable; make sure no run is going on, then run again with {BREAK_FLAG}")
    who = holder.describe()
    if state == ALIVE:
        again = f"{BREAK_FLAG} は実行中のロックを壊しません。" if break_lock else ""
        return (f"{label}は別の実行が進行中のため実行しません: {who}。ロック: {path}。その実行の終了を待ってください。"
                f"止まって見える場合は、{holder.host} の pid {holder.pid} を止めてから再実行してください。{again}何も変更していません。"
                f" / another run holds the lock {path}: {holder.command} (pid {holder.pid} on {holder.host}, "
                f"started {holder.started_at}); wait for it to end. Nothing was changed")
    if state == DEAD:
        return (f"{label}のロックを残した実行はもう動いていません: {who}。中断された実行の残したロックです（{path}）。"
                f"ほかに実行中のものがないことを確かめてから {BREAK_FLAG} を付けて再実行してください。何も変更していません。"
                f" / the run that left the lock {path} ({holder.command}, pid {holder.pid} on {holder.host}, "
                f"started {holder.started_at}) is no longer running; run again with {BREAK_FLAG}")
    return (f"{label}は別のホスト {holder.host} の実行がロックを保持しています: {who}。ロック: {path}。"
            f"このホストからは生存を確認できません。その実行の終了を待つか、終了していること（強制終了を含む）を"
            f"確かめてから {BREAK_FLAG} を付けて再実行してください。何も変更していません。"
            f" / a run on another host holds the lock {path}: {holder.command} (pid {holder.pid} on {holder.host}, "
            f"started {holder.started_at}); wait for it, or make sure it ended and run again with {BREAK_FLAG}")


def lock_file(wh: Warehouse, name: str) -> Path | None:
    """The local path of WH/_locks/<name>.lock, or None when the warehouse has no local path (no lock)."""
    try:
        return wh.local_path(wh.lock(name))
    except InputError:
        return None


@contextmanager
def warehouse_lock(wh: Warehouse, command: str, *, break_lock: bool = False) -> Iterator[Path | None]:
    """The bronze lock: one writer of bronze and the records (ingest, erase, run) per warehouse."""
    with _hold_in(wh, "bronze", command, None, f"ウェアハウス {wh.root} の bronze への書き込み", break_lock) as path:
        yield path


@contextmanager
def release_lock(wh: Warehouse, release_id: str, command: str, *, break_lock: bool = False) -> Iterator[Path | None]:
    """The lock of one release id: one publish (or run) of it at a time."""
    with _hold_in(wh, f"release-{check_release_id(release_id)}", command, release_id, f"リリース {release_id} の処理", break_lock) as path:
        yield path


@contextmanager
def _hold_in(wh: Warehouse, name: str, command: str, release_id: str | None, label: str,
             break_lock: bool) -> Iterator[Path | None]:
    path = lock_file(wh, name)
    if path is None:
        log.warning("%s has no local path: no lock is taken, so concurrent runs are not detected; let the "
                    "orchestrator run one at a time (max_active_runs / max_concurrent_runs = 1)", wh.root)
        yield None
        return
    with hold(path, command, release_id, label=label, break_lock=break_lock):
        yield path
