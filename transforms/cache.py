"""What a transform may ask of the job that runs it: keep a frame it reads more than once, cut the
lineage of a frame many plans will join, and let a frame go when it is done with it.

Transforms never persist, checkpoint or unpersist anything themselves (STYLE.md habit 11): the job
decides how a frame is kept (jobs/runtime/cache.py) and frees whatever is still kept when its run
ends, also when the run fails. The same transform code then runs locally, on a cluster and under
Spark Connect, where the job picks what that engine supports.
"""

from __future__ import annotations

from typing import Protocol

from pyspark.sql import DataFrame


class Cache(Protocol):
    def keep(self, df: DataFrame) -> DataFrame:
        """`df`, kept (memory, then disk) once it is first computed: later reads reuse its rows."""
        ...

    def materialize(self, df: DataFrame) -> DataFrame:
        """`df` computed now, with its lineage cut: plans that read the result see a scan of its
        rows, not the plan that made them (for the frames every table joins)."""
        ...

    def free(self, df: DataFrame) -> None:
        """Let go of a frame `keep` or `materialize` returned (nothing may read it afterwards, nor
        a frame computed from it that was not kept); a frame it does not know is ignored."""
        ...


class _NoCache:
    """Keeps nothing: every read recomputes its plan. For small frames (tests, one-off calls)."""

    def keep(self, df: DataFrame) -> DataFrame:
        return df

    def materialize(self, df: DataFrame) -> DataFrame:
        return df

    def free(self, df: DataFrame) -> None:
        return None


NO_CACHE: Cache = _NoCache()
