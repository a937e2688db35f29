"""The recipient registry (conf/recipients.yaml): who may receive a release, with which certification.

仮名加工医療情報 goes only to a 認定仮名加工医療情報利用事業者 (requirement 39): `tokumei anonymize
--profile pseudonymized` refuses (exit 1) without `--recipient`, or for a recipient whose
certification id is missing, whose type is not I/II, or whose certification has expired. A
recipient id missing from the registry, or a malformed registry, is bad input (exit 2). A recipient
may name its own key id: a different key per recipient makes releases unlinkable (requirement 15).
`tokumei publish` and `tokumei deliver` check the certification again on their own day (`check_certified`):
a certification that lapsed after anonymize stops the release there. `contract_id` is the contract a
delivery is made under (requirement 32: the 明示 and the 提供記録 name it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.runtime.config import DEFAULT_REGISTRY, read_yaml, resolve_conf_path
from jobs.runtime.errors import ConfigError, InputError, RefusedError

TYPES = ("I", "II")  # 認定仮名加工医療情報利用事業者 第一種 (own environment) / 第二種 (our remote environment)
_FIELDS = {"name", "type", "certification_id", "valid_until", "key_id", "purpose", "contract_id"}


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    type: str | None = None
    certification_id: str | None = None
    valid_until: dt.date | None = None
    key_id: str | None = None
    purpose: str | None = None
    contract_id: str | None = None

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "certification_id": self.certification_id,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None, "purpose": self.purpose}


def load_registry(path: str | Path = DEFAULT_REGISTRY) -> dict[str, Recipient]:
    p = resolve_conf_path(path)
    data = read_yaml(p)
    raw = data.get("recipients")
    if set(data) - {"recipients"}:
        raise ConfigError(p, sorted(set(data) - {"recipients"})[0], "unknown key; allowed: recipients")
    if not isinstance(raw, dict):
        raise ConfigError(p, "recipients", "expected a mapping of recipient id -> {name, type, certification_id, valid_until}")
    return {str(rid): _recipient(p, str(rid), entry) for rid, entry in raw.items()}


def _recipient(file: Path, rid: str, entry: Any) -> Recipient:
    key = f"recipients.{rid}"
    if not isinstance(entry, dict):
        raise ConfigError(file, key, "expected a mapping")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise ConfigError(file, f"{key}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(_FIELDS))}")
    if not isinstance(entry.get("name"), str) or not entry["name"]:
        raise ConfigError(file, f"{key}.name", "required: the recipient's name")
    kind = entry.get("type")
    if kind is not None and str(kind) not in TYPES:
        raise ConfigError(file, f"{key}.type", f"{kind!r}: use I or II (認定仮名加工医療情報利用事業者の類型)")
    until = entry.get("valid_until")
    if isinstance(until, str):
        try:
            until = dt.date.fromisoformat(until)
        except ValueError:
            raise ConfigError(file, f"{key}.valid_until", f"{until!r}: use YYYY-MM-DD") from None
    if until is not None and not isinstance(until, dt.date):
        raise ConfigError(file, f"{key}.valid_until", "expected a date YYYY-MM-DD")
    for name in ("certification_id", "key_id", "purpose", "contract_id"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            raise ConfigError(file, f"{key}.{name}", "expected a string")
    return Recipient(rid, entry["name"], str(kind) if kind is not None else None, entry.get("certification_id"),
                     until, entry.get("key_id"), entry.get("purpose"), entry.get("contract_id"))


def resolve_recipient(profile: str, recipient_id: str | None, registry_path: str | Path = DEFAULT_REGISTRY,
                      today: dt.date | None = None) -> Recipient | None:
    """The recipient of this release, or refuse (RefusedError, exit 1) what requirement 39 forbids."""
    if not recipient_id:  # None, or "" from an orchestrator's empty job parameter
        if profile == "pseudonymized":
            raise RefusedError("仮名加工医療情報は認定仮名加工医療情報利用事業者にのみ提供できます: "
                               "--recipient is required with --profile pseudonymized (requirement 39)")
        return None
    registry = load_registry(registry_path)
    if recipient_id not in registry:
        raise InputError(f"{resolve_conf_path(registry_path)}: recipient {recipient_id!r} is not registered; "
                         f"registered: {', '.join(sorted(registry)) or '(none)'}")
    r = registry[recipient_id]
    if profile == "pseudonymized":
        check_certified(r, today or dt.date.today())
    return r


def check_certified(r: Recipient, day: dt.date) -> None:
    """Refuse (exit 1) a 仮名加工医療情報 recipient without a certification valid on `day` (requirement 39)."""
    if not r.certification_id or r.type not in TYPES:
        raise RefusedError(f"受領者 {r.id!r} には認定番号と類型（I/II）が登録されていません。仮名加工医療情報は"
                           "認定仮名加工医療情報利用事業者にのみ提供できます。認定を確認して conf/recipients.yaml に"
                           "certification_id と type を登録してください "
                           f"(recipient {r.id!r} has no certification id and type (I/II); requirement 39)")
    if r.valid_until is None or r.valid_until < day:
        raise RefusedError(f"受領者 {r.id!r} の認定 {r.certification_id} は {day} に有効ではありません"
                           f"（有効期限 {r.valid_until}）。認定の更新を確認し、conf/recipients.yaml の valid_until を"
                           "更新してから再実行してください。更新されていなければ提供できません "
                           f"(certification {r.certification_id} is not valid on {day}; requirement 39)")
