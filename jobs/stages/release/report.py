"""report.html: the release report a compliance officer reads before sign-off (Japanese, self-contained).

Built from the manifest plus small aggregates (counts per category), never from record-level rows.
Plots are inline SVG so the file opens anywhere without network access.
"""

from __future__ import annotations

import html
from typing import Any

_CSS = """body{font-family:'Noto Sans JP','Hiragino Sans',sans-serif;margin:2em;max-width:980px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#11772d;font-weight:bold}.ng{color:#b00020;font-weight:bold}
.note{color:#555;font-size:.9em}"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _e(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return _e(value)


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class='n'>{_num(c)}</td>" if isinstance(c, int | float) and not isinstance(c, bool)
                         else f"<td>{_e(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def bar_chart(title: str, data: list[tuple[str, float]], width: int = 640) -> str:
    """A horizontal bar chart as inline SVG."""
    if not data:
        return ""
    bar, gap, label_w = 16, 4, 140
    top = max(v for _, v in data) or 1
    height = len(data) * (bar + gap) + 30
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>",
             f"<title>{_e(title)}</title>", f"<text x='0' y='14' font-size='13'>{_e(title)}</text>"]
    for i, (label, value) in enumerate(data):
        y = 24 + i * (bar + gap)
        w = (width - label_w - 80) * value / top
        parts.append(f"<text x='0' y='{y + 12}' font-size='12'>{_e(label)}</text>")
        parts.append(f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar}' fill='#3b6ea5'/>")
        parts.append(f"<text x='{label_w + w + 4:.1f}' y='{y + 12}' font-size='12'>{_num(value)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def paired_bar_chart(title: str, rows: list[tuple[str, float, float]], width: int = 720) -> str:
    """Two bars per row (処理前 grey, 処理後 blue) as inline SVG; values are shares (0..1), shown in %."""
    if not rows:
        return ""
    bar, gap, label_w, plot_w = 13, 10, 260, width - 260 - 70
    height = len(rows) * (2 * bar + gap) + 46
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>",
             f"<title>{_e(title)}</title>", f"<text x='0' y='14' font-size='13'>{_e(title)}</text>",
             f"<rect x='{label_w}' y='22' width='10' height='10' fill='#9a9a9a'/><text x='{label_w + 14}' y='31' font-size='11'>処理前</text>",
             f"<rect x='{label_w + 70}' y='22' width='10' height='10' fill='#3b6ea5'/><text x='{label_w + 84}' y='31' font-size='11'>処理後</text>"]
    for i, (label, before, after) in enumerate(rows):
        y = 40 + i * (2 * bar + gap)
        parts.append(f"<text x='0' y='{y + bar + 4}' font-size='12'>{_e(label)}</text>")
        for j, (value, color) in enumerate(((before, "#9a9a9a"), (after, "#3b6ea5"))):
            w = plot_w * max(0.0, min(1.0, value))
            parts.append(f"<rect x='{label_w}' y='{y + j * bar}' width='{w:.1f}' height='{bar - 1}' fill='{color}'/>")
            parts.append(f"<text x='{label_w + w + 4:.1f}' y='{y + j * bar + bar - 3}' font-size='11'>{value * 100:.1f}%</text>")
    parts.append("</svg>")
    return "".join(parts)


_RISK_LEVELS = (  # risk level -> what the attacker knows, in the report's words
    ("qi", "準識別子（年齢区分・性別・地域）"),
    ("months", "＋受診した月の集合"),
    ("codes", "＋傷病名の集合"),
)
_LEVEL_NAMES = {"code": "傷病名コード（元の値）", "icd10": "ICD-10", "icd10_3": "ICD-10 3桁分類", "icd10_block": "ICD-10 ブロック",
                "icd10_chapter": "ICD-10 章", "month": "月", "quarter": "四半期", "half": "半年", "year": "年"}


def risk_section(manifest: dict[str, Any]) -> str:
    """(k, k^m): the attacker levels before and after, and what the items cost (issue 16 item 4)."""
    risk, km = manifest.get("risk"), manifest.get("km")
    if not risk or not km:
        return ("<h2>攻撃者の知識に対する再識別リスク（(k, k^m)-匿名性）</h2><p class='note'>このリリースには (k, k^m) の"
                "処理がありません（ポリシーの params.km が未設定、または仮名加工医療情報）。</p>")
    before, after = risk["before"], risk["after"]
    k, m = km["k"], km["m"]
    rows: list[tuple[str, float, float]] = []
    table: list[tuple[Any, ...]] = []
    for key, label in _RISK_LEVELS:
        b, a = before[key], after[key]
        rows.append((f"{label}: 一意", b["unique_share"], a["unique_share"]))
        table.append((label, "一意（1人だけ）の患者の割合", _pct(b["unique_share"]), _pct(a["unique_share"])))
        table.append((label, f"{k}人未満の組に入る患者の割合", _pct(b["below_k_share"]), _pct(a["below_k_share"])))
    for j in range(1, m + 1):
        b, a = before[f"items_{j}"], after[f"items_{j}"]
        label = f"＋（傷病名, 月）のうち任意の{j}項目"
        rows.append((label, b["singled_out_share"], a["singled_out_share"]))
        table.append((label, f"{k}人未満に絞り込まれうる患者の割合", _pct(b["singled_out_share"]), _pct(a["singled_out_share"])))
    loss = []
    for column, info in km["items"].items():
        loss.append((column, "処理前", _LEVEL_NAMES.get("code", "code"), _LEVEL_NAMES["month"], "0.0%", "0.0000"))
        loss.append((column, "処理後", _LEVEL_NAMES.get(info["level"], info["level"]), _LEVEL_NAMES.get(info["time_level"], info["time_level"]),
                     _pct(km["suppressed_share"]), f"{km['loss_ncp']:.4f}"))
    return f"""<h2>攻撃者の知識に対する再識別リスク（(k, k^m)-匿名性, k={k}, m={m}）</h2>
