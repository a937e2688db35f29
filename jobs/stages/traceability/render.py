"""docs/requirements.md from a Trace: Markdown, in Japanese for the compliance officers who read it.

The page holds nothing that changes between two runs on the same sources (no date, no absolute path,
no line number), so a test can regenerate it and compare.
"""

from __future__ import annotations

from jobs.stages.traceability.trace import (
    MISSING,
    NOT_CHECKABLE,
    PENDING,
    STATUSES,
    TESTED,
    UNTESTED_FILE,
    Row,
    Trace,
)

REFERENCE = "../shared/reference/legal_requirements.md"
LABELS = {
    TESTED: "テストあり",
    NOT_CHECKABLE: "テスト対象外（理由を記載）",
    PENDING: "作業中（テストを作成中）",
    MISSING: "テストなし（要対応）",
}


def render(trace: Trace) -> str:
    total = len(trace.rows)
    lines = [
        "# 要件トレーサビリティ（法令上の要件とテストの対応表）",
        "",
        "<!-- 自動生成ファイルです。手で編集せず `make requirements`（python -m jobs.requirements）で作り直してください。 -->",
        "",
        f"出典は `{REFERENCE}`（sha256 `{trace.catalog.sha256}`）の要件 1〜{total} です。"
        "要件を検査するテストは tests/ のテスト関数名（`test_reqNN_...`、複数なら `test_reqNN_reqMM_...`）から、"
        f"テストのない要件の理由と作業中の要件は `{UNTESTED_FILE}` から集めています。",
        "",
        "## 集計",
        "",
        "| 状態 | 要件数 |",
        "|---|---:|",
        *(f"| {LABELS[s]} | {trace.count(s)} |" for s in STATUSES),
        f"| **テストまたは理由のある要件** | **{trace.count(TESTED) + trace.count(NOT_CHECKABLE)} / {total}** |",
        "",
        "## 一覧",
        "",
        "| No. | 要件 | 根拠 | 状態 | テスト数 |",
        "|---:|---|---|---|---:|",
        *(f"| {r.requirement.number} | {_cell(r.requirement.title)} | {_cell(r.requirement.basis)} | {LABELS[r.status]} "
          f"| {len(r.tests)} |" for r in trace.rows),
        "",
        "## 要件ごとの詳細",
    ]
    section = ""
    for row in trace.rows:
        if row.requirement.section != section:
            section = row.requirement.section
            lines += ["", f"### {section}"]
        lines += ["", *_detail(row)]
    return "\n".join(lines) + "\n"


def _detail(row: Row) -> list[str]:
    req = row.requirement
    out = [f"#### {req.number}. {req.title}", "", f"根拠: {req.basis}" if req.basis else "根拠: （記載なし）", ""]
    if row.status == TESTED:
        out.append(f"{LABELS[TESTED]}（{len(row.tests)} 件）:")
        out += [f"- `{c.node}`" for c in row.tests]
    elif row.status == MISSING:
        out.append(f"{LABELS[MISSING]}: ソフトウェアで検査できる要件ですが、引用するテストがありません。")
    else:
        out.append(f"{LABELS[row.status]}: {row.note}")
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
