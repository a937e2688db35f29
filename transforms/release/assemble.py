"""The DataFrame half of `tokumei anonymize`: from pinned bronze frames to the frames a release writes.

Patients are linked into one keyed `pid` (transforms/identity/linkage.py), every table with a
patient joins the pid map, the patient facts become the release table `patients`, the waiting
period after the notice holds patients back (requirement 43), k-anonymity generalizes `patients`
and suppresses the residual patients (requirements 21-22), and the rare-code plans are counted
(requirement 18). Every removal is folded into the pid map, so each table joins one map for its pid
and all its removal flags. Nothing here reads or writes a file: the job (jobs/stages/release/
anonymize.py) pins the inputs, writes the frames and records what happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.cache import Cache
from transforms.columns.pseudonym import PSEUDONYM_BITS
from transforms.kanon.hierarchy import Hierarchy
from transforms.policy import Policy
from transforms.policy.catalog import FIRST_SERVICE, PATIENT_FACTS
from transforms.release.apply import DROP_ROW, Context, check_schema, plan_rares
from transforms.release.kanon import BROADCAST_PIDS
from transforms.release.kanon_stage import KAnonStage, kanon_stage
from transforms.release.km_stage import KmStage, km_stage
from transforms.release.optout import OptOut, fact_counts, opt_out, opted_out_pids
from transforms.release.patients import (
    CLINICAL_PATIENTS,
    node_projection,
    patient_facts,
    patient_map,
    with_pid,
    with_removals,
)
from transforms.release.rare import SAMPLE
from transforms.release.waiting import NoticeSettings, WaitingPeriod, waiting_period


@dataclass(frozen=True)
class Tuning:
    """Sizes that choose join strategies and parallelism (`tuning` in conf/pipeline.yaml). The defaults
    were measured on 2 cores and 24 GiB at 12M claim lines (bench/results/anonymize_ingest_2026-11-26.md)."""

    parallel_tables: int = 3  # tables written at the same time (Spark runs concurrent jobs)
    broadcast_nodes: int = 3_000_000  # the pid map (~100 bytes a linked record) is broadcast up to this many
    small_table_bytes: int = 6 << 20  # a table this small gets only its pid-map rows (a semi join), not the map
    broadcast_pids: int = BROADCAST_PIDS  # held-back and suppressed pids broadcast to every table's join up to this
    rare_sample: int = SAMPLE  # rare codes: one patient in this many counted for plainly common codes (1: all)


@dataclass(frozen=True)
class Sources:
    """What the job read: bronze frames at pinned versions, their sizes, and ingest's identity hashes."""

    bronze: Mapping[str, DataFrame]
    sizes: Mapping[str, int]  # bytes of each table's Delta files (a table not listed counts as large)
    stored: DataFrame | None = None  # bronze/_identities when it matches the bronze tables
    # `node` of every receipt and clinical patient the 停止の求め registry names now (req 42(b));
    # None: no registry configured (the record says none was applied).
    opted_out: DataFrame | None = None


@dataclass(frozen=True)
class Settings:
    """What decides the release besides the data."""

    policy: Policy
    ctx: Context  # key material by key id and the reference tables
    pid_key: bytes
    notice: NoticeSettings
    extraction_date: dt.date
    hierarchies: Mapping[str, Hierarchy]  # quasi-identifier -> hierarchy (anonymized profile)
    tuning: Tuning = Tuning()
    # source table -> its released month columns, recoded with the items' period ((k, k^m) stage)
    time_carriers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    link_key: bytes | None = None  # keys the linkage labels (linkage.link_key); None: derived from pid_key


