"""Apply one table's policy to a DataFrame: every source column through its rule, in one plan.

The output is `select`-ed explicitly (STYLE.md: the schema contract at the end of a transform): only
columns a rule writes, plus `pid` when the table derives it. What each rule did is counted with
`DataFrame.observe` in the same pass that writes the table (no second pass over the data): input
cells, cells changed, cells suppressed, and rows removed by record-level suppression.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.cache import NO_CACHE, Cache
from transforms.columns import dates, geo, numeric, perturb
from transforms.columns.classification import with_hierarchy
from transforms.columns.pseudonym import PSEUDONYM_BITS, KeyPads, hmac_sha256_hex, with_keys
from transforms.identity import keys as identity
from transforms.identity.linkage import derive_key
from transforms.local import local_frame
from transforms.policy import PolicyError, Rule, TablePolicy
from transforms.policy.catalog import FIRST_SERVICE, PATIENT_FIRST_SERVICE
from transforms.release import rare
from transforms.release.table_stats import rule_metrics, stats_from_metrics

DROP_ROW = rare.DROP_ROW  # a caller may flag rows to remove (e.g. unlinked receipts); they are counted
REMOVED_BY = "__removed_by_"  # + reason: a caller's flag of why a row is removed; counted per reason
PRE_RECEIPT_KEY = "__pre_receipt_key"  # receipt_key's pseudonym, precomputed once per receipt by the caller
_NORMALIZE = {
    "digits": identity.normalize_digits, "insurer": identity.normalize_insurer,
    "card": identity.normalize_card, "kana": identity.normalize_kana,
}


@dataclass(frozen=True)
class Context:
    """What rules need besides the data: key material by key id and the small reference tables."""

    keys: Mapping[str, bytes]
    default_key_id: str
    hierarchies: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)  # file -> code -> row
    prefectures: Mapping[str, str] = field(default_factory=dict)  # 都道府県名 -> JIS code
    municipalities: Mapping[str, str] = field(default_factory=dict)  # 都道府県名+市区町村名 -> JIS code
    rare_plans: Mapping[str, rare.RarePlan] = field(default_factory=dict)  # "table.column" -> plan (plan_rares)

    def key(self, rule: Rule, purpose: str) -> bytes:
        return derive_key(self.keys[rule.params.get("key") or self.default_key_id], purpose)

    def __repr__(self) -> str:  # never print key material
        return f"Context(key_ids={sorted(self.keys)}, default_key_id={self.default_key_id!r})"


@dataclass
class Applied:
    df: DataFrame  # the table to write
    observation: Observation
    rules: list[tuple[str, Rule]]
    absent: list[str]
    notes: dict[str, Any]

    def stats(self) -> dict[str, Any]:
        """Counts per column; valid once the output has been written (observe fires then)."""
        return stats_from_metrics(self.observation.get, self.rules, self.absent, self.notes)


def check_schema(df: DataFrame, table: TablePolicy, with_pid: bool = True) -> None:
    """Runtime default-deny: a bronze column without a rule stops the run, naming the column.

    `with_pid=False` checks a raw bronze table, before `pid` is attached."""
    allowed = set(table.columns) | ({"pid"} if "pid" in table.derived else set()) | {DROP_ROW, PRE_RECEIPT_KEY,
                                                                                     PATIENT_FIRST_SERVICE}
    for col in df.columns:
        if col not in allowed and not col.startswith(REMOVED_BY):
            raise PolicyError(f"tables.{table.name}.{col}", f"column {col!r} of {table.name} has no rule "
                              f"(default-deny); ruled columns: {', '.join(sorted(table.columns))}")
    if with_pid and "pid" in table.derived and "pid" not in df.columns:
        raise ValueError(f"{table.name}: derived pid declared but the input has no pid column")


def apply_table(df: DataFrame, table: TablePolicy, ctx: Context, row_id: Column | None = None,
                source: DataFrame | None = None) -> Applied:
    """`df` with the table's rules applied (lazy), and the observation that counts what they changed
    as the result is written. `source`: the same rows without the joins that gave `df` its pid and
    removal flags (the bronze table), for table-wide statistics (quantiles) that need no patient."""
    check_schema(df, table)
    rules = [(c, r) for c, r in table.columns.items() if c in df.columns]
    absent = [c for c in table.columns if c not in df.columns]
    work, pads = with_keys(df, _rule_keys(df, rules, ctx))  # key pads as columns, never plan literals
    exprs, levels, notes = {}, {}, {}
    drop = F.col(DROP_ROW) if DROP_ROW in df.columns else F.lit(False)
    for col, rule in rules:
        if rule.method == "drop":
            continue
        work, expr, note = _rule(df, work, table, col, rule, ctx, row_id, pads.get(col), source)
        exprs[col] = expr
        if note:
            notes[col] = note
        if rule.method == "rare":
            lvl = F.col(f"__lvl_{col}")
            levels[col] = lvl
            if rule["action"] == "record":
                drop = drop | F.coalesce(lvl == rare.SUPPRESSED, F.lit(False))
    for col, rule in rules:  # NDB-S: the 点数 of a masked code is blanked too
        for other in (rule.params.get("blank") or ()) if rule.method == "rare" else ():
            if other in exprs:
                exprs[other] = F.when(levels[col] == rare.SUPPRESSED, F.lit(None)).otherwise(exprs[other])
    outputs: list[tuple[str, Column]] = [("pid", F.col("pid"))] if "pid" in table.derived else []
    for col, rule in rules:
        if col in exprs:
            outputs.append((rule.output, exprs[col]))
            if rule.method == "rare" and rule["level_column"]:
                outputs.append((f"{rule.output}_level", levels[col]))
    new = [e.alias(f"__n{i}") for i, (_, e) in enumerate(outputs)]
    reasons = [c for c in df.columns if c.startswith(REMOVED_BY)]
    staged = work.select(*[F.col(c) for c, _ in rules], *new, drop.alias("__drop"), *reasons)
    index = {name: f"__n{i}" for i, (name, _) in enumerate(outputs)}
    obs = Observation(f"anonymize_{table.name}")
    metrics = [F.count(F.lit(1)).alias("rows"), F.sum(F.col("__drop").cast("long")).alias("rows_removed")]
    metrics += [F.sum(F.coalesce(F.col(c), F.lit(False)).cast("long")).alias(f"removed_by:{c[len(REMOVED_BY):]}") for c in reasons]
    for i, (col, rule) in enumerate(rules):
        metrics += rule_metrics(i, col, rule, index.get(rule.output) if col in exprs else None)
    final = staged.observe(obs, *metrics).where(~F.col("__drop"))
    final = final.select(*[F.col(f"__n{i}").alias(name) for i, (name, _) in enumerate(outputs)])
    return Applied(final, obs, rules, absent, notes)


_KEY_PURPOSE = {"date_shift": "date_shift", "noise": "noise", "rank_swap": "rank_swap"}


def _rule_keys(df: DataFrame, rules: list[tuple[str, Rule]], ctx: Context) -> dict[str, bytes]:
    """The derived key of every keyed rule, by column."""
    out = {}
    for col, rule in rules:
        if rule.method == "pseudonymize" and not (col == "receipt_key" and PRE_RECEIPT_KEY in df.columns):
            out[col] = ctx.key(rule, f"column:{rule.params['domain'] or col}")
        elif rule.method in _KEY_PURPOSE:
            out[col] = ctx.key(rule, _KEY_PURPOSE[rule.method])
    return out


def _reference_date(df: DataFrame, table: TablePolicy, at: str) -> Column:
    """The date column `at` names: a column of the table, or the patient's first service month."""
    if at in df.columns:
        return F.col(at)
    if at == FIRST_SERVICE and PATIENT_FIRST_SERVICE in df.columns:
        return F.col(PATIENT_FIRST_SERVICE)
    raise ValueError(f"{table.name}: `at: {at}` needs the patient's first service month (the caller joins it with pid)")


