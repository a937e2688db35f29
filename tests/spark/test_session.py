"""The session tokumei builds (jobs/runtime/session.py), as pyspark itself sees it."""

from __future__ import annotations


def test_the_session_records_no_python_call_site_per_function_call(spark):
    """DRIVER_DEFAULTS: pyspark's DataFrame debugging (a call-site capture, a failed IPython import and py4j
    round trips on every DataFrame or Column function) is off, and pyspark reads it so."""
    from pyspark.errors.utils import is_debugging_enabled
    from pyspark.sql import functions as F

    from jobs.runtime.session import DRIVER_DEFAULTS

    assert spark.conf.get("spark.python.sql.dataFrameDebugging.enabled") == DRIVER_DEFAULTS[
        "spark.python.sql.dataFrameDebugging.enabled"] == "false"
    assert spark.range(3).select(F.sum(F.col("id") + 1).alias("s")).first()["s"] == 6
    assert is_debugging_enabled() is False