@dataclass
class Release:
    """The frames to write and what the record needs; `frames` in policy order."""

    frames: dict[str, DataFrame]
    policy: Policy  # the policy to write `frames` with (k-anonymity rewrites the rules of patients)
    ctx: Context  # with the rare-code plans
    linkage: dict[str, Any]
    waiting: WaitingPeriod
    kanon: KAnonStage | None
    km: KmStage | None = None
    optout: OptOut = field(default_factory=lambda: OptOut(False))

    def post(self, name: str, df: DataFrame) -> DataFrame:
        """The last step before table `name` is written: its quasi-identifier carriers recoded to the
        level k-anonymity chose (req 21), so that a join on pid gives nothing finer than `patients`,
        and its month columns to the period the items were released at (issue 16)."""
        df = self.kanon.recode(name, df) if self.kanon is not None else df
        return self.km.recode_times(name, df) if self.km is not None else df

    def table_stats(self, tables: dict[str, Any]) -> dict[str, Any]:
        """The written stats with what k-anonymity and the waiting period removed before the writing pass."""
        tables = self.kanon.table_stats(tables) if self.kanon is not None else tables
        return self.optout.table_stats(self.waiting.table_stats(tables))


def assemble(sources: Sources, settings: Settings, cache: Cache) -> Release:
    """Every frame of the release. PolicyError (a column without a rule), HierarchyError (a value not
    in its hierarchy) and NoSolutionError (k not reachable within the suppression limit) pass through."""
    policy, ctx, tuning, bronze = settings.policy, settings.ctx, settings.tuning, sources.bronze
    for name, df in bronze.items():  # default-deny at run time, before anything is computed
        check_schema(df, policy.tables[name], with_pid=False)
    pid_map, summary = patient_map(bronze, settings.pid_key, policy.linkage, *_receipt_pseudonym(policy, ctx),
                                   stored=sources.stored, cache=cache, link_key=settings.link_key)
    linkage = {**summary, "identities": "stored" if sources.stored is not None else "computed"}
    drop_unlinked = policy.linkage.unlinked == "drop"
    broadcast = summary["nodes"] <= tuning.broadcast_nodes

    def joined(df: DataFrame, size: int, pid_map: DataFrame, drop: bool = False) -> DataFrame:
        return with_pid(df, pid_map, drop, broadcast=broadcast, small_table=size <= tuning.small_table_bytes)

    def size(*names: str) -> int:
        return sum(sources.sizes.get(n, tuning.small_table_bytes + 1) for n in names)

    frames: dict[str, DataFrame] = {}
    for name, table in policy.tables.items():
        if name in bronze and table.output:
            frames[name] = joined(bronze[name], size(name), pid_map, drop_unlinked) if "pid" in table.derived else bronze[name]
    clinical = joined(bronze[CLINICAL_PATIENTS], size(CLINICAL_PATIENTS), pid_map) if CLINICAL_PATIENTS in bronze else None
    receipts = frames.get("receipts", joined(bronze["receipts"], size("receipts"), pid_map))
    labs = joined(bronze["labs"], size("labs"), pid_map) if "labs" in bronze else None
    first_samples = _first_samples(bronze, lambda df: joined(df, size("labs"), pid_map))
    facts = patient_facts(receipts.where(~F.col(DROP_ROW)) if drop_unlinked else receipts, clinical, ctx.prefectures,
                          first_samples)
    at_first_service = _at_first_service(policy)
    # Computed once when both k-anonymity and the pid map read it (tables with `at: first_service`).
    facts = cache.materialize(facts) if at_first_service else facts
    # A patient known only from a clinical patient master, without any claim or lab sample, has no row
    # in any other table and no age (no service to take it at): released, they would add rows of
    # demographics only. They are left out and counted (issue 16 item 4).
    opted = cache.materialize(opted_out_pids(pid_map, sources.opted_out)) if sources.opted_out is not None else None
    counts = fact_counts(facts, opted)  # one pass: without data, patients in, opted out (req 42)
    without_data = counts.without_data
    facts = frames[PATIENT_FACTS] = facts.where(F.col(FIRST_SERVICE).isNotNull()) if without_data else facts
    for name, df in frames.items():  # default-deny at run time, before anything is written
        check_schema(df, policy.tables[name])
    # 停止の求め as the registry stands now (req 42(b)): before the waiting period and k-anonymity,
    # so that k holds among the patients actually released.
    frames, optout = opt_out(frames, policy, opted, counts, cache, tuning.broadcast_pids)
    frames, waiting = waiting_period(frames, policy, settings.notice, settings.extraction_date, receipts, labs,
                                     cache, tuning.broadcast_pids)  # req 43
    write_policy, kanon = policy, None  # 規則34条5号 (reqs 21-22): k-anonymous patients, suppressed patients' rows removed
    if policy.profile == "anonymized":
        kanon = kanon_stage(frames, policy, ctx, settings.hierarchies, cache, tuning.broadcast_pids)
        frames, write_policy = kanon.frames, kanon.policy
    km = None  # (k, k^m): the patients' items with their released quasi-identifiers (issue 16, req 22)
    if kanon is not None and policy.params.km is not None:
        km = km_stage(frames, policy, policy.params.km, kanon, bronze["receipts"], settings.hierarchies, ctx.hierarchies,
                      settings.time_carriers, cache)
        frames = kanon.frames  # `patients` at the levels (k, k^m) left it

    # Every removal (held back, suppressed) folded into the pid map: each table joins one map for pid
    # and flags, instead of the map and then each list of removed patients on the pid. Tables with
    # `at: first_service` get each row's patient's first service month from it as well.
    mark = _marks(optout, waiting, kanon)
    final_map = with_removals(pid_map, mark, facts if at_first_service else None, cache)
    for name in list(frames):
        if name != PATIENT_FACTS and name in bronze and "pid" in frames[name].columns:
            frames[name] = joined(bronze[name], size(name), final_map, drop_unlinked)
            if km is not None:
                frames[name] = km.release(name, frames[name], bronze["receipts"])

    # Rare-code plans (req 18) from the bronze code columns: their union gets pid in one join.
    coded = {n: bronze[n] for n, df in frames.items() if n in bronze and "pid" in df.columns}
    ctx = plan_rares(coded, write_policy.tables, ctx, node_projection,
                     lambda df: joined(df, size(*coded), final_map, drop_unlinked), cache, tuning.rare_sample)
    return Release(frames, write_policy, ctx, {**linkage, "patients_without_data": without_data}, waiting, kanon, km,
                   optout)


