"""What one ingest run counted, per file: the ledger rows, versions, and the opt-out registry."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.stages.ingest.files import SourceFile
from jobs.stages.ingest.uke import FileFacts

# A corrected re-delivery of the same claim batch replaces the earlier version's rows; a different
# batch that merely arrives under the same path (RECEIPTC.UKE every month) does not.
_BATCH_IDENTITY = ("institution_code", "billing_month", "payer_kind", "volume_no")


@dataclass
class RunCounts:
    facts: list[FileFacts] = field(default_factory=list)
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha -> IR/GO facts or {"_header": 1}
    opted_lines: dict[str, int] = field(default_factory=dict)
    opted_receipts: dict[str, int] = field(default_factory=dict)
    records: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    tables: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    rejected: dict[str, int] = field(default_factory=dict)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase, for the log (issue 18)
    _mark: float = field(default_factory=time.perf_counter)

    def lap(self, phase: str) -> None:
        """The wall time since the last lap (or the start) is `phase`'s."""
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._mark, 2)
        self._mark = now

    def set_counts(self, rows: Sequence[tuple[str, str, str, int]]) -> None:
        """Rows per (file, table, record type) -> rows per file and table, records per file and record type."""
        for sha, table, record_type, n in rows:
            if table == "_rejects":
                self.rejected[sha] = n
            else:
                self.tables[sha][table] = self.tables[sha].get(table, 0) + n
                self.records[sha][record_type] = n

    def per_table(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for per_file in self.tables.values():
            for table, n in per_file.items():
                out[table] += n
        return dict(out)

    def add_opted_receipts(self, status: DataFrame) -> None:
        opted = status.where(F.col("status") == "opted_out")
        per_file = opted.groupBy(F.substring_index("receipt_key", ":", 1).alias("sha")).count().collect()
        self.opted_receipts = {r["sha"]: int(r["count"]) for r in per_file}

    def fact(self, name: str, sha: str) -> Any:
        for facts in self.facts:
            values = getattr(facts, name)
            if sha in values:
                return values[sha]
        raise KeyError(f"no {name} recorded for file {sha}")

    def totals(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        keys = ("lines_read", "lines_parsed", "lines_rejected", "lines_opted_out", "receipts_opted_out")
        out: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
        per_type: dict[str, int] = defaultdict(int)
        for r in rows:
            for k, v in (r["record_counts"] or {}).items():
                per_type[k] += v
        out["records"] = dict(sorted(per_type.items()))
        return out


def version_info(new: Sequence[SourceFile], ledger: Sequence[dict[str, Any]], headers: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per new file: ledger version (1 + the last at the same path), what it supersedes, whether it replaces it."""
    out: dict[str, dict[str, Any]] = {}
    for f in new:
        before = sorted((r for r in ledger if r["path"] == f.path), key=lambda r: r["version"])
        if not before:
            out[f.sha256] = {"version": 1, "supersedes_sha256": None, "replaced_previous": False}
            continue
        last = before[-1]
        if f.kind == "uke":
            mine = headers.get(f.sha256, {})
            same = last["kind"] == "uke" and all(last.get(k) == mine.get(k) for k in _BATCH_IDENTITY)
        else:
            same = last["kind"] == "clinical" and last["table"] == f.table
        out[f.sha256] = {"version": last["version"] + 1, "supersedes_sha256": last["file_sha256"], "replaced_previous": same}
    return out


def ledger_rows(new: Sequence[SourceFile], counts: RunCounts, run_id: str, optout_checked: bool) -> list[dict[str, Any]]:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for f in new:
        head = counts.headers.get(f.sha256, {})
        records = dict(counts.records.get(f.sha256, {}))
        if f.kind == "uke":
            records.update({head.get("header_record", "IR"): 1} if "institution_code" in head else {})
            records.update({"IR": head["receipt_headers"]} if head.get("receipt_headers") else {})
            records.update({"GO": 1} if "go_volume_no" in head or "go_total_points" in head else {})
        else:
            records.update({"header": head.get("_header", 0)})
        opted = counts.opted_lines.get(f.sha256, 0)
        rejected = counts.rejected.get(f.sha256, 0)
        parsed = sum(records.values()) + opted
        read = counts.fact("lines_read", f.sha256)
        rows.append({
            "path": f.path, "rel_path": f.rel_path, "file_sha256": f.sha256, **counts.versions[f.sha256],
            "kind": f.kind, "claim_kind": f.claim_kind, "table": f.table, "size_bytes": f.size,
            "encoding": counts.fact("encoding", f.sha256), "encoding_evidence": counts.fact("encoding_evidence", f.sha256),
            "line_end": f.line_end, "eof_mark": counts.fact("eof_mark", f.sha256),
            **{k: head.get(k) for k in ("payer_kind", "pref_code", "institution_code", "billing_month", "volume_no",
                                         "go_volume_no", "go_total_receipts", "go_total_points")},
            "record_counts": records, "lines_read": read, "lines_parsed": parsed, "lines_rejected": rejected,
            "lines_opted_out": opted, "receipts_opted_out": counts.opted_receipts.get(f.sha256, 0),
            "optout_checked": optout_checked, "reconciled": read == parsed + rejected,
            "run_id": run_id, "ingested_at": now,
        })
    return rows
