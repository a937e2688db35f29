"""YAML config into frozen dataclasses, checked strictly at the job boundary.

Unknown keys, missing required keys and wrong types are refused with the file and the key path
(`spark.shuffle_partitions`), so a typo in a compliance-relevant setting can never be ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jobs.runtime.errors import ConfigError
from jobs.runtime.session import SparkSettings
from transforms.release.assemble import Tuning
from transforms.release.waiting import NoticeSettings

T = TypeVar("T")

# jobs/runtime/config.py -> the checkout; once installed, the package `tokumei`, whose conf/ holds the
# defaults (tools/relocate.py copies them there).
REPO_ROOT = Path(__file__).resolve().parents[2]
# The conf files a command reads when none is given (relative: see resolve_conf_path).
DEFAULT_PIPELINE = Path("conf/pipeline.yaml")
DEFAULT_LAYOUTS = "conf/layouts"  # clinical CSV layouts, one YAML file a table
DEFAULT_REGISTRY = "conf/recipients.yaml"  # the recipient registry


@dataclass(frozen=True)
class KeySettings:
    """Where pseudonym keys come from. Only ids are configured, never key material."""

    key_id: str
    provider: str = "env"  # env | file | databricks
    env_prefix: str = "TOKUMEI_KEY_"
    key_dir: str | None = None
    databricks_scope: str | None = None


@dataclass(frozen=True)
class IngestSettings:
    encoding: str = "auto"  # auto | cp932 | utf-8
    max_file_bytes: int = 4 * 1024**3
    optout_registry: str | None = None
    # Files deleted by opt-out purges are vacuumed on every ingest once older than this; null = each
    # table's own retention (Delta's default, 7 days). Shorter needs Delta's retention check disabled.
    vacuum_retention_hours: float | None = None


@dataclass(frozen=True)
class EraseSettings:
    """`tokumei erase` (requirements 44, 46): how long Delta keeps the files a deletion removed.

    VACUUM runs with this retention right after the DELETE; below Delta's 168-hour safety check the
    check is disabled for that one call only (jobs/stages/erase/delete.py). 0 = the old files go at once,
    so time travel can no longer return the erased rows."""

    vacuum_retention_hours: float = 168.0


@dataclass(frozen=True)
class RetentionDays:
    """Days a zone keeps data (`tokumei erase --expired`, requirement 46); null = no expiry."""

    bronze: int | None = None
    staging: int | None = None


@dataclass(frozen=True)
class RetentionSettings:
    days: RetentionDays = field(default_factory=RetentionDays)


@dataclass(frozen=True)
class ReceiptSettings:
    """受領記録 (requirement 47): how the files were obtained, and how long the record is kept."""

    method: str = "オンライン提出"
    retention_years: int = 3


@dataclass(frozen=True)
class ProducerSettings:
    """Who publishes the release: printed in the 公表 and 明示 notices (requirements 30-32)."""

    name: str = "（作成事業者名を conf/pipeline.yaml producer.name に設定してください）"
    contact: str = "（問い合わせ窓口を conf/pipeline.yaml producer.contact に設定してください）"
    # 第三者提供時公表 must state how the data are provided (requirement 31).
    provision_method: str = "暗号化した電子ファイルを、アクセス制御されたサーバを通じて提供する方法"
    # Days between the 第三者提供時公表 and the first provision it allows (requirement 31: あらかじめ;
    # 14 days is the reference's interpretation [I]). `tokumei deliver` refuses an earlier delivery.
    provision_lead_days: int = 14


@dataclass(frozen=True)
class PipelineConfig:
    keys: KeySettings
    producer: ProducerSettings = field(default_factory=ProducerSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    notice: NoticeSettings = field(default_factory=NoticeSettings)
    tuning: Tuning = field(default_factory=Tuning)
    erase: EraseSettings = field(default_factory=EraseSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    receipt: ReceiptSettings = field(default_factory=ReceiptSettings)
    policies: dict[str, str] = field(
        default_factory=lambda: {
            "anonymized": "conf/policies/anonymized.yaml",
            "pseudonymized": "conf/policies/pseudonymized.yaml",
        }
    )


# Relative conf paths (`conf/policies/anonymized.yaml`) are looked up in the working directory, then
# beside the loaded pipeline.yaml's project (on Databricks: the synced workspace files), then in the
# checkout this code runs from (installed from the wheel: the defaults in tokumei/conf/).
_SEARCH_ROOTS: list[Path] = []


def resolve_conf_path(path: str | Path) -> Path:
    """A conf path as given, else relative to a known project root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    for root in [*_SEARCH_ROOTS, REPO_ROOT]:
        if (root / p).exists():
            return root / p
    return p


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = resolve_conf_path(path)
    if not p.is_file():
        raise ConfigError(p, "", "file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(p, "", f"not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(p, "", f"expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_pipeline(path: str | Path = DEFAULT_PIPELINE) -> PipelineConfig:
    p = resolve_conf_path(path)
    cfg = from_mapping(PipelineConfig, read_yaml(p), file=p)
    root = p.resolve().parent.parent  # <project>/conf/pipeline.yaml -> <project>
    if root not in _SEARCH_ROOTS:
        _SEARCH_ROOTS.insert(0, root)
    return cfg


def from_mapping(cls: type[T], data: Any, *, file: Path | str, key: str = "") -> T:
    """Build dataclass `cls` from `data`, refusing unknown, missing and mistyped keys by path."""
    if not isinstance(data, dict):
        raise ConfigError(file, key or "(top)", f"expected a mapping, got {_type_name(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            file, _join(key, str(unknown[0])), f"unknown key; allowed keys here: {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        path = _join(key, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(file, path, "required key is missing")
            continue
        kwargs[name] = _coerce(hints[name], data[name], file=file, key=path)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, *, file: Path | str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, file=file, key=key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, file=file, key=key)  # type: ignore[arg-type]
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a mapping, got {_type_name(value)}")
        return {
            _coerce(key_tp, k, file=file, key=key): _coerce(val_tp, v, file=file, key=_join(key, str(k)))
            for k, v in value.items()
        }
    if origin in (list, tuple):
        (item_tp, *_) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected a list, got {_type_name(value)}")
        items = [_coerce(item_tp, v, file=file, key=f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is dt.date:  # YAML reads 2024-04-01 as a date; a quoted string is parsed the same way
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else _bad_date(value)
        except ValueError:
            raise ConfigError(file, key, f"expected a date YYYY-MM-DD, got {value!r}") from None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # bool is a subclass of int: `shuffle_partitions: yes` must not pass as 1.
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(file, key, f"expected {tp.__name__}, got bool")
    if tp in (str, int, float, bool) and not isinstance(value, tp):
        raise ConfigError(file, key, f"expected {tp.__name__}, got {_type_name(value)} ({value!r})")
    return value


def _bad_date(value: Any) -> dt.date:
    raise ValueError(value)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", type(None): "null"}.get(type(value), type(value).__name__)
