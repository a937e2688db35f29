"""Airflow DAGs for tokumei releases (Airflow 3.x; keep Airflow in its own environment, stack.md).

`tokumei_release` runs the four stages with spark-submit on the cluster the `spark_default`
connection points at; `tokumei_release_databricks` triggers the job that `databricks.yml` deploys.
Each stage is its own task so a failed validation stops before publish and can be retried alone.
Params: input (raw files), warehouse, release_id, profile, recipient.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator
from airflow.sdk import DAG, Param

DELTA_PACKAGE = "io.delta:delta-spark_4.1_2.13:4.4.0"
# Built by `make dist`: the jobs, transforms and expectations packages for --py-files.
PY_FILES = "{{ var.value.get('tokumei_py_files', '/opt/tokumei/dist/tokumei.zip') }}"
APP_DIR = "{{ var.value.get('tokumei_app_dir', '/opt/tokumei') }}"
CONF = APP_DIR + "/conf/pipeline.yaml"

PARAMS = {
    "input": Param("/data/raw/uke", type="string", description="raw UKE files and clinical extracts"),
    "warehouse": Param("/data/warehouse", type="string", description="warehouse root"),
    "release_id": Param("{{ ds_nodash }}", type="string", description="new, unused release id"),
    "profile": Param("anonymized", enum=["anonymized", "pseudonymized"]),
    "recipient": Param("", type="string", description="recipient id (required for pseudonymized)"),
}

# Arguments of each stage, exactly as `tokumei <stage> --help` documents them.
STAGE_ARGS: dict[str, list[str]] = {
    "ingest": ["--input", "{{ params.input }}", "--warehouse", "{{ params.warehouse }}", "--conf", CONF],
    "anonymize": ["--warehouse", "{{ params.warehouse }}", "--release-id", "{{ params.release_id }}",
                  "--profile", "{{ params.profile }}", "--recipient", "{{ params.recipient }}", "--conf", CONF],
    "validate": ["--warehouse", "{{ params.warehouse }}", "--release-id", "{{ params.release_id }}", "--conf", CONF],
    "publish": ["--warehouse", "{{ params.warehouse }}", "--release-id", "{{ params.release_id }}", "--conf", CONF],
}

default_args = {"retries": 0, "owner": "tokumei"}

with DAG(
    dag_id="tokumei_release",
    description="UKE/clinical files -> bronze -> anonymized staging -> GX validation -> published release",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    params=PARAMS,
    default_args=default_args,
    tags=["tokumei", "privacy"],
) as release:
    previous = None
    for stage, args in STAGE_ARGS.items():
        task = SparkSubmitOperator(
            task_id=stage,
            application=f"{APP_DIR}/jobs/{stage}.py",
            application_args=args,
            py_files=PY_FILES,
            packages=DELTA_PACKAGE,
            conf={
                "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
                "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
                "spark.sql.legacy.javaCharsets": "true",
            },
            name=f"tokumei-{stage}-{{{{ params.release_id }}}}",
        )
        if previous is not None:
            previous >> task
        previous = task

with DAG(
    dag_id="tokumei_release_databricks",
    description="Trigger the tokumei_release job deployed by databricks.yml",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    params=PARAMS,
    default_args=default_args,
    tags=["tokumei", "privacy", "databricks"],
) as release_databricks:
    DatabricksRunNowOperator(
        task_id="run_tokumei_release",
        databricks_conn_id="databricks_default",
        job_name="tokumei-release",
        job_parameters={name: f"{{{{ params.{name} }}}}" for name in PARAMS},
    )
