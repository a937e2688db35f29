"""The checks a staged release must pass, derived from the policy it was made with.

The policy says what each output column is; this module turns that into `TableChecks` that GX runs
(expectations/gx_suite.py). Checks never trust the transform that wrote the data: they look at the
values again (pseudonym shape, age bands, identifier-shaped text, rare codes, k-groups).
Requirement numbers refer to ../shared/reference/legal_requirements.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from expectations.checks import ScanColumn, TableChecks
from transforms.policy import NEVER_KEEP, RARE_CODE_COLUMNS, Policy, TablePolicy
from transforms.policy.catalog import STRING_KINDS, ColumnInfo
from transforms.release.qi_hierarchies import age_band_labels


def output_columns(table: TablePolicy) -> tuple[str, ...]:
    """The exact columns the policy releases for `table`, in output order."""
    cols: list[str] = ["pid"] if "pid" in table.derived else []
    for rule in table.columns.values():
        if rule.method == "drop":
            continue
        cols.append(rule.output)
        if rule.method == "rare" and rule.params.get("level_column"):
            cols.append(f"{rule.output}_level")
    return tuple(cols)


def source_table(policy: Policy, staged: Mapping[str, Any], table: str) -> TablePolicy:
    for out in staged.get("outputs", ()):
        if out["table"] == table and out.get("source") in policy.tables:
            return policy.tables[out["source"]]
    for t in policy.tables.values():
        if t.output == table:
            return t
    raise KeyError(f"{table}: no table of the policy is released under this name")


def checks_for_release(
    policy: Policy,
    staged: Mapping[str, Any],
    table: str,
    columns: Sequence[str],
    catalog: Mapping[str, Mapping[str, ColumnInfo]] | None = None,
    qi_labels: Mapping[str, Sequence[str]] | None = None,
) -> TableChecks:
    """The checks for one staged output table (`columns`: what the table actually holds).

    `qi_labels`: per quasi-identifier, the values its hierarchy has at the level k-anonymity chose;
    the quasi-identifiers of `patients` and the columns carrying them elsewhere must hold no other."""
    tp = source_table(policy, staged, table)
    declared = output_columns(tp)
    infos = (catalog or {}).get(tp.name, {})
    anonymized = policy.profile == "anonymized"

    # Identifiers the policy drops must not come back under their own name (reqs 4, 11-14, 37).
    forbidden = tuple(
        c for c, r in tp.columns.items()
        if r.method == "drop" and c not in declared and (c in NEVER_KEEP or _risky(infos.get(c)))
    )
    pseudonyms = (("pid",) if "pid" in tp.derived else ()) + tuple(
        r.output for r in tp.columns.values() if r.method == "pseudonymize"
    )
    value_sets: dict[str, tuple[str, ...]] = {}
    max_values: dict[str, float] = {}
    regex: dict[str, str] = {}
    kanon = staged.get("kanon")
    levels = kanon.get("levels", {}) if kanon and kanon.get("table") == table else {}
    for rule in tp.columns.values():
        if rule.method == "age_band":
            top = rule.params.get("top") or (policy.params.age_top if anonymized else None)
            # req 17: nothing above the top band; req 21: the bands at the level k-anonymity chose (`*` at the top)
            value_sets[rule.output] = age_band_labels(int(rule["width"]), top, int(levels.get(rule.output, 0)))
        elif rule.method == "age":
            top = rule.params.get("top") or (policy.params.age_top if anonymized else None)
            if top is not None:
                max_values[rule.output] = float(top)
        elif rule.method == "postal_prefix":
            regex[rule.output] = rf"^[0-9]{{{int(rule['digits'])}}}$"  # req 6
    if kanon and qi_labels:  # req 21: nothing finer than the chosen level, in patients and in every join on pid
        carried = {q: q for q in kanon["quasi_identifiers"]} if kanon.get("table") == table else {}
        carried |= {c: v["quasi_identifier"] for c, v in kanon.get("carriers", {}).get(table, {}).items()}
        for c, qi in carried.items():
            if qi in qi_labels:
                value_sets[c] = tuple(qi_labels[qi])
    scan = identifier_scan(tp, infos)
    births = tuple(r.output for c, r in tp.columns.items() if c == "birth_date" and r.method in ("keep", "generalize_date"))
    rare: list[tuple[str, str, int]] = []
    if anonymized and "pid" in tp.derived:  # req 18: no rare code in an anonymized release
        for col, rule in tp.columns.items():
            if (tp.name, col) in RARE_CODE_COLUMNS and rule.method != "drop":
                t = rule.params.get("threshold") or policy.params.rare_threshold
                rare.append((rule.output, "pid", int(t)))
    groups = diversity = None
    if kanon and kanon.get("table") == table:  # req 21: set once k-anonymity ran on this table
        groups = (tuple(kanon["quasi_identifiers"]), int(kanon["k"]))
        if kanon.get("l") and kanon.get("sensitive"):
            diversity = (tuple(kanon["quasi_identifiers"]), str(kanon["sensitive"]), int(kanon["l"]))
    return TableChecks(
        table=table,
        columns=tuple(columns) if set(columns) == set(declared) else declared,
        forbidden_columns=forbidden,
        pseudonyms=pseudonyms,
        regex=regex,
        identifier_scan=scan,
        birth_columns=births,
        value_sets=value_sets,
        max_values=max_values,
        min_group_size=groups,
        min_diversity=diversity,
        min_patients_per_code=tuple(rare),
    )


def _risky(info: ColumnInfo | None) -> bool:
    return info is not None and info.risk in ("DIRECT", "LINK")


def identifier_scan(tp: TablePolicy, infos: Mapping[str, ColumnInfo]) -> tuple[ScanColumn, ...]:
    """Every released column made from a string column, for the identifier detectors (requirements 8,
    9, 11-13, 41): kept, generalized or coded alike, since a code column can carry a planted value too.
    Pseudonyms are left out: their own expectation already pins every value to a hex digest."""
    out = []
    for col, rule in tp.columns.items():
        info = infos.get(col)
        if rule.method in ("drop", "pseudonymize") or info is None or info.kind not in STRING_KINDS:
            continue
        out.append(ScanColumn(rule.output, info.shape, info.is_code))
    return tuple(out)
