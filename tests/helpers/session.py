"""The settings of the test session (tests/conftest.py), also given to the Spark processes that e2e tests
start (the Spark Connect server of tests/e2e/test_spark_connect.py, the spark-submit of
tests/e2e/test_cluster.py) so that both sides of their comparisons run with the same ones."""

# Adaptive query execution re-plans every stage at run time: worth it on cluster-sized data, pure overhead
# on the few hundred rows of a test (tests/e2e/test_anon_job.py: 182 s with it, 77 s without, one run each
# on a loaded machine). The jobs keep Spark's default; only the test session turns it off.
# Generated code pays for itself on large data only: compiling it is most of a small query's time. Whole-stage
# codegen off and expressions interpreted: one anonymize of the literal bronze warehouse (an A/B on 2 cores,
# 3 runs each in one session): 54.7/33.6/31.1 s with codegen, 38.9/27.7/24.2 s without. Tests only, like AQE.
TEST_CONF = {"spark.sql.adaptive.enabled": "false", "spark.sql.codegen.wholeStage": "false",
             "spark.sql.codegen.factoryMode": "NO_CODEGEN"}

# What jobs/runtime/session.py and tests/conftest.py give the local test session, as spark-submit --conf
# settings: a process started with these runs the jobs as the test session does.
SUBMIT_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    **TEST_CONF,
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.ui.enabled": "false",
}
