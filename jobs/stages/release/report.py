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


def render(manifest: dict[str, Any], distributions: dict[str, list[tuple[str, float]]]) -> str:
    v = manifest.get("validation", {})
    verdict = "<span class='ok'>合格</span>" if v.get("success") else "<span class='ng'>不合格</span>"
    outputs = [(o["table"], o["rows"], len(o["columns"]), o["delta_version"]) for o in manifest.get("outputs", [])]
    counts = [(k, val) for k, val in _flatten(manifest.get("counts", {}))]
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
<h2>加工の各措置（施行規則34条）</h2>{_table(steps, ("措置", "内容"))}
<h2>再識別リスクと有用性</h2>{_table(privacy, ("指標", "値"))}
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