def _rule(df: DataFrame, work: DataFrame, table: TablePolicy, col: str, rule: Rule, ctx: Context,
          row_id: Column | None, key: KeyPads | None = None, source: DataFrame | None = None,
          ) -> tuple[DataFrame, Column, dict[str, Any] | None]:
    """(frame, output expression, note) for one rule; frame-level steps add temporary columns.
    `key`: the pads of the rule's key in `work` (keyed methods)."""
    m, p, c = rule.method, rule.params, F.col(col)
    dtype = df.schema[col].dataType
    tmp = f"__o_{col}"
    if m == "keep":
        return work, c, None
    if m == "pseudonymize":
        if col == "receipt_key" and PRE_RECEIPT_KEY in df.columns:  # the caller computed it with this rule's key
            return work, F.col(PRE_RECEIPT_KEY), None
        norm = _NORMALIZE.get(p["normalize"], lambda x: x)(c.cast("string"))
        assert key is not None
        return work, hmac_sha256_hex(norm, key, p.get("bits", PSEUDONYM_BITS)), None
    if m in ("generalize_date", "age", "age_band"):
        if m == "generalize_date" and not p.get("top"):
            return work, dates.generalize_date(c, p["unit"]), None
        if not p.get("at"):  # top-coding needs the service date: generalize_birth says so
            return work, dates.generalize_birth(c, p["unit"], None, p["top"]), None
        # the age in a projection of its own: the band and top-coding use it several times
        work = work.withColumn(tmp, dates.age_at(c, _reference_date(df, table, p["at"])))
        years = F.col(tmp)
        if m == "generalize_date":
            return work, dates.birth_below_top(c, p["unit"], years, p["top"]), None
        if m == "age":
            return work, dates.top_age(years, p.get("top")), None
        return work, dates.band_of_age(years, p["width"], p.get("top")), None
    if m == "date_shift":
        assert key is not None
        return work, dates.shift_date(c, dates.shift_days(F.col("pid"), key, p["max_days"])), None
    if m == "clip":
        by = [p["by"]] if p.get("by") else []
        stats_of = source if source is not None and {col, *by} <= set(source.columns) else df
        return _clip(stats_of, work, col, rule)
    if m == "round":
        return work, _same_type(numeric.round_to(c, p["to"]), dtype), None
    if m == "bin":
        integral = _integral(dtype)
        out = numeric.bin_edges(c, p["edges"], integral) if p.get("edges") else numeric.bin_width(c, p["width"], integral)
        return work, out, None
    if m == "postal_prefix":
        return work, geo.postal_prefix(c, p["digits"]), None
    if m == "address_area":
        return work, geo.address_area(c, p["level"], ctx.prefectures, ctx.municipalities), None
    if m == "institution_area":
        return work, geo.institution_prefecture(c), None
    if m == "hierarchy":
        mapping = _hierarchy_df(df, ctx.hierarchies[p["file"]], p["key"], p["level"])
        return with_hierarchy(work, col, mapping, p["key"], p["level"], tmp, p["unmapped"]), F.col(tmp), None
    if m == "rare":
        plan = ctx.rare_plans.get(f"{table.name}.{col}") or rare.plan_rare_many({"": _rare_request(df, col, rule, ctx)})[""]
        work = rare.apply_rare(work, col, plan, tmp, f"__lvl_{col}")
        return work, F.col(tmp), plan.summary
    if row_id is None and m in ("noise", "rank_swap"):
        raise ValueError(f"{table.name}.{col}: {m} needs a row identity")
    if m == "noise":
        assert key is not None
        out = perturb.add_noise(c, row_id, key, p["scale"], p["distribution"], p["seed"])  # type: ignore[arg-type]
        out = numeric.round_to(out, p["round_to"]) if p.get("round_to") else out
        return work, _same_type(out, dtype), None
    if m == "microaggregate":
        return perturb.microaggregate(work, col, tmp, p["k"], p["max_distinct"]), _same_type(F.col(tmp), dtype), None
    if m == "rank_swap":
        assert key is not None
        return perturb.rank_swap(work, col, tmp, row_id, key, p["p"], p["seed"], p["max_distinct"]), F.col(tmp), None  # type: ignore[arg-type]
    raise PolicyError(f"tables.{table.name}.{col}", f"method {m!r} is declared but not implemented")  # pragma: no cover


