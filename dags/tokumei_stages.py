"""The tokumei stages as orchestrators call them: one source for Airflow and tests (no Airflow import).

Each stage is `tokumei <stage> <args>`; the arguments use Airflow templates for the DAG params.
tests/test_orchestration.py renders them and parses them with each job's own argument parser, and
checks that databricks.yml passes the same arguments.
"""

from __future__ import annotations

STAGES = ("ingest", "anonymize", "validate", "publish")
DELTA_PACKAGE = "io.delta:delta-spark_4.1_2.13:4.4.0"  # must match delta-spark in pyproject.toml
# Built by `make dist`: the package `tokumei` (tokumei.jobs, tokumei.transforms, ...) for --py-files, and
# the application file that runs `tokumei <stage> <args>` from it (tools/dist.py).
PY_FILES = "{{ var.value.get('tokumei_py_files', '/opt/tokumei/dist/tokumei.zip') }}"
APP_DIR = "{{ var.value.get('tokumei_app_dir', '/opt/tokumei') }}"
APPLICATION = APP_DIR + "/dist/tokumei_submit.py"
CONF = APP_DIR + "/conf/pipeline.yaml"

PARAM_DEFAULTS = {
    "input": "/data/raw/uke",
    "warehouse": "/data/warehouse",
    "release_id": "{{ ds_nodash }}",
    "profile": "anonymized",
    "recipient": "",
}

_WH = ["--warehouse", "{{ params.warehouse }}"]
_RID = ["--release-id", "{{ params.release_id }}"]

# Arguments of each stage, exactly as `tokumei <stage> --help` documents them.
STAGE_ARGS: dict[str, list[str]] = {
    "ingest": ["--input", "{{ params.input }}", *_WH, "--conf", CONF],
    "anonymize": [*_WH, *_RID, "--profile", "{{ params.profile }}", "--recipient", "{{ params.recipient }}",
                  "--conf", CONF],
    "validate": [*_WH, *_RID, "--conf", CONF],
    "publish": [*_WH, *_RID, "--conf", CONF],
}

SPARK_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.legacy.javaCharsets": "true",
}
