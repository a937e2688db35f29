"""The settings of the test session (tests/conftest.py), also given to the Spark processes that e2e tests
start (the Spark Connect server of tests/e2e/test_spark_connect.py, the spark-submit of
tests/e2e/test_airflow.py) so that both sides of their comparisons run with the same ones."""

# Adaptive query execution re-plans every stage at run time: worth it on cluster-sized data, pure overhead
# on the few hundred rows of a test (tests/e2e/test_anon_job.py: 182 s with it, 77 s without, one run each
# on a loaded machine). The jobs keep Spark's default; only the test session turns it off.
# Generated code pays for itself on large data only: compiling it is most of a small query's time. Whole-stage
# codegen off and expressions interpreted: one anonymize of the literal bronze warehouse (an A/B on 2 cores,
# 3 runs each in one session): 54.7/33.6/31.1 s with codegen, 38.9/27.7/24.2 s without. Tests only, like AQE.
TEST_CONF = {"spark.sql.adaptive.enabled": "false", "spark.sql.codegen.wholeStage": "false",
             "spark.sql.codegen.factoryMode": "NO_CODEGEN"}

# The test session's own JVM (it lives the whole run) collects with the parallel collector instead of G1: G1's
# concurrent marking thread took 40 s of CPU in the first 8 minutes of `make test` (the C2 compiler 110 s, the
# py4j thread that plans the queries 108 s), CPU the queries want on two cores. tests/spark, one run each, same
# machine: 295.9 s with G1, 280.6 s with -XX:+UseParallelGC; capping the C2 tier on top gained nothing (284.6 s).
SESSION_JVM_CONF = {"spark.driver.extraJavaOptions": "-XX:+UseParallelGC"}

# The JIT's C1 tier only, for the short-lived JVMs a test starts (a spark-submit's driver and executors, a
# Connect server, a standalone master and workers; not this session, which lives the whole run and gains
# from C2: with C1 only the e2e fixtures took 10-40% longer in CI, e.g. the shared pipeline 156 -> 173 s,
# test_release_keys 30 -> 42 s). On two cores C2's compiler threads took a third of a test JVM's CPU, CPU
# the other JVMs of a cluster test want; one validate of the real UKE file by spark-submit on a loaded
# 2-core machine took 59/62 s of CPU with C1 only, 79/85 s with both tiers (twice each). C1 only also
# shrinks the default code cache to 32 MB, which Spark's generated code filled ("VirtualMachineError: Out
# of space in CodeCache for adapters" in ingest or anonymize): 256 MB.
# The parallel collector too, as in the test session (SESSION_JVM_CONF): tests/e2e/test_spark_connect.py alone
# (its server one such JVM; the local `uke_run` beside it unchanged) took 261.3 s with G1, 248.1 s with it
# (one run each, same machine, 2026-12-07).
JIT_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m -XX:+UseParallelGC"
SHORT_JVM_CONF = {"spark.driver.extraJavaOptions": JIT_OPTIONS, "spark.executor.extraJavaOptions": JIT_OPTIONS}

# What jobs/runtime/session.py and tests/conftest.py give the local test session, as spark-submit --conf
# settings: a process started with these runs the jobs as the test session does (its JVMs with C1 only).
SUBMIT_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    **TEST_CONF,
    **SHORT_JVM_CONF,
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.ui.enabled": "false",
}