def _rare_request(df: DataFrame, col: str, rule: Rule, ctx: Context) -> rare.RareRequest:
    p = rule.params
    hier = ctx.hierarchies.get(p["file"]) if p.get("file") else None
    # Count patients only over the rows that will be released: rows flagged for removal (unlinked,
    # suppressed by k-anonymity) would otherwise keep a code above the threshold (req 18).
    kept = df.where(~F.coalesce(F.col(DROP_ROW), F.lit(False))) if DROP_ROW in df.columns else df
    return rare.RareRequest(kept, col, p["threshold"], hier, p.get("levels") or (), p.get("cumulative_share"))


def plan_rares(frames: Mapping[str, DataFrame], tables: Mapping[str, TablePolicy], ctx: Context,
               project: Callable[[DataFrame, str], DataFrame] | None = None,
               released: Callable[[DataFrame], DataFrame] | None = None, cache: Cache = NO_CACHE,
               sample: int = rare.SAMPLE) -> Context:
    """`ctx` with the plans of every `rare` rule of `frames`, computed in one Spark query (see
    rare.plan_rare_many); apply_table then uses them instead of a pass over each table.

    With `project` and `released`, `frames` are the source tables without `pid`: `project(frame,
    column)` keeps the code column and what `released` needs to find the patient, and `released`
    adds `pid` and the removal flags to the union of those projections in one step."""
    requests = {f"{name}.{col}": _rare_request(project(df, col) if project else df, col, rule, ctx)
                for name, df in frames.items() for col, rule in tables[name].columns.items()
                if rule.method == "rare" and col in df.columns}
    plans = rare.plan_rare_many(requests, released=released, sample=sample, cache=cache)
    return replace(ctx, rare_plans={**ctx.rare_plans, **plans})


