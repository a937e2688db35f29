"""The notices a release carries, in Japanese: 作成時公表, 第三者提供時公表 and 明示.

Requirements 30-32: publish the *items* of personal information the release contains (not values),
publish the provision method before provision, and tell the recipient explicitly what the data are
and what they must not do. Item labels come from the release's columns, so the notice lists exactly
what was released (requirement 30's test: no omission, no extra).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from jobs.runtime.config import ProducerSettings

REGIME_TEXT = {
    "匿名加工医療情報": {
        "law": "次世代医療基盤法（医療分野の研究開発に資するための匿名加工医療情報及び仮名加工医療情報に関する法律）第19条第1項の基準に従い",
        "nature": "特定の個人を識別することができず、作成に用いた医療情報を復元することができないように加工した情報",
        "duties": [
            "本情報の作成に用いられた医療情報に係る本人を識別するために、本情報を他の情報と照合しないこと（識別行為の禁止）。",
            "削除された記述等若しくは個人識別符号又は加工の方法に関する情報を取得しないこと。",
            "本情報の漏えいを防止するために必要かつ適切な安全管理措置を講じること。",
            "契約で定める利用目的及び利用条件の範囲内で利用すること。",
        ],
    },
    "仮名加工医療情報": {
        "law": "次世代医療基盤法第35条第1項の基準に従い",
        "nature": "他の情報と照合しない限り特定の個人を識別することができないように加工した情報",
        "duties": [
            "本人を識別するために、本情報を他の情報と照合しないこと（識別行為の禁止）。",
            "本情報に含まれる連絡先その他の情報を利用して本人に連絡等をしないこと。",
            "法令に基づく場合（薬事承認申請に係る資料としての提出等）を除き、本情報を第三者に提供しないこと。",
            "認定仮名加工医療情報利用事業者として、認定を受けた利用目的の範囲内で、安全管理措置を講じて利用すること。",
            "利用の必要がなくなったときは、遅滞なく消去すること。",
        ],
    },
}

# The notice files of a release (WH/releases/<RID>/notices/), by the name `tokumei notices publish` uses.
NOTICE_FILES = {"作成時公表": "作成時公表.md", "第三者提供時公表": "第三者提供時公表.md", "明示": "明示.md"}
PUBLISHED_NOTICES = ("作成時公表", "第三者提供時公表")  # 公表 (published); the 明示 goes to the recipient
PROVISION_LEDGER = "releases/_provisions"  # the 提供記録 Delta table, relative to the warehouse

# How months are shown at the level the (k, k^m) stage released them at (transforms/release/km_items.py).
_LEVEL_TEXT = {"month": "月", "quarter": "四半期", "half": "半期", "year": "年"}


@dataclass(frozen=True)
class Period:
    """The first and last service month of a release's tables (requirement 30: 作成の対象期間).

    `first` and `last` are month starts as released: at `time_level` "quarter" they are the first
    months of the first and the last quarter."""

    first: dt.date
    last: dt.date
    time_level: str = "month"
    tables: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        return {"first_service_month": f"{self.first:%Y-%m}", "last_service_month": f"{self.last:%Y-%m}",
                "time_level": self.time_level, "tables": list(self.tables),
                "source": "min/max of service_month over the released tables"}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Period:
        first, last = (dt.date.fromisoformat(f"{rec[k]}-01") for k in ("first_service_month", "last_service_month"))
        return cls(first, last, rec.get("time_level", "month"), tuple(rec.get("tables", ())))

    def text(self) -> str:
        first, last = month_label(self.first, self.time_level), month_label(self.last, self.time_level)
        span = first if first == last else f"{first}〜{last}"
        if self.time_level == "month":
            return f"{span}診療分"
        return f"{span}診療分（診療年月は{_LEVEL_TEXT[self.time_level]}単位に一般化して提供）"


def month_label(month: dt.date, level: str) -> str:
    """`2025年04月`, `2025年第2四半期（4〜6月）`, `2025年上半期（1〜6月）` or `2025年`."""
    if level == "quarter":
        return f"{month.year}年第{(month.month - 1) // 3 + 1}四半期（{month.month}〜{month.month + 2}月）"
    if level == "half":
        return f"{month.year}年{'上' if month.month < 7 else '下'}半期（{month.month}〜{month.month + 5}月）"
    if level == "year":
        return f"{month.year}年"
    if level != "month":
        raise ValueError(f"time level {level!r}: use one of {', '.join(_LEVEL_TEXT)}")
    return f"{month.year}年{month.month:02d}月"


@dataclass(frozen=True)
class Delivery:
    """One provision to one recipient, as its 明示 names it (its 提供記録 row has the same id)."""

    delivery_id: str
    day: dt.date
    recipient: str
    contract_id: str
    certification_id: str | None = None


@dataclass(frozen=True)
class Item:
    table_label: str
    label: str


@dataclass(frozen=True)
class NoticeContext:
    release_id: str
    regime: str
    created: dt.date
    items: tuple[Item, ...]
    producer: ProducerSettings
    recipient: str | None = None
    period: Period | None = None  # None: no released table has a service month


def _items_block(items: tuple[Item, ...]) -> str:
    lines: list[str] = []
    current = None
    for item in items:
        if item.table_label != current:
            current = item.table_label
            lines.append(f"- {current}")
        lines.append(f"  - {item.label}")
    return "\n".join(lines)


def _period_text(ctx: NoticeContext) -> str:
    if ctx.period is not None:
        return ctx.period.text()
    return f"本リリースの表は診療年月を含みません。{ctx.created:%Y年%m月%d日}までに受領した医療情報から作成しました"


def _regime(ctx: NoticeContext) -> dict:
    if ctx.regime not in REGIME_TEXT:
        raise ValueError(f"unknown legal regime {ctx.regime!r}; expected one of {sorted(REGIME_TEXT)}")
    return REGIME_TEXT[ctx.regime]


def creation_notice(ctx: NoticeContext) -> str:
    r = _regime(ctx)
    return f"""# {ctx.regime}の作成に関する公表（作成時公表）