def _marks(optout: OptOut, waiting: WaitingPeriod, kanon: KAnonStage | None) -> Callable[[DataFrame], DataFrame]:
    if kanon is None:
        return lambda m: waiting.mark(optout.mark(m))
    return lambda m: kanon.mark(waiting.mark(optout.mark(m)))


def _receipt_pseudonym(policy: Policy, ctx: Context) -> tuple[bytes | None, int]:
    """(key, bits) of receipt_key's pseudonym when every released table uses the same plain rule for
    it, else (None, 256): the pid map then carries no receipt pseudonym."""
    rules = [t.columns["receipt_key"] for t in policy.tables.values() if t.output and "receipt_key" in t.columns]
    first = rules[0] if rules else None
    if first is None or first.method != "pseudonymize" or first.params["normalize"] != "none":
        return None, 256
    if any(r.method != first.method or r.params != first.params for r in rules):
        return None, 256
    return ctx.key(first, f"column:{first.params['domain'] or 'receipt_key'}"), first.params.get("bits", PSEUDONYM_BITS)


def _first_samples(bronze: Mapping[str, DataFrame], attach: Callable[[DataFrame], DataFrame]) -> DataFrame | None:
    """Each clinical patient's first lab sample, with pid: all patient_facts needs of labs. Taken per
    patient before the pid map is joined (3M lab rows become one row per patient)."""
    labs = bronze.get("labs")
    if labs is None:
        return None
    if not {"institution_code", "patient_id"} <= set(labs.columns):
        return attach(labs)
    return attach(labs.groupBy("institution_code", "patient_id").agg(F.min("sampled_on").alias("sampled_on")))


def _at_first_service(policy: Policy) -> bool:
    """Whether a rule takes an age at the patient's first service month on a table other than patients."""
    return any(r.params.get("at") == FIRST_SERVICE for n, t in policy.tables.items() if n != PATIENT_FACTS
               for r in t.columns.values())


def row_id(df: DataFrame) -> Any:
    """A stable identity per input row for keyed noise and swaps: the source line, else the patient."""
    if {"file_sha256", "line_no"} <= set(df.columns):
        return F.concat_ws(":", F.col("file_sha256"), F.col("line_no").cast("string"))
    return F.col("pid") if "pid" in df.columns else None