def _clip(df: DataFrame, work: DataFrame, col: str, rule: Rule) -> tuple[DataFrame, Column, dict[str, Any]]:
    p, c, dtype = rule.params, F.col(col), df.schema[col].dataType
    lower, upper = p.get("lower"), p.get("upper")
    lq, uq = p.get("lower_quantile"), p.get("upper_quantile")
    if (lq is not None or uq is not None) and p.get("by"):
        bounds = numeric.quantile_bounds_by(df, col, p["by"], lq, uq, p["relative_error"])
        bounds = bounds.withColumnRenamed("__lower", f"__lo_{col}").withColumnRenamed("__upper", f"__hi_{col}")
        work = work.join(F.broadcast(bounds), p["by"], "left")
        lo = F.col(f"__lo_{col}") if lq is not None else lower
        hi = F.col(f"__hi_{col}") if uq is not None else upper
        return work, _same_type(numeric.clip(c, lo, hi), dtype), {"bounds": f"quantiles by {p['by']}"}
    if lq is not None or uq is not None:
        b = numeric.quantile_bounds(df, col, lq, uq, p["relative_error"])
        lower = b.lower if lq is not None else lower
        upper = b.upper if uq is not None else upper
    return work, _same_type(numeric.clip(c, lower, upper), dtype), {"lower": lower, "upper": upper}


def _integral(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.IntegralType) or (isinstance(dtype, T.DecimalType) and dtype.scale == 0)


def _same_type(col: Column, dtype: T.DataType) -> Column:
    return (F.round(col) if _integral(dtype) else col).cast(dtype)


def _hierarchy_df(df: DataFrame, rows: Mapping[str, Mapping[str, str]], key: str, level: str) -> DataFrame:
    data = [(code, row.get(level)) for code, row in sorted(rows.items())]
    return local_frame(df.sparkSession, data, f"`{key}` string, `{level}` string")
