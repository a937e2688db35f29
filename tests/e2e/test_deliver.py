"""`tokumei notices publish` and `tokumei deliver` on published releases (issue 17 items 3 and 5).

Two releases of the shared pipeline's bronze: its anonymized release (copied) and one 仮名 release to
example-univ made here (the module's one fixture). Acceptance: a delivery without a published 公表
exits 1; with it, the 提供記録 row matches the release (tables and row counts counted by Spark,
regime, recipient); an expired certification exits 1; every notice states the release's period as
Spark finds it in the release tables and holds no placeholder.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from helpers.pipeline import KEY, REPO

from jobs import anonymize, deliver, notices, publish, validate
from jobs.stages.release.notices import NOTICE_FILES, Period
from jobs.stages.release.placeholders import find_placeholders
from jobs.stages.release.plan import today_jst

PSEUDO = "pseudo-univ"


@pytest.fixture(scope="module")
def wh(spark, pipeline, tmp_path_factory) -> Path:
    """A copy of the shared warehouse with a second, 仮名 release to example-univ; two configs beside it:
    the pipeline's (lead time 14 days) and one with no lead time (`pipeline-lead0.yaml`)."""
    tmp = tmp_path_factory.mktemp("deliver")
    shutil.copytree(pipeline.warehouse, tmp / "wh")
    conf = (pipeline.warehouse.parent / "pipeline.yaml").read_text(encoding="utf-8")
    (tmp / "pipeline.yaml").write_text(conf, encoding="utf-8")
    assert "provision_lead_days: 14\n" in conf
    (tmp / "pipeline-lead0.yaml").write_text(conf.replace("provision_lead_days: 14\n", "provision_lead_days: 0\n"),
                                             encoding="utf-8")
    release = ["--warehouse", str(tmp / "wh"), "--release-id", PSEUDO, "--conf", str(tmp / "pipeline.yaml")]
    policy = _pseudonymized_policy(tmp)
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_DEMO", KEY)
    try:
        codes = [anonymize.main([*release, "--profile", "pseudonymized", "--recipient", "example-univ", "--policy", str(policy),
                                 "--extraction-date", pipeline.extraction.isoformat()]),
                 validate.main([*release, "--no-docs"]), publish.main(release)]
    finally:
        mp.undo()
    assert codes == [0, 0, 0]
    return tmp / "wh"


def _pseudonymized_policy(tmp: Path) -> Path:
    """The shipped 仮名 policy without labs.lab_code: validate's phone-number pattern (0[789]0-?NNNN-?NNNN)
    matches inside JLAC10 codes such as 3B090000002327201, so the shipped policy's release of this data
    fails validation (a bug of the identifier detectors, reported; not what these tests are about)."""
    text = (REPO / "conf" / "policies" / "pseudonymized.yaml").read_text(encoding="utf-8")
    assert "      lab_code: keep\n" in text
    text = text.replace("      lab_code: keep\n", "      lab_code: drop\n")
    text = text.replace("hierarchies: conf/hierarchies", f"hierarchies: {REPO / 'conf' / 'hierarchies'}")
    text = text.replace(": conf/layouts/", f": {REPO / 'conf' / 'layouts'}/")
    out = tmp / "pseudonymized.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def _deliver(wh: Path, rid: str, recipient: str, *extra: str, lead0: bool = True) -> int:
    conf = wh.parent / ("pipeline-lead0.yaml" if lead0 else "pipeline.yaml")
    return deliver.main(["--warehouse", str(wh), "--release-id", rid, "--recipient", recipient, "--conf", str(conf), *extra])


def _publish_notices(wh: Path, rid: str) -> int:
    return notices.main(["publish", "--warehouse", str(wh), "--release-id", rid, "--date", today_jst().isoformat(),
                         "--url", f"https://example.invalid/koukai/{rid}"])


def _ledger(spark, wh: Path, rid: str) -> list:
    path = wh / "releases" / "_provisions"
    if not path.exists():
        return []
    return spark.read.format("delta").load(str(path)).where(f"release_id = '{rid}'").collect()


def _manifest(wh: Path, rid: str) -> dict:
    return json.loads((wh / "releases" / rid / "manifest.json").read_text(encoding="utf-8"))


