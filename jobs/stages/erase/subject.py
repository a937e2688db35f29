"""Who or what `tokumei erase` deletes: a patient (the opt-out registry's identity keys), source files
(sha256 or path, through the `_files` ledger) or an institution (10-digit 医療機関コード).

A subject resolves to the keys bronze rows carry: receipt keys, clinical (institution_code,
patient_id) pairs, file hashes, an institution code. The audit row gets a description that names no
person: for a patient only a keyed digest of the requested identities (requirement 46; never the raw
identity, and no unkeyed hash a dictionary could reverse).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.delta_io import is_delta
from jobs.runtime.errors import InputError
from jobs.runtime.keys import Key
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.clinical import known_patient_keys
from jobs.stages.ingest.optout import opted_receipts
from transforms.identity.linkage import derive_key
from transforms.identity.optout import CONFIRMATION_COLUMN, identity_sources, with_registry_types


@dataclass(frozen=True)
class Subject:
    kind: str  # patient | file | institution | expired
    description: str  # Japanese, names no person
    digest: str
    receipt_keys: DataFrame | None = None  # receipt_key
    patient_keys: DataFrame | None = None  # institution_code, patient_id
    file_shas: tuple[str, ...] = ()
    institution: str | None = None  # 10 digits: 都道府県番号 + 点数表番号 + 医療機関コード
    persons: int = 0
    notes: list[str] = field(default_factory=list)


def patient_subject(spark: SparkSession, wh: Warehouse, csv: str, key: Key) -> Subject:
    """The people a CSV names with the registry's identity columns (insurer_no, card_symbol,
    card_number, branch_no, birth_date, sex, kana_name; confirmation_doc optional), matched exactly as
    opt-out matches (transforms/identity/optout.py)."""
    if not Path(csv).is_file():
        raise InputError(f"--patients {csv}: no such CSV file")
    raw = spark.read.option("header", True).option("encoding", "UTF-8").csv(csv)
    if CONFIRMATION_COLUMN not in raw.columns:
        raw = raw.withColumn(CONFIRMATION_COLUMN, F.lit("erase"))
    try:
        typed = with_registry_types(raw)
    except ValueError as exc:
        raise InputError(f"--patients {csv}: {exc}") from exc
    bad = {r["_bad"]: r["count"] for r in typed.where(F.col("_bad").isNotNull()).groupBy("_bad").count().collect()}
    if bad:
        raise InputError(f"--patients {csv}: rows that can never match, by column: {bad}; fix them and re-run")
    ids = identity_sources(typed.drop("_bad", CONFIRMATION_COLUMN), []).localCheckpoint()
    # The request's own identities (a few rows), keyed: the audit can later prove which request it was.
    strings = sorted(r["identity"] for r in ids.collect())
    digest = hmac.new(derive_key(key.material, "erase-audit"), "\n".join(strings).encode("utf-8"),
                      hashlib.sha256).hexdigest()
    receipts = opted_receipts(spark, wh, ids)
    receipts = receipts.localCheckpoint() if receipts is not None else None
    patients = None
    if is_delta(spark, wh.bronze("patients")):
        patients = known_patient_keys(spark, wh.bronze("patients"), ids).localCheckpoint()
    persons = typed.count()
    return Subject("patient", f"患者 {persons} 名（本人を識別する情報は記録しない。鍵付きダイジェストのみ）", digest,
                   receipt_keys=receipts, patient_keys=patients, persons=persons)


def _ledger(spark: SparkSession, wh: Warehouse) -> DataFrame:
    if not is_delta(spark, wh.ledger):
        raise InputError(f"{wh.ledger}: no file ledger (nothing was ingested into this warehouse)")
    return spark.read.format("delta").load(wh.ledger)


def _shas_digest(shas: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(shas)).encode("ascii")).hexdigest()


def file_subject(spark: SparkSession, wh: Warehouse, values: list[str]) -> Subject:
    """Source files by sha256 or by path (as ingested, absolute or relative to the input folder)."""
    rows = _ledger(spark, wh).select("file_sha256", "path", "rel_path").collect()
    shas, missing = [], []
    for v in values:
        found = [r["file_sha256"] for r in rows if v.lower() == r["file_sha256"] or v in (r["path"], r["rel_path"])]
        (shas.extend(found) if found else missing.append(v))
    if missing:
        raise InputError(f"--file {missing[0]}: not in the file ledger {wh.ledger} (give a sha256 or a path "
                         "as ingested; `_files` lists them)")
    shas = sorted(set(shas))
    names = ", ".join(f"{r['rel_path']} ({r['file_sha256'][:12]})" for r in rows if r["file_sha256"] in shas)
    return Subject("file", f"取り込みファイル {len(shas)} 件: {names}", _shas_digest(shas), file_shas=tuple(shas))


def institution_subject(spark: SparkSession, wh: Warehouse, code: str) -> Subject:
    """Every UKE file of an institution (IR: 都道府県番号 and 医療機関コード) and every clinical row with its code."""
    if not (len(code) == 10 and code.isdigit()):
        raise InputError(f"--institution {code!r}: give the 10-digit code (都道府県番号 2 + 点数表番号 1 + "
                         "医療機関コード 7), as the clinical extracts carry it; a 7-digit code is ambiguous across prefectures")
    ledger = _ledger(spark, wh).where((F.col("kind") == "uke") & (F.col("pref_code") == code[:2])
                                      & (F.col("institution_code") == code[3:]))
    shas = sorted({r["file_sha256"] for r in ledger.select("file_sha256").collect()})
    return Subject("institution", f"医療機関 {code}（レセプトファイル {len(shas)} 件と臨床抽出の同機関の行）",
                   hashlib.sha256(code.encode("ascii")).hexdigest(), file_shas=tuple(shas), institution=code)


def expired_files(spark: SparkSession, wh: Warehouse, days: int) -> Subject:
    """Files ingested more than `days` days ago (ledger `ingested_at`, UTC), for `--expired`."""
    cutoff = F.expr(f"current_timestamp() - INTERVAL {int(days)} DAYS")
    old = _ledger(spark, wh).where(F.col("ingested_at") < cutoff).select("file_sha256").collect()
    shas = sorted({r["file_sha256"] for r in old})
    return Subject("expired", f"保存期間 {days} 日を過ぎた取り込みファイル {len(shas)} 件（bronze）",
                   _shas_digest(shas), file_shas=tuple(shas))