- 公表日: {ctx.created:%Y年%m月%d日}
- 作成事業者: {ctx.producer.name}
- リリースID: {ctx.release_id}

{ctx.producer.name}は、{r["law"]}、医療情報から{ctx.regime}（{r["nature"]}）を作成しました。

## {ctx.regime}に含まれる個人に関する情報の項目

{_items_block(ctx.items)}

## 作成の対象期間

{_period_text(ctx)}。同一の項目による作成は継続して行います。

## お問い合わせ

{ctx.producer.contact}
"""


def provision_notice(ctx: NoticeContext) -> str:
    return f"""# {ctx.regime}の第三者提供に関する公表（提供時公表）

- 公表日: {ctx.created:%Y年%m月%d日}
- 作成事業者: {ctx.producer.name}
- リリースID: {ctx.release_id}

{ctx.producer.name}は、次の{ctx.regime}を第三者に提供します。提供はこの公表の後に行います。

## 提供する個人に関する情報の項目

{_items_block(ctx.items)}

## 対象期間

{_period_text(ctx)}

## 提供の方法

{ctx.producer.provision_method}

## お問い合わせ

{ctx.producer.contact}
"""


def _delivery_lines(ctx: NoticeContext, delivery: Delivery | None) -> tuple[str, str]:
    """The header lines naming the recipient, and the sentence pointing to the 提供記録."""
    if delivery is None:
        who = f"- 提供先: {ctx.recipient}" if ctx.recipient else "- 提供先: 提供のたびに提供先名・契約番号・提供IDを記載した明示を交付します"
        return (f"{who}\n- 日付: {ctx.created:%Y年%m月%d日}",
                f"提供は提供ごとに提供記録（{PROVISION_LEDGER}）に記録し、その提供IDを記載した明示を提供先に交付します。")
    head = [f"- 提供先: {delivery.recipient}", f"- 契約番号: {delivery.contract_id}"]
    head += [f"- 認定番号: {delivery.certification_id}"] if delivery.certification_id else []
    head += [f"- 提供ID: {delivery.delivery_id}", f"- 提供日: {delivery.day:%Y年%m月%d日}"]
    return ("\n".join(head),
            f"この提供は提供記録（{PROVISION_LEDGER}）に提供ID {delivery.delivery_id} として記録しています。提供記録には"
            "提供先、契約番号、提供日、情報の区分、項目、表ごとの件数及び根拠とした第三者提供時公表を記載しています。")


def explicit_notice(ctx: NoticeContext, delivery: Delivery | None = None) -> str:
    """The 明示 of the release (publish) or of one delivery: then it names the recipient, the contract
    and the 提供記録 row that records the delivery (requirements 32, 49)."""
    r = _regime(ctx)
    duties = "\n".join(f"{i}. {d}" for i, d in enumerate(r["duties"], start=1))
    head, record = _delivery_lines(ctx, delivery)
    return f"""# 明示：提供する情報が{ctx.regime}である旨

{head}
- 提供元: {ctx.producer.name}
- リリースID: {ctx.release_id}

このリリースに含まれる情報は{ctx.regime}です。{r["law"]}加工されています。

## 受領者の義務

{duties}

## 含まれる項目

{_items_block(ctx.items)}

## 対象期間

{_period_text(ctx)}

## 提供の方法と提供記録

{ctx.producer.provision_method}。{record}

ご不明な点は次の窓口にお問い合わせください: {ctx.producer.contact}
"""
