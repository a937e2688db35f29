"""Clinical CSV extracts: layouts from conf/layouts/*.yaml, parsing, opt-out, and bronze frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import DEFAULT_LAYOUTS, from_mapping, read_yaml, resolve_conf_path
from jobs.runtime.errors import ConfigError
from jobs.runtime.scratch import write_scratch
from jobs.stages.ingest.files import SourceFile
from jobs.stages.ingest.uke import FileFacts, position_files
from transforms.clinical.extract import ClinicalLayout, parse_clinical, select_clinical
from transforms.identity.optout import IDENTITY_COLUMNS, filter_opted_out, opted_out_patients
from transforms.uke.parse import select_rejected

PATIENT_KEY = ("institution_code", "patient_id")  # a hospital's patient id is unique within it


def load_layouts(directory: str | Path = DEFAULT_LAYOUTS) -> list[ClinicalLayout]:
    """Every `*.yaml` under the layouts directory; the table name defaults to the file name."""
    root = resolve_conf_path(directory)
    if not root.is_dir():
        return []
    layouts = []
    for path in sorted(root.glob("*.yaml")):
        data = read_yaml(path)
        data.setdefault("table", path.stem)
        if isinstance(data.get("files"), str):
            data["files"] = [data["files"]]
        try:
            layouts.append(from_mapping(ClinicalLayout, data, file=path))
        except ValueError as exc:
            raise ConfigError(path, "columns", str(exc)) from exc
    tables = [layout.table for layout in layouts]
    dupes = sorted({t for t in tables if tables.count(t) > 1})
    if dupes:
        raise ConfigError(root, "table", f"tables declared twice: {dupes}")
    return layouts


@dataclass
class ClinicalResult:
    frames: dict[str, tuple[DataFrame, DataFrame]] = field(default_factory=dict)  # table -> (rows, rejects)
    facts: dict[str, FileFacts] = field(default_factory=dict)
    opted_out_rows: dict[str, DataFrame] = field(default_factory=dict)  # table -> rows withheld (for counts)
    opted_keys: DataFrame | None = None  # PATIENT_KEY of every opted-out patient known to this run


def _has_identity(layout: ClinicalLayout) -> bool:
    return set(IDENTITY_COLUMNS) <= set(layout.names)


def clinical_frames(
    spark: SparkSession,
    files: Sequence[SourceFile],
    layouts: Sequence[ClinicalLayout],
    scratch: str,
    registry_ids: DataFrame | None,
    known_patient_keys: DataFrame | None,
) -> ClinicalResult:
    """Per clinical table: bronze rows and rejects, with opted-out patients withheld (requirement 42).

    Tables that carry the identity columns (patients) are matched against the registry; every table
    keyed by (institution_code, patient_id) (labs) then drops those patients' rows too.
    """
    result = ClinicalResult()
    opted_keys: DataFrame | None = known_patient_keys
    ordered = sorted(layouts, key=lambda lay: not _has_identity(lay))
    for layout in ordered:
        group = [f for f in files if f.table == layout.table]
        if not group:
            continue
        out_dir = f"{scratch}/clinical_{layout.table}"
        facts = result.facts[layout.table] = position_files(spark, group, out_dir, layout.encoding, partition=False)
        # Materialized for the same reason as UKE records (jobs/stages/ingest/uke.parse_to_scratch).
        parsed = write_scratch(parse_clinical(facts.lines.read(spark), layout), out_dir + "_parsed").read(spark)
        has_key = set(PATIENT_KEY) <= set(layout.names)
        if registry_ids is not None and _has_identity(layout) and has_key:
            good = select_clinical(parsed, layout)
            matched = opted_out_patients(good, registry_ids, PATIENT_KEY)
            opted_keys = matched if opted_keys is None else opted_keys.unionByName(matched)
        if opted_keys is not None and has_key:
            result.opted_out_rows[layout.table] = parsed.join(opted_keys.distinct(), list(PATIENT_KEY), how="left_semi")
            parsed = filter_opted_out(parsed, opted_keys.distinct(), PATIENT_KEY)
        result.frames[layout.table] = (select_clinical(parsed, layout), select_rejected(parsed))
    result.opted_keys = opted_keys
    return result


def known_patient_keys(spark: SparkSession, bronze_patients: str, registry_ids: DataFrame) -> DataFrame:
    """Opted-out patients among those ingested by earlier runs, so their later lab rows are withheld too."""
    return opted_out_patients(spark.read.format("delta").load(bronze_patients), registry_ids, PATIENT_KEY)


def opted_out_counts(result: ClinicalResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rows in result.opted_out_rows.values():
        for r in rows.groupBy("file_sha256").count().collect():
            counts[r["file_sha256"]] = counts.get(r["file_sha256"], 0) + int(r["count"])
    return counts
