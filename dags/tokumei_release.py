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
from tokumei_stages import APPLICATION, DELTA_PACKAGE, PARAM_DEFAULTS, PY_FILES, SPARK_CONF, STAGE_ARGS

PARAMS = {
    "input": Param(PARAM_DEFAULTS["input"], type="string", description="raw UKE files and clinical extracts"),
    "warehouse": Param(PARAM_DEFAULTS["warehouse"], type="string", description="warehouse root"),
    "release_id": Param(PARAM_DEFAULTS["release_id"], type="string", description="new, unused release id"),
    "profile": Param(PARAM_DEFAULTS["profile"], enum=["anonymized", "pseudonymized"]),
    "recipient": Param(PARAM_DEFAULTS["recipient"], type="string", description="recipient id (pseudonymized)"),
}

default_args = {"retries": 0, "owner": "tokumei"}

with DAG(
    dag_id="tokumei_release",
    description="UKE/clinical files -> bronze -> anonymized staging -> GX validation -> published release",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one writer at a time: abfss:// and s3:// warehouses get no lock (lock.py)
    params=PARAMS,
    default_args=default_args,
    tags=["tokumei", "privacy"],
) as release:
    previous = None
    for stage, args in STAGE_ARGS.items():
        task = SparkSubmitOperator(
            task_id=stage,
            application=APPLICATION,
            application_args=[stage, *args],
            py_files=PY_FILES,
            packages=DELTA_PACKAGE,
            conf=SPARK_CONF,
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
    max_active_runs=1,
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
