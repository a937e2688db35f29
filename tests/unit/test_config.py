import datetime as dt
from pathlib import Path

import pytest

from jobs.runtime.config import NoticeSettings, from_mapping, load_pipeline
from jobs.runtime.errors import ConfigError

GOOD = """
keys:
  key_id: demo
spark:
  shuffle_partitions: 4
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipeline.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_loads_into_frozen_dataclasses(tmp_path):
    cfg = load_pipeline(_write(tmp_path, GOOD))
    assert cfg.keys.key_id == "demo" and cfg.spark.shuffle_partitions == 4
    with pytest.raises(AttributeError):
        cfg.keys.key_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (GOOD + "  shuffle_partitons: 3\n", "spark.shuffle_partitons", "unknown key"),
        ("spark:\n  shuffle_partitions: 4\n", "keys", "required key is missing"),
        ("keys:\n  key_id: 7\n", "keys.key_id", "expected str, got int"),
        ("keys:\n  key_id: demo\nspark:\n  shuffle_partitions: yes\n", "spark.shuffle_partitions", "got bool"),
        ("keys:\n  key_id: demo\nspark: [1]\n", "spark", "expected a mapping"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, text, key, words):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert str(path) in str(err.value) and key in str(err.value) and words in str(err.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_pipeline(tmp_path / "nope.yaml")


def test_req43_notice_settings_read_dates_and_refuse_bad_ones():
    n = from_mapping(NoticeSettings, {"started": dt.date(2024, 4, 1), "institutions": {"1312345678": "2024-05-01"}}, file="p.yaml")
    assert n.applies and n.institutions == {"1312345678": dt.date(2024, 5, 1)} and n.wait_days == 30
    assert not NoticeSettings().applies
    with pytest.raises(ConfigError, match=r"notice.started: expected a date YYYY-MM-DD"):
        from_mapping(NoticeSettings, {"started": "April"}, file="p.yaml", key="notice")



def test_default_conf_paths_resolve_from_any_working_directory(tmp_path, monkeypatch):
    """`spark-submit jobs/anonymize.py` run from outside the checkout still finds conf/pipeline.yaml and
    conf/layouts: relative conf paths fall back to the checkout the code runs from."""
    from jobs.runtime import config
    from jobs.runtime.config import DEFAULT_LAYOUTS, DEFAULT_PIPELINE, REPO_ROOT, resolve_conf_path

    monkeypatch.setattr(config, "_SEARCH_ROOTS", [])  # no project root remembered from an earlier load
    monkeypatch.chdir(tmp_path)
    assert (REPO_ROOT / "pyproject.toml").is_file()
    assert resolve_conf_path(DEFAULT_PIPELINE) == REPO_ROOT / "conf" / "pipeline.yaml"
    assert resolve_conf_path(DEFAULT_LAYOUTS).is_dir()
    assert resolve_conf_path("conf/no-such.yaml") == Path("conf/no-such.yaml")
