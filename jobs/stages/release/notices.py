"""The notices a release carries, in Japanese: 作成時公表, 第三者提供時公表 and 明示.

Requirements 30-32: publish the *items* of personal information the release contains (not values),
publish the provision method before provision, and tell the recipient explicitly what the data are
and what they must not do. Item labels come from the release's columns, so the notice lists exactly
what was released (requirement 30's test: no omission, no extra).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
    period: str | None = None  # e.g. "2025年01月〜2025年03月診療分"


def _items_block(items: tuple[Item, ...]) -> str:
    lines: list[str] = []
    current = None
    for item in items:
        if item.table_label != current:
            current = item.table_label
            lines.append(f"- {current}")
        lines.append(f"  - {item.label}")
    return "\n".join(lines)


def _regime(ctx: NoticeContext) -> dict:
    if ctx.regime not in REGIME_TEXT:
        raise ValueError(f"unknown legal regime {ctx.regime!r}; expected one of {sorted(REGIME_TEXT)}")
    return REGIME_TEXT[ctx.regime]


def creation_notice(ctx: NoticeContext) -> str:
    r = _regime(ctx)
    period = ctx.period or "対象期間はリリースの manifest.json を参照"
    return f"""# {ctx.regime}の作成に関する公表（作成時公表）

- 公表日: {ctx.created:%Y年%m月%d日}
- 作成事業者: {ctx.producer.name}
- リリースID: {ctx.release_id}

{ctx.producer.name}は、{r["law"]}、医療情報から{ctx.regime}（{r["nature"]}）を作成しました。

## {ctx.regime}に含まれる個人に関する情報の項目

{_items_block(ctx.items)}

## 作成の対象期間

{period}。同一の項目による作成は継続して行います。

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

## 提供の方法

{ctx.producer.provision_method}

## お問い合わせ

{ctx.producer.contact}
"""


def explicit_notice(ctx: NoticeContext) -> str:
    r = _regime(ctx)
    duties = "\n".join(f"{i}. {d}" for i, d in enumerate(r["duties"], start=1))
    recipient = ctx.recipient or "（提供先は提供記録に記載）"
    return f"""# 明示：提供する情報が{ctx.regime}である旨

- 提供先: {recipient}
- 提供元: {ctx.producer.name}
- リリースID: {ctx.release_id}
- 日付: {ctx.created:%Y年%m月%d日}

このリリースに含まれる情報は{ctx.regime}です。{r["law"]}加工されています。

## 受領者の義務

{duties}

## 含まれる項目

{_items_block(ctx.items)}

ご不明な点は次の窓口にお問い合わせください: {ctx.producer.contact}
"""
