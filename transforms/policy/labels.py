"""Japanese item labels of the released columns, for the 公表 and 明示 notices (requirement 30).

The notice lists the items a release contains (性別, 年齢区分, 傷病名 ...), not the values; the label
says what the column became, e.g. 生年月日 -> 年齢（5歳階級、90歳以上は一区分）.
"""

from __future__ import annotations

from transforms.policy import Rule, TablePolicy
from transforms.policy.catalog import ColumnInfo

PID_LABEL = "仮名患者ID（鍵付きハッシュ）"


def output_label(col: str, rule: Rule, info: ColumnInfo | None) -> str:
    base = info.label if info and info.label else col
    m, p = rule.method, rule.params
    if m == "pseudonymize":
        return f"{base}（仮名化）"
    if m == "age_band":
        top = f"、{p['top']}歳以上は一区分" if p.get("top") else ""
        return f"年齢（{p['width']}歳階級{top}）"
    if m == "age":
        top = f"、{p['top']}歳以上は{p['top']}" if p.get("top") else ""
        return f"年齢（診療時{top}）"
    if m == "generalize_date":
        unit = {"year": "年", "quarter": "年・四半期", "year_month": "年月"}[p["unit"]]
        return f"{base}（{unit}）"
    if m == "date_shift":
        return f"{base}（患者ごとに一定日数ずらした日付）"
    if m == "postal_prefix":
        return f"郵便番号（上{p['digits']}桁）"
    if m == "address_area":
        return "住所（都道府県コード）" if p["level"] == "prefecture" else "住所（市区町村コード）"
    if m == "institution_area":
        return "医療機関所在都道府県"
    if m == "bin":
        return f"{base}（区分）"
    if m in ("clip", "round"):
        return f"{base}（上下限・丸め処理済み）"
    if m in ("noise", "microaggregate", "rank_swap"):
        return f"{base}（攪乱処理済み）"
    if m == "hierarchy":
        return f"{base}（{p['level']} に集約）"
    if m == "rare":
        return f"{base}（希少なコードは上位分類へ集約または削除）"
    return base


def table_labels(table: TablePolicy, catalog: dict[str, ColumnInfo]) -> dict[str, str]:
    """{output column: label} for one released table."""
    out = {name: PID_LABEL for name in table.derived}
    for col, rule in table.columns.items():
        if rule.method == "drop":
            continue
        out[rule.output] = output_label(col, rule, catalog.get(col))
        if rule.method == "rare" and rule.params.get("level_column"):
            out[f"{rule.output}_level"] = f"{out[rule.output]}の集約レベル"
    return out
