"""The job side of transforms/cache.py: what one run keeps, and the promise that it is all freed.

`keep` persists (memory, then disk). `materialize` writes the frame to the run's scratch folder as
Parquet and reads it back, so plans that join it scan those files instead of repeating the plan that
made them (every release table joins the pid map; with its lineage each table's plan repeated the
linkage and the k-anonymity search, and the driver ran out of memory). Unlike a local checkpoint,
whose blocks `unpersist` does not release, the files are deleted when the run closes, whatever
happened. Where the scratch folder is not a local path (a cluster's object store) `materialize`
falls back to a local checkpoint: its blocks go with the job's session.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from pathlib import Path
from types import TracebackType

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from jobs.runtime.scratch import write_scratch

log = logging.getLogger("tokumei.cache")


class RunCache:
    """Frames kept for one run (transforms.cache.Cache); `close()` (or leaving `with`) frees them all."""

    def __init__(self, scratch: Path | None = None) -> None:
        self.scratch = scratch
        self._kept: list[DataFrame] = []
        self._files: list[tuple[DataFrame, Path]] = []  # materialized frames and their files
        self._ids = itertools.count()

    def keep(self, df: DataFrame) -> DataFrame:
        kept = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._kept.append(kept)
        return kept

    def materialize(self, df: DataFrame) -> DataFrame:
        if self.scratch is None:
            return df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        path = self.scratch / f"frame-{next(self._ids):04d}"
        read = write_scratch(df, str(path)).read(df.sparkSession)
        self._files.append((read, path))
        return read

    def free(self, df: DataFrame) -> None:
        for i, kept in enumerate(self._kept):
            if kept is df:
                self._kept.pop(i).unpersist()
                return
        for i, (read, path) in enumerate(self._files):
            if read is df:
                self._files.pop(i)
                shutil.rmtree(path, ignore_errors=True)
                return

    def close(self) -> None:
        while self._kept:
            self._kept.pop().unpersist()
        for _, path in self._files:
            shutil.rmtree(path, ignore_errors=True)
        self._files.clear()
        if self.scratch is not None and self.scratch.is_dir() and not any(self.scratch.iterdir()):
            self.scratch.rmdir()

    def __enter__(self) -> RunCache:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
