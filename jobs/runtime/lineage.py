"""OpenLineage events for each stage, written to a JSON-lines file (no server needed).

Stages append to `WH/staging/<RID>/lineage.jsonl`; publish copies the file into the release, so a
release carries START/COMPLETE (or FAIL) events for ingest, anonymize, validate and publish with the
Delta versions read and written. An Airflow task run id, when present, becomes the parent run.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    dataset_version_dataset,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
)
from openlineage.client.transport.file import FileConfig, FileTransport

NAMESPACE = "tokumei"
PRODUCER = "https://github.com/tokumei/tokumei"


@dataclass(frozen=True)
class DatasetRef:
    name: str  # a warehouse-relative path such as bronze/receipts
    version: int | None = None
    rows: int | None = None
    assertions: tuple[tuple[str, bool, str | None], ...] = ()  # (assertion, success, column)


@dataclass
class StageRun:
    """What a stage reports to lineage when it completes."""

    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)


def _client(path: Path) -> OpenLineageClient:
    path.parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path), append=True)))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _parent_facet() -> dict[str, Any]:
    # Airflow exports these for tasks; we link our run under the task run when they exist.
    run_id, dag = os.environ.get("OPENLINEAGE_PARENT_RUN_ID"), os.environ.get("OPENLINEAGE_PARENT_JOB_NAME")
    if not (run_id and dag):
        return {}
    facet = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id), job=parent_run.Job(namespace=os.environ.get("OPENLINEAGE_NAMESPACE", "airflow"), name=dag)
    )
    return {"parent": facet}


def _version_facets(ref: DatasetRef) -> dict[str, Any]:
    if ref.version is None:
        return {}
    return {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(ref.version))}


def _inputs(refs: list[DatasetRef]) -> list[InputDataset]:
    out = []
    for ref in refs:
        facets = _version_facets(ref)
        input_facets: dict[str, Any] = {}
        if ref.assertions:
            assertions = [
                data_quality_assertions_dataset.Assertion(assertion=a, success=ok, column=col) for a, ok, col in ref.assertions
            ]
            input_facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=assertions
            )
        out.append(InputDataset(namespace=NAMESPACE, name=ref.name, facets=facets, inputFacets=input_facets))
    return out


def _outputs(refs: list[DatasetRef]) -> list[OutputDataset]:
    out = []
    for ref in refs:
        facets = _version_facets(ref)
        output_facets: dict[str, Any] = {}
        if ref.rows is not None:
            output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=ref.rows
            )
        out.append(OutputDataset(namespace=NAMESPACE, name=ref.name, facets=facets, outputFacets=output_facets))
    return out


@contextmanager
def stage_events(path: Path | None, stage: str, release_id: str | None = None) -> Iterator[StageRun]:
    """Emit START now and COMPLETE (with what the stage filled in) or FAIL at the end."""
    report = StageRun()
    if path is None:
        yield report
        return
    client = _client(path)
    run_id = str(uuid.uuid4())
    job = Job(namespace=NAMESPACE, name=f"tokumei.{stage}", facets={
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="SPARK", jobType="JOB")
    })
    run_facets = _parent_facet()
    client.emit(RunEvent(eventType=RunState.START, eventTime=_now(), run=Run(runId=run_id, facets=run_facets), job=job,
                         producer=PRODUCER))
    try:
        yield report
    except BaseException:
        client.emit(RunEvent(eventType=RunState.FAIL, eventTime=_now(), run=Run(runId=run_id, facets=run_facets), job=job,
                             producer=PRODUCER, inputs=_inputs(report.inputs)))
        raise
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=_now(), run=Run(runId=run_id, facets=run_facets), job=job,
                         producer=PRODUCER, inputs=_inputs(report.inputs), outputs=_outputs(report.outputs)))