<p>年齢区分・性別・地域に加えて、患者の（傷病名, 受診月）を最大 {m} 項目知っている人がいても、どの組合せも {k} 人以上に
共有されるよう、傷病名と月を一般化し、残る項目を患者ごとに抑制しました（施行規則34条5号）。</p>
{_raised(manifest)}
{_table(table, ("攻撃者が知っていること", "指標", "処理前", "処理後"))}
{paired_bar_chart("再識別リスク（患者の割合）", rows)}
<h3>項目列ごとの情報損失</h3>
{_table(loss, ("項目列", "", "傷病名の公開レベル", "月の公開粒度", "抑制した項目行の割合", "情報損失（NCP, 0〜1）"))}
{paired_bar_chart("抑制した項目行の割合と情報損失（NCP）", [("抑制した項目行", 0.0, km["suppressed_share"]), ("情報損失（NCP）", 0.0, km["loss_ncp"])])}
<p class="note">処理前: k-匿名化の後・(k, k^m) の前の項目で測定。処理後: ステージングされたリリースのテーブル自体から測定。
NCP は一般化した値が表す元の値の幅（0 = 元の値、1 = 全く不明）で、抑制した行は 1 として平均します。</p>"""


def _raised(manifest: dict[str, Any]) -> str:
    """Say so when (k, k^m) had to generalize the quasi-identifiers beyond what k-anonymity chose."""
    km, kanon = manifest.get("km") or {}, (manifest.get("anonymize") or {}).get("kanon") or {}
    before = km.get("quasi_identifier_levels_raised_from")
    if not before:
        return ""
    after = kanon.get("levels") or {}
    pairs = ", ".join(f"{q}: {b} → {after.get(q)}" for q, b in zip(after, before, strict=False))
    return (f"<p><b>準識別子の一般化を引き上げました。</b> k-匿名化が選んだ水準では、抑制の上限内で項目を保護できなかった"
            f"ため、準識別子をより粗い水準で公開します（水準 {_e(pairs)}; * は非公開）。</p>")


_COUNT_LABELS = {
    "patients": "公開した患者数",
    "patients_unlinked": "名寄せの鍵がなく単独の患者としたレセプト",
    "patients_without_data": "診療・検査の記録がなく公開しなかった患者（患者マスターのみ）",
    "records_removed": "公開しなかった行",
    "rows_in": "入力行",
    "patients_suppressed": "k-匿名化で抑制した患者",
    "patients_held_back": "通知後の待機期間で保留した患者",
    "patients_opted_out": "停止の求めにより除外した患者",
}


def optout_section(manifest: dict[str, Any]) -> str:
    """停止の求め (req 42): which registry version this release applied, and who it left out, in counts."""
    entry = manifest.get("optout") or {}
    head = "<h2>停止の求め（オプトアウト名簿）</h2>"
    if not entry.get("applied"):
        note = entry.get("note") or "停止の求めの名簿は設定されていません。このリリースには停止の求めを適用していません。"
        return f"{head}<p class='ng'>{_e(note)}</p>"
    registry = entry.get("registry") or {}
    reconciled = ("<span class='ok'>一致</span>" if entry.get("reconciled")
                  else "<span class='ng'>不一致（anonymize.json を確認してください）</span>")
    rows = [("名簿の版", registry.get("version")), ("名簿の登録件数（停止の求め）", registry.get("rows")),
            ("対象患者数（入力）", entry.get("patients_in")), ("停止の求めにより除外した患者", entry.get("patients_opted_out")),
            ("通知後の待機期間で保留した患者", entry.get("patients_held_back")),
            ("k-匿名化で抑制した患者", entry.get("patients_suppressed")), ("公開した患者", entry.get("patients_after"))]
    removed = list((entry.get("rows_removed") or {}).items())
    stale = entry.get("stale_stagings_removed") or []
    return (f"{head}<p>公開の時点の名簿を適用し、名簿に載った人の記録は、名寄せでつながる全ての記録とともに全テーブルから"
            f"除きました（要件42）。名簿の版と件数のみを記録し、名簿の個人情報は記録しません。</p>"
            f"{_table(rows, ('項目', '値'))}<p>件数の照合（入力 = 公開 + 除外 + 保留 + 抑制）: {reconciled}</p>"
            + (_table(removed, ("テーブル", "除外した行")) if removed else "")
            + (f"<p class='note'>別の版の名簿で作成されていたため削除したステージング: {_e(', '.join(stale))}</p>" if stale else ""))


def _count_label(key: str) -> str:
    head, _, table = key.partition(".")
    label = _COUNT_LABELS.get(head, head)
    return f"{label}: {table}" if table else label


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def render(manifest: dict[str, Any], distributions: dict[str, list[tuple[str, float]]]) -> str:
    v = manifest.get("validation", {})
    verdict = "<span class='ok'>合格</span>" if v.get("success") else "<span class='ng'>不合格</span>"
    outputs = [(o["table"], o["rows"], len(o["columns"]), o["delta_version"]) for o in manifest.get("outputs", [])]
    counts = [(_count_label(k), val) for k, val in _flatten(manifest.get("counts", {}))]
    privacy = [(k, val) for k, val in _flatten(manifest.get("privacy", {}))]
    steps = [(k, val) for k, val in _flatten(manifest.get("processing_steps", {}))]
    key = manifest.get("key") or {}
    charts = "".join(bar_chart(title, data) for title, data in distributions.items())
    return f"""<!doctype html><html lang="ja"><head><meta charset="utf-8">
