"""What the law forbids a policy to say, checked per table whatever the YAML says.

Requirement numbers refer to ../shared/reference/legal_requirements.md. Both profiles remove
direct identifiers, 個人識別符号 and linking codes (B, C, D; J 37-38 for 仮名加工); the anonymized
profile also applies 規則34条 item 4 (特異な記述: E 17-19) and coarsens day-level dates (F 22).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from transforms.policy.catalog import DATE_KINDS, FIRST_SERVICE, ColumnInfo
from transforms.policy.methods import METHODS
from transforms.policy.model import PolicyError, ProfileParams, Rule, TablePolicy

# 直接識別子・個人識別符号・連結符号 besides the layouts' DIRECT/LINK risk (requirements 4-14, 37).
NEVER_KEEP = frozenset({
    "name", "kana_name", "chart_no", "insurer_no", "card_symbol", "card_number", "branch_no",
    "recipient_no", "payer_no", "certificate_no", "phone", "institution_phone", "email", "mobile",
    "postal_code", "address", "birth_date", "my_number", "individual_number", "passport_no",
    "pension_no", "license_no", "resident_code", "residence_card_no", "patient_id", "receipt_key",
    "file_sha256", "source_file", "receipt_no", "search_no",
})
CONTACT = frozenset({"phone", "institution_phone", "email", "mobile"})  # requirements 8, 38, 41: drop only
IDENTIFIER_GENERALIZERS = {
    "birth_date": frozenset({"generalize_date", "age", "age_band"}),
    "postal_code": frozenset({"postal_prefix"}),
    "address": frozenset({"address_area"}),
}
# Requirement 18: in an anonymized release these codes are held by >= threshold patients.
RARE_CODE_COLUMNS = frozenset({
    ("diagnoses", "disease_code"), ("drugs", "drug_code"), ("procedures", "procedure_code"),
    ("materials", "material_code"), ("dental_procedures", "procedure_code"), ("dispensings", "fee_code"),
    ("pharmacy_fees", "base_code"),
})


# Requirement 20: a facility identifier (risk INST: 医療機関コード, 名称, 電話, 所在地, 病床数, 医療機関別係数)
# is dropped or generalized in an anonymized release; of the facility only its 都道府県 may stay as it is.
INST_METHODS = frozenset({"drop", "bin"})
PREFECTURE = frozenset({"pref_code", "prescriber_pref_code"})


def is_identifier(column: str, info: ColumnInfo) -> bool:
    return column in NEVER_KEEP or info.risk in ("DIRECT", "LINK")


def allowed_for_identifier(column: str) -> frozenset[str]:
    if column in CONTACT:
        return frozenset({"drop"})
    return frozenset({"drop", "pseudonymize"}) | IDENTIFIER_GENERALIZERS.get(column, frozenset())


def check_table(table: TablePolicy, cols: dict[str, ColumnInfo], profile: str, params: ProfileParams) -> TablePolicy:
    """Refuse what the law forbids; return the table with profile defaults filled in (top, threshold)."""
    columns = {}
    for col, rule in table.columns.items():
        key = f"tables.{table.name}.{col}"
        columns[col] = _check_rule(key, table, col, rule, cols, profile, params)
    names = [r.output for r in columns.values() if r.method != "drop"] + list(table.derived)
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise PolicyError(f"tables.{table.name}", f"two rules write the output column {sorted(dup)[0]!r}")
    if table.output is None and table.derived:
        raise PolicyError(f"tables.{table.name}.derived", "the table is not released (output: false): no derived columns")
    return replace(table, columns=columns)


def _check_rule(key: str, table: TablePolicy, col: str, rule: Rule, cols: dict[str, ColumnInfo],
                profile: str, params: ProfileParams) -> Rule:
    info, spec, m = cols[col], METHODS[rule.method], rule.method
    label = f"{info.label}（{col}）" if info.label else col
    if is_identifier(col, info) and m not in allowed_for_identifier(col):
        allowed = ", ".join(sorted(allowed_for_identifier(col)))
        raise PolicyError(key, f"{label} は直接識別子・個人識別符号・連結符号です。{m} は使えません"
                               f" (a direct identifier is never kept; allowed: {allowed}; requirements 4-14, 37)")
    if info.kind not in spec.kinds:
        raise PolicyError(key, f"{m} does not apply to {label}, a {info.kind} column")
    if profile == "pseudonymized" and info.risk == "FREE" and m == "keep":
        raise PolicyError(key, f"{label}（{table.name} 表）は自由記載です。仮名加工医療情報でも自由記載はそのまま残せません"
                               "（氏名・連絡先・番号が書かれ得るため）。drop にするか、コード化してから残してください"
                               " (free text is never kept; requirements 9, 41)")
    if table.output is None and m != "drop":
        raise PolicyError(key, f"{table.name} is not released (output: false): every rule must be drop")
    if spec.needs_pid and "pid" not in table.derived:
        raise PolicyError(key, f"{m} works per patient: declare derived: {{pid: patient_id}} in {table.name}")
    p = dict(rule.params)
    _check_params(key, m, p, cols, table)
    if m == "rare" and p.get("threshold") is None:
        p["threshold"] = params.rare_threshold
    if profile == "anonymized":
        _check_anonymized(key, (table.name, col), label, info, m, p, params)
    return replace(rule, params=p)


def _check_params(key: str, m: str, p: dict[str, Any], cols: dict[str, ColumnInfo], table: TablePolicy) -> None:
    at = p.get("at")
    patient_date = at == FIRST_SERVICE and at not in cols and "pid" in table.derived  # the patient's (apply.py)
    if at is not None and not patient_date and (at not in cols or cols[at].kind not in DATE_KINDS):
        dates = sorted(c for c, i in cols.items() if i.kind in DATE_KINDS)
        dates += [f"{FIRST_SERVICE} (the patient's first service month)"] if "pid" in table.derived else []
        raise PolicyError(f"{key}.at", f"{at!r} is not a date column of {table.name}; date columns: {', '.join(dates)}")
    if m == "generalize_date" and p.get("top") is not None and at is None:
        raise PolicyError(f"{key}.at", "top-coding a birth date needs the service date column `at`")
    if m == "clip" and all(p.get(b) is None for b in ("lower", "upper", "lower_quantile", "upper_quantile")):
        raise PolicyError(key, "clip needs lower, upper, lower_quantile or upper_quantile")
    if m == "clip" and (p.get("lower") is not None and p.get("lower_quantile") is not None
                        or p.get("upper") is not None and p.get("upper_quantile") is not None):
        raise PolicyError(key, "clip: give a fixed bound or a quantile on each side, not both")
    if m == "bin" and (p.get("width") is None) == (p.get("edges") is None):
        raise PolicyError(key, "bin needs exactly one of width or edges")
    if m in ("rare", "hierarchy"):
        given = [p.get(n) is not None for n in ("file", "key", "levels" if m == "rare" else "level")]
        if any(given) and not all(given):
            raise PolicyError(key, f"{m}: file, key and {'levels' if m == 'rare' else 'level'} go together")
        f = p.get("file")
        if f is not None and ("/" in f or "\\" in f or f.startswith(".")):
            raise PolicyError(f"{key}.file", f"{f!r}: a file name inside the policy's hierarchies directory")
    by = p.get("by")
    if by is not None and (by not in cols or by == key.rsplit(".", 1)[-1]):
        raise PolicyError(f"{key}.by", f"{by!r} is not another column of {table.name}")
    for other in p.get("blank") or ():
        if other not in cols:
            raise PolicyError(f"{key}.blank", f"{other!r} is not a column of {table.name}")


def _check_anonymized(key: str, where: tuple[str, str], label: str, info: ColumnInfo, m: str,
                      p: dict[str, Any], params: ProfileParams) -> None:
    if info.risk == "FREE" and m != "drop":
        raise PolicyError(key, f"{label} は自由記載です。匿名加工医療情報では削除します (drop; requirement 9)")
    if info.risk == "INST" and m not in INST_METHODS and not (m == "keep" and where[1] in PREFECTURE):
        raise PolicyError(key, f"{label} は医療機関・薬局を特定する項目です。匿名加工医療情報では削除するか"
                               "（drop）、規模区分等に置き換えます（bin）。残せるのは都道府県だけです"
                               f" (a facility identifier is dropped or generalized, not {m}; requirement 20)")
    if info.kind == "date" and m == "keep":
        raise PolicyError(key, f"{label}: day-level dates are not kept in an anonymized release; "
                               "use generalize_date or date_shift (requirement 22)")
    if info.kind == "days" and m != "drop":
        raise PolicyError(key, f"{label}: per-day patterns reveal service dates; drop them (requirement 22)")
    km_items = {(i.table, i.code) for i in params.km.items} if params.km else set()
    if where in RARE_CODE_COLUMNS and m not in ("rare", "drop") and not (m == "keep" and where in km_items):
        raise PolicyError(key, f"{label}: rare codes must be handled (method rare, drop, or keep as an item of "
                               f"params.km; requirement 18)")
    if m in ("age", "age_band") or (m == "generalize_date" and where[1] == "birth_date"):
        if where[1] == "birth_date" and p.get("at") is None:
            raise PolicyError(f"{key}.at", "a birth date is top-coded at the service date: give `at` (requirement 17)")
        top = p.get("top") or params.age_top
        if top > params.age_top:
            raise PolicyError(f"{key}.top", f"{top}: above the profile's age_top {params.age_top}; "
                                            "90 and over is one band (requirement 17)")
        p["top"] = top


_AGE_METHODS = frozenset({"age", "age_band"})


def check_carriers(table: TablePolicy, tables: dict[str, TablePolicy], params: ProfileParams) -> TablePolicy:
    """Which output columns of `table` carry a quasi-identifier of `patients` (requirement 21).

    Rows of every released table carry `pid`, so a join on pid puts their columns beside the patient's
    class: a column holding the same fact as a quasi-identifier (the patient's sex, age band, area)
    must be released at the level k-anonymity chose for `patients`, or the join undoes the
    generalization. Same-named output columns carry their quasi-identifier without being declared;
    others are declared as `quasi_identifiers: {output column: quasi-identifier}`. A per-row age
    (`age`, or a birth date generalized to a year) beside the patients' age band is refused.
    """
    key = f"tables.{table.name}.quasi_identifiers"
    patients = next(t for t in tables.values() if t.output == "patients")
    outputs = {r.output: r for r in table.columns.values() if r.method != "drop"}
    if table is patients or table.output is None or "pid" not in table.derived:
        if table.carriers:
            where = "the release table patients itself" if table is patients else "a table without pid"
            raise PolicyError(key, f"declared on {where}; only the other released tables with pid carry them")
        return table
    for col, rule in table.columns.items():  # requirement 22: one age per patient, not one per row
        at = rule.params.get("at")
        if at is not None and at != FIRST_SERVICE:
            raise PolicyError(f"tables.{table.name}.{col}.at",
                              f"{at!r}: 行ごとの日付で年齢を取ると、年齢区分の境目となる誕生日をまたいで受診した患者の"
                              f"区分が行の間で変わり、生年月が分かります（requirement 22: 反復して行われる行動の蓄積）。"
                              f"at: {FIRST_SERVICE}（患者の初回受診月）を指定してください")
    qis = set(params.quasi_identifiers)
    for out, qi in table.carriers.items():
        if out not in outputs:
            raise PolicyError(f"{key}.{out}", f"not an output column of {table.name}; outputs: {', '.join(sorted(outputs))}")
        if qi not in qis:
            raise PolicyError(f"{key}.{out}", f"{qi!r} is not in params.quasi_identifiers ({', '.join(params.quasi_identifiers)})")
    carriers = {**{o: o for o in outputs if o in qis}, **table.carriers}
    ages = {r.output: r for r in patients.columns.values() if r.method == "age_band" and r.output in qis}
    for col, rule in table.columns.items():
        if not ages or not (rule.method in _AGE_METHODS or col == "birth_date" and rule.method != "drop"):
            continue
        where = f"tables.{table.name}.{col}"
        age_qi = carriers.get(rule.output)
        if rule.method != "age_band" or age_qi not in ages:
            raise PolicyError(where, f"{rule.method} of a birth date beside the age band of patients undoes its k-anonymity "
                                     f"(a join on pid); use age_band with the same width and top and declare it in "
                                     f"quasi_identifiers (e.g. {{{rule.output}: {next(iter(ages))}}}), or drop it (requirement 21)")
        want = ages[age_qi]
        if (rule.params.get("width"), rule.params.get("top")) != (want.params.get("width"), want.params.get("top")):
            raise PolicyError(where, f"age_band width {rule.params.get('width')}, top {rule.params.get('top')}: must equal "
                                     f"patients.{age_qi} (width {want.params.get('width')}, top {want.params.get('top')}) so that "
                                     f"it is recoded with the same hierarchy (requirement 21)")
    for out, qi in carriers.items():
        if qi in ages and outputs[out].method != "age_band":
            raise PolicyError(f"{key}.{out}", f"{qi} is an age band; only an age_band rule can carry it")
    return replace(table, carriers=carriers)
