"""Delivery, 提供記録 and notices without Spark (issue 17 items 3 and 5): the period text, the placeholder
scan, the publication record's checks, who may receive a release on which day, the ledger row and
the command lines. The whole commands on a real release are in tests/e2e/test_deliver.py."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs import deliver, notices
from jobs.runtime.config import ProducerSettings, load_pipeline
from jobs.runtime.errors import InputError, RefusedError
from jobs.stages.release.notices import (
    Delivery,
    Item,
    NoticeContext,
    Period,
    creation_notice,
    explicit_notice,
    provision_notice,
)
from jobs.stages.release.placeholders import check_notices, check_producer, find_placeholders
from jobs.stages.release.provision import DeliveryPlan, check_recipient, ledger_row
from jobs.stages.release.publication import check_published, publication_entries
from jobs.stages.release.recipients import Recipient

D = dt.date
ANON, PSEUDO = "匿名加工医療情報", "仮名加工医療情報"
UNIV = Recipient("univ", "架空大学", "I", "C-1", D(2030, 3, 31), purpose="研究", contract_id="K-1")
OPEN = Recipient("open", "架空コンソーシアム", contract_id="K-2")
ITEMS = (Item("患者", "性別"), Item("患者", "年齢区分"), Item("傷病名", "傷病名コード"))


APRIL_MAY = Period(D(2019, 4, 1), D(2019, 5, 1))


def _ctx(period: Period | None = APRIL_MAY, recipient: str | None = None) -> NoticeContext:
    return NoticeContext("r-1", ANON, D(2026, 1, 5), ITEMS, load_pipeline().producer, recipient, period)


def _manifest(regime: str = ANON, keyed_for: str | None = None) -> dict:
    return {"release_id": "r-1", "release_regime": regime, "recipient": {"id": keyed_for} if keyed_for else None,
            "key": {"key_id": "demo", "fingerprint": "f" * 16},
            "period": {"first_service_month": "2019-04", "last_service_month": "2019-06", "time_level": "quarter"},
            "items": [{"table": "患者", "label": "性別"}, {"table": "傷病名", "label": "傷病名コード"}],
            "outputs": [{"table": "patients", "rows": 420, "delta_version": 1, "columns": ["pid", "sex"]},
                        {"table": "diagnoses", "rows": 1307, "delta_version": 1, "columns": ["pid", "disease_code"]}]}


@pytest.mark.parametrize(("period", "text"), [
    (Period(D(2019, 4, 1), D(2019, 5, 1)), "2019年04月〜2019年05月診療分"),
    (Period(D(2025, 1, 1), D(2025, 1, 1)), "2025年01月診療分"),
    (Period(D(2019, 4, 1), D(2019, 10, 1), "quarter"),
     "2019年第2四半期（4〜6月）〜2019年第4四半期（10〜12月）診療分（診療年月は四半期単位に一般化して提供）"),
    (Period(D(2024, 7, 1), D(2024, 7, 1), "half"), "2024年下半期（7〜12月）診療分（診療年月は半期単位に一般化して提供）"),
])
def test_req30_the_period_reads_as_the_months_released(period, text):
    assert period.text() == text
    assert Period.from_record(period.record()) == Period(period.first, period.last, period.time_level)


def test_req30_every_notice_states_the_period_items_and_method_and_holds_no_placeholder():
    ctx = _ctx()
    delivery = Delivery("20260105-0a1b2c3d", D(2026, 1, 5), "架空大学", "K-1", "C-1")
    texts = {"作成時公表": creation_notice(ctx), "第三者提供時公表": provision_notice(ctx), "明示": explicit_notice(ctx),
             "明示（提供）": explicit_notice(ctx, delivery)}
    for name, text in texts.items():
        assert find_placeholders(text) == [], name
        assert "2019年04月〜2019年05月診療分" in text and "傷病名コード" in text, name
    assert ctx.producer.provision_method in texts["第三者提供時公表"]
    for words in ("- 提供先: 架空大学", "- 契約番号: K-1", "- 認定番号: C-1", "提供ID 20260105-0a1b2c3d", "releases/_provisions"):
        assert words in texts["明示（提供）"], words
    assert "提供記録（releases/_provisions）" in texts["明示"]


def test_req30_a_release_without_service_months_says_so_instead_of_a_placeholder():
    text = creation_notice(_ctx(period=None))
    assert "診療年月を含みません" in text and "2026年01月05日" in text and find_placeholders(text) == []


@pytest.mark.parametrize(("line", "kind"), [
    ("対象期間はリリースの manifest.json を参照", "manifest を参照"),
    ("Period: see manifest", "manifest を参照"),
    ("- 提供先: TBD", "TBD / TODO"),
    ("- 提供先: <recipient>", "<...>"),
    ("作成事業者: ○○株式会社", "○○"),
    ("リリースID: {release_id}", "{...}"),
    ("（作成事業者名を conf/pipeline.yaml producer.name に設定してください）", "未設定の値"),
    ("- 提供先: None", "None / null"),
])
def test_req30_each_placeholder_pattern_is_found(line, kind):
    assert find_placeholders(f"# 見出し\n{line}\n") == [(kind, line)]
    with pytest.raises(RefusedError, match="未記入"):
        check_notices({"明示": line}, "release r-1")


def test_req30_ordinary_japanese_and_latin_words_are_not_placeholders():
    text = "NoneType ではない Nonetheless、二〇二五年、TBDX、privacy@example.invalid、（例）、第2四半期"
    assert find_placeholders(text) == []


def test_req30_unset_producer_settings_are_refused_naming_the_key():
    with pytest.raises(RefusedError, match="producer.name") as exc:
        check_producer(ProducerSettings(), "conf/pipeline.yaml")
    assert "producer.contact" in str(exc.value) and "provision_method" not in str(exc.value).split("。")[0]
    check_producer(load_pipeline().producer, "conf/pipeline.yaml")  # the shipped settings pass


def _record(day: str = "2026-01-01", sha: str = "a" * 64) -> dict:
    return {n: {"published_on": day, "url": "https://example.invalid/koukai", "sha256": sha} for n in ("作成時公表", "第三者提供時公表")}


TEXTS = {"作成時公表": "a" * 64, "第三者提供時公表": "a" * 64}


@pytest.mark.parametrize(("day", "ok"), [(D(2026, 1, 14), False), (D(2026, 1, 15), True), (D(2026, 3, 1), True)])
def test_req31_a_delivery_waits_the_lead_time_after_the_provision_notice(day, ok):
    if ok:
        assert check_published(_record(), TEXTS, day, 14, "r-1")["published_on"] == "2026-01-01"
    else:
        with pytest.raises(RefusedError, match="2026-01-15 以降に提供してください"):
            check_published(_record(), TEXTS, day, 14, "r-1")


@pytest.mark.parametrize(("recorded", "words"), [
    ({}, "作成時公表・第三者提供時公表が公表済みとして記録されていない"),
    ({"作成時公表": _record()["作成時公表"]}, "第三者提供時公表が公表済みとして記録されていない"),
    (_record(sha="b" * 64), "本文が公表時から変わっています"),
])
def test_req31_a_delivery_without_a_recorded_publication_of_the_same_text_is_refused(recorded, words):
    with pytest.raises(RefusedError, match=words) as exc:
        check_published(recorded, TEXTS, D(2026, 6, 1), 14, "r-1")
    assert exc.value.exit_code == 1


def test_req30_publication_dates_are_checked_and_a_notice_is_recorded_once():
    now = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    args = dict(url=None, today=D(2026, 1, 10), released_on=D(2026, 1, 5), texts_sha256=TEXTS, now=now)
    new = publication_entries(("第三者提供時公表",), D(2026, 1, 6), recorded={}, **args)
    assert new == {"第三者提供時公表": {"published_on": "2026-01-06", "url": None, "sha256": "a" * 64,
                                     "recorded_at": "2026-01-10T00:00:00+00:00"}}
    with pytest.raises(InputError, match="未来"):
        publication_entries(("作成時公表",), D(2026, 1, 11), recorded={}, **args)
    with pytest.raises(InputError, match="公開日 2026-01-05 より前"):
        publication_entries(("作成時公表",), D(2026, 1, 4), recorded={}, **args)
    with pytest.raises(RefusedError, match="2026-01-06 に公表済み"):
        publication_entries(("作成時公表", "第三者提供時公表"), D(2026, 1, 7), recorded=new, **args)


@pytest.mark.parametrize(("day", "ok"), [(D(2030, 3, 31), True), (D(2030, 4, 1), False)])
def test_req39_a_pseudonymized_delivery_needs_a_certification_valid_on_the_day(day, ok):
    if ok:
        check_recipient(_manifest(PSEUDO, "univ"), UNIV, day)
    else:
        with pytest.raises(RefusedError, match="2030-04-01 に有効ではありません"):
            check_recipient(_manifest(PSEUDO, "univ"), UNIV, day)


def test_req39_anonymized_needs_no_certification_but_pseudonymized_does():
    check_recipient(_manifest(ANON), OPEN, D(2026, 1, 1))
    with pytest.raises(RefusedError, match="認定番号と類型"):
        check_recipient(_manifest(PSEUDO), OPEN, D(2026, 1, 1))


def test_req32_a_recipient_without_a_contract_id_is_refused():
    with pytest.raises(RefusedError, match="contract_id"):
        check_recipient(_manifest(ANON), Recipient("open", "架空コンソーシアム"), D(2026, 1, 1))


def test_req15_a_release_keyed_for_one_recipient_is_not_delivered_to_another():
    with pytest.raises(RefusedError, match="'univ' 向けの鍵"):
        check_recipient(_manifest(ANON, keyed_for="univ"), OPEN, D(2026, 1, 1))


def test_req49_the_ledger_row_carries_the_release_the_recipient_and_the_publication():
    day = D(2026, 2, 1)
    plan = DeliveryPlan(_manifest(PSEUDO, "univ"), UNIV, Delivery("20260201-00000000", day, UNIV.name, "K-1", "C-1"),
                        _record()["第三者提供時公表"])
    now = dt.datetime(2026, 2, 1, 3, tzinfo=dt.UTC)
    row = ledger_row(plan, "暗号化媒体の郵送", "releases/r-1/deliveries/20260201-00000000/明示.md", "e" * 64, "m" * 64, now)
    assert {k: row[k] for k in ("release_id", "delivered_on", "recipient_id", "recipient_name", "contract_id",
                                "certification_id", "certification_type", "certification_valid_until", "regime",
                                "provision_method", "first_service_month", "last_service_month", "key_id",
                                "provision_notice_published_on", "provision_notice_sha256")} == {
        "release_id": "r-1", "delivered_on": day, "recipient_id": "univ", "recipient_name": "架空大学",
        "contract_id": "K-1", "certification_id": "C-1", "certification_type": "I",
        "certification_valid_until": D(2030, 3, 31), "regime": PSEUDO, "provision_method": "暗号化媒体の郵送",
        "first_service_month": "2019-04", "last_service_month": "2019-06", "key_id": "demo",
        "provision_notice_published_on": D(2026, 1, 1), "provision_notice_sha256": "a" * 64}
    assert row["tables"] == [{"table": "patients", "rows": 420, "delta_version": 1, "columns": ["pid", "sex"]},
                             {"table": "diagnoses", "rows": 1307, "delta_version": 1, "columns": ["pid", "disease_code"]}]
    assert row["items"] == [{"table": "患者", "label": "性別"}, {"table": "傷病名", "label": "傷病名コード"}]


def test_notices_publish_and_deliver_parse_their_command_lines():
    args = notices.build_parser().parse_args(["publish", "--warehouse", "wh", "--release-id", "r-1", "--date", "2026-01-06",
                                              "--notice", "第三者提供時公表"])
    assert (args.action, args.date, args.notice, args.url) == ("publish", D(2026, 1, 6), ["第三者提供時公表"], None)
    args = deliver.build_parser().parse_args(["--warehouse", "wh", "--release-id", "r-1", "--recipient", "univ"])
    assert (args.recipient, args.date, args.recipients) == ("univ", None, "conf/recipients.yaml")


@pytest.mark.parametrize("argv", [
    ["publish", "--warehouse", "wh", "--release-id", "r-1", "--date", "2026/01/06"],
    ["publish", "--warehouse", "wh", "--release-id", "r-1"],
    ["--warehouse", "wh", "--release-id", "r-1", "--date", "2026-01-06"],
])
def test_bad_command_lines_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        notices.build_parser().parse_args(argv)
    assert exc.value.code == 2


def test_deliver_refuses_a_date_in_the_future_and_an_unpublished_release_with_exit_2(tmp_path, capsys):
    base = ["--warehouse", str(tmp_path / "wh"), "--release-id", "r-1", "--recipient", "example-open"]
    assert deliver.main([*base, "--date", "2999-01-01"]) == 2
    assert "未来" in capsys.readouterr().err
    assert deliver.main(base) == 2
    assert "`tokumei publish` を先に実行してください" in capsys.readouterr().err
