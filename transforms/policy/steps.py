"""The processing steps of the law, and what this release did for each (requirement 2).

匿名加工 requires all five items of 規則34条; a step is skipped only when the data hold no such
element, and the record says so with the reason. 仮名加工 (法35条1項, requirement 37) has three
items; items 4-5 of 規則34条 are deliberately not applied, to keep clinical detail.
"""

from __future__ import annotations

from typing import Any

from transforms.policy import Policy

# 個人識別符号 (施行令1条; requirements 11-13): insurance and public-expense numbers and the like.
INDIVIDUAL_CODES = frozenset({
    "insurer_no", "card_symbol", "card_number", "branch_no", "recipient_no", "payer_no", "certificate_no",
    "my_number", "individual_number", "passport_no", "pension_no", "license_no", "resident_code", "residence_card_no",
})
# 連結符号 (requirement 14): keys that link records to the producer's systems.
LINKING_CODES = frozenset({"receipt_key", "file_sha256", "receipt_no", "search_no", "chart_no", "patient_id", "source_file"})
# 特定の個人を識別することができる記述等 (requirements 4-9).
DESCRIPTIONS = frozenset({"name", "kana_name", "birth_date", "address", "postal_code", "phone", "email", "mobile",
                          "institution_phone"})
# 特異な記述等 (requirements 17-19): methods that coarsen what is rare or extreme.
UNIQUE_METHODS = frozenset({"age", "age_band", "rare", "clip", "round", "bin", "noise", "microaggregate", "rank_swap",
                            "hierarchy", "generalize_date", "date_shift"})


def _columns(policy: Policy, pick: Any) -> list[str]:
    out = []
    for t in policy.tables.values():
        out += [f"{t.name}.{c}:{r.method}" for c, r in t.columns.items() if pick(c, r)]
    return sorted(out)


def processing_steps(policy: Policy, tables: dict[str, Any] | None = None) -> dict[str, Any]:
    removed = ("drop", "pseudonymize", "age", "age_band", "generalize_date", "postal_prefix", "address_area")
    steps: dict[str, Any] = {
        "1_identifying_descriptions": {
            "item": "特定の個人を識別することができる記述等の全部又は一部の削除（規則34条1号 / 法35条1項1号）",
            "columns": _columns(policy, lambda c, r: c in DESCRIPTIONS and r.method in removed),
        },
        "2_individual_identification_codes": {
            "item": "個人識別符号の全部の削除（規則34条2号 / 法35条1項2号）",
            "columns": _columns(policy, lambda c, r: c in INDIVIDUAL_CODES and r.method in ("drop", "pseudonymize")),
        },
        "3_linking_codes": {
            "item": "連結符号の削除又は置換（規則34条3号）",
            "columns": _columns(policy, lambda c, r: c in LINKING_CODES and r.method in ("drop", "pseudonymize")),
        },
    }
    for key in list(steps):
        steps[key]["status"] = "applied" if steps[key]["columns"] else "not_applicable"
        if not steps[key]["columns"]:
            steps[key]["reason"] = "the input holds no such column"
    if policy.profile == "pseudonymized":
        reason = "仮名加工医療情報: 法35条1項 requires items 1-3 only; rare and detailed values are kept (requirement 37)"
        steps["4_unique_descriptions"] = {"item": "特異な記述等の削除（規則34条4号）", "status": "not_applicable", "reason": reason}
        steps["5_dataset_properties"] = {"item": "個人情報データベース等の性質を踏まえた措置（規則34条5号）",
                                         "status": "not_applicable", "reason": reason}
        return steps
    unique = _columns(policy, lambda c, r: r.method in UNIQUE_METHODS and c not in DESCRIPTIONS)
    steps["4_unique_descriptions"] = {
        "item": "特異な記述等の削除（規則34条4号）: 90歳以上の一区分化、希少コードの集約・削除、外れ値の上下限処理",
        "status": "applied" if unique else "not_applicable",
        "columns": unique,
        "age_top": policy.params.age_top,
        "rare_threshold": policy.params.rare_threshold,
    }
    if tables:
        steps["4_unique_descriptions"]["rare_codes"] = {
            f"{t}.{c}": s["detail"] for t, ts in tables.items() for c, s in ts["columns"].items()
            if s.get("method") == "rare" and "detail" in s
        }
    steps["5_dataset_properties"] = {
        "item": "個人情報データベース等の性質を踏まえたその他の措置（規則34条5号）: k-匿名化",
        "status": "pending",
        "k": policy.params.k,
        "quasi_identifiers": list(policy.params.quasi_identifiers),
        "note": "applied to the release table patients by the k-anonymity stage after anonymize (issue 5)",
    }
    return steps