def test_req31_req49_deliver_refuses_until_the_notices_are_published_then_records_the_release(spark, wh, capsys):
    rid = "e2e"
    assert _deliver(wh, rid, "example-open") == 1
    assert "公表済みとして記録されていない" in capsys.readouterr().err and _ledger(spark, wh, rid) == []
    assert _publish_notices(wh, rid) == 0
    record = json.loads((wh / "releases" / rid / "notices" / "published.json").read_text(encoding="utf-8"))
    assert set(record["publications"]) == {"作成時公表", "第三者提供時公表"}
    assert _deliver(wh, rid, "example-open", lead0=False) == 1  # published today: 14 days to wait
    assert f"{today_jst() + dt.timedelta(days=14)} 以降に提供してください" in capsys.readouterr().err
    assert _deliver(wh, rid, "example-open") == 0
    [row] = _ledger(spark, wh, rid)
    counted = {t.name: spark.read.format("delta").load(str(t)).count() for t in (wh / "releases" / rid / "tables").iterdir()}
    assert {t["table"]: t["rows"] for t in row["tables"]} == counted
    manifest = _manifest(wh, rid)
    assert (row["regime"], row["recipient_id"], row["contract_id"]) == ("匿名加工医療情報", "example-open", "K-EXAMPLE-OPEN-0001")
    assert row["regime"] == manifest["release_regime"] and row["certification_id"] is None
    assert (row["provision_notice_published_on"], row["provision_notice_url"]) == (today_jst(), "https://example.invalid/koukai/e2e")
    assert [i["label"] for i in row["items"]] == [i["label"] for i in manifest["items"]]
    meiji = (wh / row["explicit_notice"]).read_text(encoding="utf-8")
    for words in ("- 提供先: 架空データ利活用コンソーシアム", "- 契約番号: K-EXAMPLE-OPEN-0001", f"提供ID {row['delivery_id']}"):
        assert words in meiji, words
    assert find_placeholders(meiji) == []


def test_req39_an_expired_certification_stops_delivery_and_publish(spark, wh, tmp_path, capsys):
    assert _publish_notices(wh, PSEUDO) == 0
    yesterday = today_jst() - dt.timedelta(days=1)
    expired = tmp_path / "recipients.yaml"
    expired.write_text((REPO / "conf" / "recipients.yaml").read_text(encoding="utf-8").replace(
        "valid_until: 2099-03-31", f"valid_until: {yesterday}", 1), encoding="utf-8")
    assert _deliver(wh, PSEUDO, "example-univ", "--recipients", str(expired)) == 1
    assert f"は {today_jst()} に有効ではありません" in capsys.readouterr().err
    assert _deliver(wh, PSEUDO, "example-open") == 1  # keyed for example-univ, and not certified
    assert _ledger(spark, wh, PSEUDO) == []
    # publish checks again: a staged 仮名 release whose recipient's certification lapsed is not published
    shutil.copytree(wh / "staging" / PSEUDO, wh / "staging" / "pseudo-late")
    assert publish.main(["--warehouse", str(wh), "--release-id", "pseudo-late", "--recipients", str(expired)]) == 1
    assert "有効ではありません" in capsys.readouterr().err and not (wh / "releases" / "pseudo-late").exists()
    assert _deliver(wh, PSEUDO, "example-univ") == 0
    [row] = _ledger(spark, wh, PSEUDO)
    assert (row["regime"], row["recipient_id"], row["certification_id"], row["certification_type"]) == (
        "仮名加工医療情報", "example-univ", "CAO-KAMEI-I-0000-EXAMPLE", "I")
    assert row["certification_valid_until"] == dt.date(2099, 3, 31)


@pytest.mark.parametrize("rid", ["e2e", PSEUDO])
def test_req30_notices_state_the_period_spark_finds_in_the_release_and_no_placeholder(spark, wh, rid):
    root = wh / "releases" / rid
    months = None
    for table in (root / "tables").iterdir():
        df = spark.read.format("delta").load(str(table))
        if "service_month" in df.columns:
            first, last = df.selectExpr("min(service_month)", "max(service_month)").first()
            months = (min(months[0], first), max(months[1], last)) if months else (first, last)
    assert months is not None
    period = _manifest(wh, rid)["period"]
    assert (period["first_service_month"], period["last_service_month"]) == (f"{months[0]:%Y-%m}", f"{months[1]:%Y-%m}")
    text = Period.from_record(period).text()
    for name in NOTICE_FILES.values():
        notice = (root / "notices" / name).read_text(encoding="utf-8")
        assert text in notice, name
        assert find_placeholders(notice) == [], name
