"""The record that a release's 公表 were published: `WH/releases/<RID>/notices/published.json`.

Requirements 30 and 31: the 作成時公表 and the 第三者提供時公表 must be published (on the producer's
web site, by its own procedure) before provision; `tokumei notices publish` records the day, the
address and the sha256 of the text that was published, and `tokumei deliver` refuses until both
are recorded and the lead time after the 第三者提供時公表 has passed.

Why a JSON file beside the notices and not a Delta table: the release layout (DESIGN.md) keeps
its metadata as files (manifest, lineage, notices) and Delta for data; the record is a few lines
a compliance officer reads next to the notices it is about and that travel with the release; and
both commands can check it before Spark starts. It is added after publish, never rewritten: a
notice recorded once cannot be recorded again (the release's data and manifest stay immutable).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobs.runtime import fs
from jobs.runtime.errors import InputError, RefusedError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.notices import NOTICE_FILES, PUBLISHED_NOTICES

RECORD = "published.json"


def notice_path(wh: Warehouse, release_id: str, notice: str) -> Path:
    return wh.local_path(wh.release(release_id, "notices", NOTICE_FILES[notice]))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_manifest(wh: Warehouse, release_id: str) -> dict[str, Any]:
    """The manifest of a published release, or exit 2 saying to publish it first."""
    path = wh.local_path(wh.release(release_id, "manifest.json"))
    if not path.exists():
        raise InputError(f"リリース {release_id} は公開（publish）されていません: {path} がありません。"
                         "`tokumei publish` を先に実行してください (release is not published)")
    manifest: dict[str, Any] = fs.read_json(path)
    return manifest


def read_publications(wh: Warehouse, release_id: str) -> dict[str, dict[str, Any]]:
    """{notice: {published_on, url, sha256, recorded_at}} of the notices recorded as published."""
    path = wh.local_path(wh.release(release_id, "notices", RECORD))
    if not path.exists():
        return {}
    return dict(fs.read_json(path).get("publications", {}))


def publication_entries(notices: Sequence[str], day: dt.date, url: str | None, today: dt.date,
                        released_on: dt.date, recorded: dict[str, dict[str, Any]],
                        texts_sha256: dict[str, str], now: dt.datetime) -> dict[str, dict[str, Any]]:
    """The new entries of the record, or refuse: a day in the future or before the release existed
    is bad input (exit 2); a notice already recorded is refused (exit 1)."""
    if day > today:
        raise InputError(f"--date {day}: 公表日が未来の日付です（今日 {today}）。公表した後に、その日付で記録してください")
    if day < released_on:
        raise InputError(f"--date {day}: リリースの公開日 {released_on} より前です。通知文はその日に作られたため、"
                         "それより前には公表できません。実際の公表日を指定してください")
    again = [n for n in notices if n in recorded]
    if again:
        raise RefusedError(f"{'、'.join(again)} は {recorded[again[0]]['published_on']} に公表済みとして記録されています。"
                           "記録は書き換えられません。公表をやり直す場合は新しいリリースIDで作成してください")
    return {n: {"published_on": day.isoformat(), "url": url, "sha256": texts_sha256[n], "recorded_at": now.isoformat()}
            for n in notices}


def record_publication(wh: Warehouse, release_id: str, notices: Sequence[str], day: dt.date, url: str | None,
                       today: dt.date) -> dict[str, dict[str, Any]]:
    """Add the notices published on `day` to the record; returns the whole record."""
    manifest = published_manifest(wh, release_id)
    released_on = dt.datetime.fromisoformat(manifest["published_at"]).date()
    recorded = read_publications(wh, release_id)
    texts = {n: sha256_file(notice_path(wh, release_id, n)) for n in notices}
    new = publication_entries(notices, day, url, today, released_on, recorded, texts, dt.datetime.now(dt.UTC))
    record = {**recorded, **new}
    fs.write_json_atomic(wh.local_path(wh.release(release_id, "notices", RECORD)),
                         {"release_id": release_id, "publications": record})
    return record


def check_published(recorded: dict[str, dict[str, Any]], texts_sha256: dict[str, str], day: dt.date,
                    lead_days: int, release_id: str) -> dict[str, Any]:
    """The 第三者提供時公表 a delivery on `day` relies on, or refuse (exit 1, requirements 30, 31): a 公表
    not recorded as published, one whose text changed since, or a day within the lead time."""
    how = (f"公表した後に `tokumei notices publish --warehouse WH --release-id {release_id} --date YYYY-MM-DD` "
           "で公表日を記録してから再実行してください")
    missing = [n for n in PUBLISHED_NOTICES if n not in recorded]
    if missing:
        raise RefusedError(f"リリース {release_id} の{'・'.join(missing)}が公表済みとして記録されていないため、提供できません。"
                           f"{how} (requirements 30, 31)")
    changed = [n for n in PUBLISHED_NOTICES if recorded[n].get("sha256") != texts_sha256.get(n)]
    if changed:
        raise RefusedError(f"リリース {release_id} の{'・'.join(changed)}の本文が公表時から変わっています。公表した本文で"
                           "リリースを作り直してください (the notice text differs from the one recorded as published)")
    notice = recorded["第三者提供時公表"]
    earliest = dt.date.fromisoformat(notice["published_on"]) + dt.timedelta(days=lead_days)
    if day < earliest:
        raise RefusedError(f"第三者提供時公表（{notice['published_on']}）から {lead_days} 日が経過していないため、"
                           f"{day} には提供できません。{earliest} 以降に提供してください "
                           "(conf/pipeline.yaml producer.provision_lead_days; requirement 31)")
    return notice
