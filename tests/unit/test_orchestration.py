"""The Airflow stage arguments and the Databricks bundle call the jobs the way their parsers accept."""

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "dags"))
import tokumei_stages as stages  # noqa: E402

VALUES = {"input": "/data/in", "warehouse": "/data/wh", "release_id": "r-2026-11", "profile": "anonymized",
          "recipient": ""}


def _render(arg: str) -> str:
    arg = re.sub(r"\{\{ params\.(\w+) \}\}", lambda m: VALUES[m.group(1)], arg)
    arg = re.sub(r"\{\{job\.parameters\.(\w+)\}\}", lambda m: VALUES[m.group(1)], arg)
    arg = arg.replace("${var.warehouse}", VALUES["warehouse"]).replace("${workspace.file_path}", "/ws")
    return re.sub(r"\{\{ var\.value\.get\('[a-z_]+', '([^']+)'\) \}\}", r"\1", arg)


def _parse(stage: str, args: list[str]):
    module = importlib.import_module(f"jobs.{stage}")
    return module.build_parser().parse_args([_render(a) for a in args])


@pytest.mark.parametrize("stage", stages.STAGES)
def test_airflow_stage_arguments_parse_with_the_job_parser(stage):
    ns = _parse(stage, stages.STAGE_ARGS[stage])
    assert ns.warehouse == "/data/wh"
    assert ns.conf == "/opt/tokumei/conf/pipeline.yaml"
    if stage != "ingest":
        assert ns.release_id == "r-2026-11"


def test_airflow_stages_are_the_release_order_and_delta_matches_pyproject():
    assert list(stages.STAGE_ARGS) == ["ingest", "anonymize", "validate", "publish"]
    pins = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = stages.DELTA_PACKAGE.rsplit(":", 1)[1]
    assert f'"delta-spark=={version}"' in pins


def test_databricks_bundle_runs_the_four_stages_in_order_through_the_console_script():
    bundle = yaml.safe_load((ROOT / "databricks.yml").read_text(encoding="utf-8"))
    tasks = bundle["resources"]["jobs"]["tokumei_release"]["tasks"]
    assert [t["task_key"] for t in tasks] == list(stages.STAGES)
    for before, task in zip([None, *stages.STAGES], tasks, strict=False):
        assert [d["task_key"] for d in task.get("depends_on", [])] == ([before] if before else [])
        wheel = task["python_wheel_task"]
        assert (wheel["package_name"], wheel["entry_point"]) == ("tokumei", "tokumei")
        command, *args = wheel["parameters"]
        assert command == task["task_key"]
        ns = _parse(command, args)
        assert ns.conf == "/ws/conf/pipeline.yaml"
    assert 'tokumei = "jobs.cli:main"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_orchestrators_start_one_release_run_at_a_time():
    """A warehouse at abfss:// or s3:// gets no lock (jobs/runtime/lock.py): the orchestrator keeps runs apart."""
    bundle = yaml.safe_load((ROOT / "databricks.yml").read_text(encoding="utf-8"))
    assert bundle["resources"]["jobs"]["tokumei_release"]["max_concurrent_runs"] == 1
    tree = ast.parse((ROOT / "dags" / "tokumei_release.py").read_text(encoding="utf-8"))
    dags = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "DAG"]
    runs = {next(k.value.value for k in d.keywords if k.arg == "dag_id"):
            next((ast.literal_eval(k.value) for k in d.keywords if k.arg == "max_active_runs"), None) for d in dags}
    assert runs == {"tokumei_release": 1, "tokumei_release_databricks": 1}
