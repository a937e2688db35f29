"""The run locks (jobs/runtime/lock.py, issue 19 item 5), without Spark: atomic create, what the file
holds, the refusal that names the holder, stale locks broken only with --break-lock, release on errors,
re-entrancy within one thread, warehouses without a local path. The commands: test_lock_commands.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import multiprocessing
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from helpers.locks import STARTED, dead_holder, holder, live_holder, write_lock

from jobs.runtime.errors import EXIT_REFUSED, InputError
from jobs.runtime.lock import (
    ALIVE,
    DEAD,
    UNKNOWN,
    LockedError,
    encode,
    hold,
    liveness,
    lock_file,
    process_start,
    release_lock,
    warehouse_lock,
)
from jobs.runtime.warehouse import Warehouse


def _lock(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "_locks" / "release-r1.lock"


def _take(path: Path, label: str = "リリース r1 の処理", break_lock: bool = False) -> None:
    """Take and give back the lock, as a publish of r1 would."""
    with hold(path, "tokumei publish --release-id r1", "r1", label=label, break_lock=break_lock):
        assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()


def test_the_lock_file_names_the_holder_and_nothing_else_and_goes_when_the_run_ends(tmp_path):
    path = _lock(tmp_path)
    with hold(path, "tokumei publish --release-id r1", "r1", label="リリース r1 の処理"):
        inside = json.loads(path.read_text(encoding="utf-8"))
    assert set(inside) == {"command", "release_id", "host", "pid", "process_start", "user", "started_at"}
    assert (inside["command"], inside["release_id"], inside["host"], inside["pid"]) == (
        "tokumei publish --release-id r1", "r1", socket.gethostname(), os.getpid())
    assert inside["process_start"] == process_start(os.getpid()) and inside["user"]
    started = inside["started_at"]
    assert started.endswith("+00:00") and abs(time.time() - _epoch(started)) < 60
    assert not path.exists()


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _contend(path: str, barrier, results) -> None:  # one process of the race below
    barrier.wait()
    try:
        with hold(Path(path), f"racer {os.getpid()}", label="race"):
            results.put("won")
            time.sleep(1.5)  # still holding while the others try
    except LockedError:
        results.put("refused")


def test_of_runs_that_start_together_exactly_one_takes_the_lock(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(_lock(tmp_path)), barrier, results)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["refused"] * 5 + ["won"]
    assert not _lock(tmp_path).exists()


def test_a_live_holder_is_named_and_nothing_is_touched_even_with_break_lock(tmp_path):
    path = _lock(tmp_path)
    with live_holder(path, "tokumei publish --release-id r1", "r1") as who:
        before = path.read_bytes()
        for break_lock in (False, True):
            with pytest.raises(LockedError) as exc:
                _take(path, break_lock=break_lock)
            assert exc.value.exit_code == EXIT_REFUSED and exc.value.state == ALIVE and exc.value.holder == who
            message = str(exc.value)
            for part in ("リリース r1 の処理は別の実行が進行中", "tokumei publish --release-id r1", f"pid {who.pid}",
                         socket.gethostname(), STARTED, str(path), "operator-a", "何も変更していません"):
                assert part in message, part
            assert ("--break-lock は実行中のロックを壊しません" in message) is break_lock
            assert path.read_bytes() == before


def test_a_lock_left_by_an_ended_run_is_refused_without_the_flag_and_broken_with_it(tmp_path, caplog):
    path = _lock(tmp_path)
    gone = dead_holder(path, "tokumei publish --release-id r1", "r1")
    assert liveness(gone) == DEAD
    with pytest.raises(LockedError, match="もう動いていません") as exc:
        _take(path)
    assert exc.value.state == DEAD and f"pid {gone.pid}" in str(exc.value) and "--break-lock" in str(exc.value)
    with caplog.at_level(logging.WARNING, "tokumei.lock"):
        _take(path, break_lock=True)
    assert not path.exists()
    assert f"pid {gone.pid}" in caplog.text and "breaking the lock" in caplog.text


def test_a_reused_pid_is_not_taken_for_the_holder():
    if process_start(os.getpid()) is None:
        pytest.fail("no /proc here: the start time check cannot be tested (tokumei's CI runs Linux)")
    mine = holder(os.getpid(), "tokumei ingest --input in")
    assert liveness(mine) == ALIVE and mine.process_start is not None
    assert liveness(dataclasses.replace(mine, process_start=mine.process_start - 1)) == DEAD


def test_a_holder_on_another_host_counts_as_alive_until_the_operator_breaks_it(tmp_path):
    path = _lock(tmp_path)
    other = holder(1, "tokumei ingest --input /data/2026-04", host="driver-7.example")
    write_lock(path, other)
    assert liveness(other) == UNKNOWN
    with pytest.raises(LockedError, match="別のホスト driver-7.example の実行") as exc:
        _take(path, label="bronze")
    assert exc.value.state == UNKNOWN and "--break-lock" in str(exc.value) and path.read_bytes() == encode(other)
    _take(path, label="bronze", break_lock=True)
    assert not path.exists()


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"pid": "12"}', b"[1, 2]",
                                     b'{"pid": -1, "host": "h", "command": "c"}'])
def test_an_unreadable_lock_is_refused_and_broken_only_with_the_flag(tmp_path, content):
    path = _lock(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(LockedError, match="を読めません") as exc:
        _take(path)
    assert exc.value.holder is None and path.read_bytes() == content
    _take(path, break_lock=True)
    assert not path.exists()


def test_the_lock_goes_when_the_run_fails(tmp_path):
    path = _lock(tmp_path)
    with pytest.raises(ZeroDivisionError), hold(path, "tokumei publish --release-id r1", "r1", label="r1"):
        assert path.exists()
        1 / 0  # noqa: B018
    assert not path.exists()
    _take(path)  # free again


def test_a_run_that_fails_in_a_new_or_mistyped_warehouse_leaves_no_trace_and_keeps_what_was_there(tmp_path):
    typo = Warehouse(str(tmp_path / "wh-typo"))
    with pytest.raises(InputError), warehouse_lock(typo, "tokumei publish --release-id r1"):
        raise InputError("no staged release r1")
    assert not (tmp_path / "wh-typo").exists()
    wh = Warehouse(str(tmp_path / "wh"))
    with release_lock(wh, "r1", "tokumei publish --release-id r1"):
        with warehouse_lock(wh, "tokumei ingest --input in"):
            pass
        assert (tmp_path / "wh" / "_locks" / "release-r1.lock").exists()  # the folder stays for the other lock
    assert not (tmp_path / "wh").exists()


def test_a_lock_broken_by_someone_else_while_held_is_left_to_its_new_holder(tmp_path):
    path = _lock(tmp_path)
    with hold(path, "tokumei publish --release-id r1", "r1", label="r1"):
        newer = write_lock(path, holder(1, "tokumei publish --release-id r1 --break-lock", "r1", host="ops-2"))
    assert path.read_bytes() == newer


def test_the_same_thread_re_enters_its_lock_and_another_thread_is_refused(tmp_path):
    path = _lock(tmp_path)
    seen: list[BaseException | None] = []

    def other_thread() -> None:
        try:
            with hold(path, "tokumei publish --release-id r1", "r1", label="r1"):
                seen.append(None)
        except LockedError as exc:
            seen.append(exc)

    with hold(path, "tokumei run --release-id r1", "r1", label="r1"):
        with hold(path, "publish stage of r1", "r1", label="r1"):  # what run's stages do
            t = threading.Thread(target=other_thread)
            t.start()
            t.join()
        assert path.exists()  # the inner exit keeps the outer's lock
        assert json.loads(path.read_text(encoding="utf-8"))["command"] == "tokumei run --release-id r1"
    assert not path.exists()
    assert isinstance(seen[0], LockedError) and f"pid {os.getpid()}" in str(seen[0])


def test_warehouse_locks_live_under_wh_locks_and_a_release_id_cannot_leave_it(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    with warehouse_lock(wh, "tokumei ingest --input in") as bronze, release_lock(wh, "r-1", "tokumei run") as release:
        assert bronze == tmp_path / "wh" / "_locks" / "bronze.lock" and bronze.exists()
        assert release == tmp_path / "wh" / "_locks" / "release-r-1.lock" and release.exists()
    with pytest.raises(InputError, match="release id"), release_lock(wh, "../bronze", "tokumei publish"):
        pass
    assert lock_file(Warehouse("dbfs:/mnt/wh"), "bronze") == Path("/dbfs/mnt/wh/_locks/bronze.lock")


def test_a_warehouse_without_a_local_path_runs_without_a_lock_and_says_so(caplog):
    wh = Warehouse("abfss://claims@account.dfs.core.windows.net/wh")
    assert lock_file(wh, "bronze") is None
    with caplog.at_level(logging.WARNING, "tokumei.lock"), warehouse_lock(wh, "tokumei ingest --input in") as path:
        assert path is None
    assert "no lock is taken" in caplog.text and "abfss://" in caplog.text