<title>リリース報告書 {_e(manifest.get('release_id'))}</title><style>{_CSS}</style></head><body>
<h1>リリース報告書: {_e(manifest.get('release_id'))}</h1>
{_table([("法的区分", manifest.get("release_regime")), ("プロファイル", manifest.get("profile")),
         ("作成日時", manifest.get("created_at")), ("公開日時", manifest.get("published_at")),
         ("提供先", _recipient(manifest.get("recipient"))), ("ポリシー SHA-256", (manifest.get("policy") or {}).get("sha256")),
         ("鍵ID / 指紋（鍵そのものは記録しない）", f"{key.get('key_id')} / {key.get('fingerprint')}"),
         ("コードのバージョン", manifest.get("code_version"))], ("項目", "値"))}
<h2>検証結果（Great Expectations）: {verdict}</h2>
<p>{_num(v.get('expectations'))} 件の期待値を検証しました。詳細は <code>validation/</code>（Data Docs: <code>validation/gx/</code>）。</p>
{_table([(f,) for f in v.get('failed') or []], ("不合格の期待値",)) if v.get('failed') else ''}
<h2>出力テーブル</h2>{_table(outputs, ("テーブル", "行数", "列数", "Delta バージョン"))}
<h2>処理件数</h2>{_table(counts, ("区分", "件数"))}
{optout_section(manifest)}
<h2>加工の各措置（施行規則34条）</h2>{_table(steps, ("措置", "内容"))}
<h2>再識別リスクと有用性</h2>{_table(privacy, ("指標", "値"))}
{risk_section(manifest)}
<h2>分布</h2>{charts or "<p class='note'>分布の集計はありません。</p>"}
<p class="note">本報告書は集計値のみを含み、個票を含みません。提供前に作成時公表・提供時公表（notices/）を確認してください。</p>
</body></html>
"""


def _recipient(recipient: Any) -> str:
    if isinstance(recipient, dict):
        return " / ".join(str(recipient.get(k)) for k in ("name", "certification_id") if recipient.get(k))
    return str(recipient or "—")


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for k, v in data.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(data, list):
        return [(prefix, ", ".join(map(str, data)))]
    return [(prefix, data)]
