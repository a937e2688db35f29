"""No placeholder text reaches a notice (issue 17 item 5; requirements 30-32).

A 公表 or 明示 that says "see manifest", "TBD" or "○○" has not told the public or the recipient what
the law asks it to tell. Publish and deliver scan every notice they write and refuse one that
still holds a placeholder; the producer's settings are scanned before Spark starts, since an unset
`producer.name` is the usual source (its default asks to be set).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jobs.runtime.config import ProducerSettings
from jobs.runtime.errors import RefusedError

# name -> pattern. Latin words are matched only when not part of a longer Latin word.
PLACEHOLDERS: dict[str, re.Pattern[str]] = {
    "manifest を参照": re.compile(r"manifest(\.json)?\s*を\s*参照|see\s+(the\s+)?manifest", re.IGNORECASE),
    "TBD / TODO": re.compile(r"(?<![A-Za-z])(TBD|TODO|FIXME|XXX+|lorem ipsum)(?![A-Za-z])", re.IGNORECASE),
    "<...>": re.compile(r"<[^<>\n]{0,80}>"),
    "○○": re.compile(r"[○◯〇●□×]{2,}|[XＸ]{2,}"),
    "{...}": re.compile(r"\{[^{}\n]{0,40}\}"),
    "未設定の値": re.compile(r"設定してください|未設定|未定|要確認|未記入|記入してください"),
    "None / null": re.compile(r"(?<![A-Za-z])(None|null|nan|NaT|undefined)(?![A-Za-z])"),
}


def find_placeholders(text: str) -> list[tuple[str, str]]:
    """(pattern name, the line it is on) for every placeholder in `text`, in line order."""
    found = []
    for line in text.splitlines():
        for name, pattern in PLACEHOLDERS.items():
            if pattern.search(line):
                found.append((name, line.strip()))
    return found


def check_notices(notices: Mapping[str, str], where: str) -> None:
    """Refuse (exit 1) when any notice {name: text} holds a placeholder; `where` says where they go."""
    problems = [f"{name}: 「{line}」（{kind}）" for name, text in notices.items() for kind, line in find_placeholders(text)]
    if problems:
        raise RefusedError(
            f"{where} の通知文に未記入の箇所があります: {'; '.join(problems[:5])}。通知文の値の出所"
            "（conf/pipeline.yaml の producer、conf/recipients.yaml）を設定してから再実行してください "
            "(a notice still holds placeholder text; requirements 30-32)")


def check_producer(producer: ProducerSettings, conf: str) -> None:
    """Refuse (exit 1) producer settings that would put a placeholder into every notice."""
    problems = [f"producer.{field}: 「{value}」（{kind}）" for field, value in vars(producer).items()
                for kind, _ in find_placeholders(str(value))]
    if problems:
        raise RefusedError(f"{conf}: 公表・明示に載る作成事業者の設定が未記入です: {'; '.join(problems)}。"
                           "producer.name、producer.contact、producer.provision_method を設定してください "
                           "(the notices would hold placeholder text; requirements 30-32)")
