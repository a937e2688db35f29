"""The anonymization policy as a pure model: rules, tables, profile parameters, linkage.

No parsing and no law here: `parse.py` builds a Policy from YAML data and `law.py` refuses what the
law forbids. Everything in transforms/, expectations/ and jobs/ reads this model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

REGIMES = {"anonymized": "匿名加工医療情報", "pseudonymized": "仮名加工医療情報"}
KEY_SCOPES = {"anonymized": "release", "pseudonymized": "recipient"}  # the default of params.key_scope
MAX_AGE_TOP = 90  # requirement 17: 90 and over is one band; configurable only downwards


class PolicyError(ValueError):
    """A policy violates the format or the law; `key` is the path, e.g. tables.receipts.name."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)



@dataclass(frozen=True)
class Rule:
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    output: str = ""  # output column name: `as`, else the source column

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class TablePolicy:
    name: str
    output: str | None  # None: the table is not released (it feeds linkage and patient facts only)
    columns: dict[str, Rule]
    derived: dict[str, Rule] = field(default_factory=dict)
    # output column -> the quasi-identifier of `patients` it carries (req 21): recoded to the level that
    # k-anonymity chose, so that a join on pid gives nothing finer than the patients table
    carriers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KmItem:
    """One kind of item an attacker may know: `code` of table `table` at its month `time` (a column of
    the table, or of `receipts` joined on receipt_key). The code climbs the hierarchy `file` (its
    code column `key`, then `levels`, finest first)."""

    table: str
    code: str
    time: str
    file: str
    key: str
    levels: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.table}.{self.code}"


@dataclass(frozen=True)
class KmParams:
    """(k, k^m)-anonymity (DESIGN.md decision 7; reqs 21-22): quasi-identifiers plus any m items of a
    patient are held by at least k patients. `suppression_limit`: the share of item rows that may be
    suppressed; beyond it the release is refused."""

    m: int = 2
    suppression_limit: float = 0.05
    items: tuple[KmItem, ...] = ()

    def record(self) -> dict[str, Any]:
        return {"m": self.m, "suppression_limit": self.suppression_limit,
                "items": [{**i.__dict__, "levels": list(i.levels)} for i in self.items]}


@dataclass(frozen=True)
class ProfileParams:
    k: int = 10
    age_top: int = MAX_AGE_TOP
    rare_threshold: int = 10
    quasi_identifiers: tuple[str, ...] = ("age_band", "sex", "area")
    suppression_limit: float = 0.05
    l: int = 0  # distinct l-diversity of `sensitive` within every class of patients (0: off)  # noqa: E741
    sensitive: str = ""  # a column of the release table patients (not a quasi-identifier)
    km: KmParams | None = None  # (k, k^m)-anonymity over the items of the claims (anonymized profile)
    # Which pseudonyms two releases share (reqs 15, 16, 38): "release" = none (a key per recipient and
    # release), "recipient" = every delivery to one recipient keeps its pids. Default per profile.
    key_scope: str = ""


@dataclass(frozen=True)
class Linkage:
    keys: tuple[str, ...] = ("id1", "id2")
    rounds: int = 8  # at most: propagation stops as soon as no label changes
    unlinked: str = "singleton"  # singleton: own pid per receipt | drop: record removed, counted


@dataclass(frozen=True)
class Policy:
    profile: str
    regime: str
    params: ProfileParams
    linkage: Linkage
    tables: dict[str, TablePolicy]
    hierarchies: str = "conf/hierarchies"
    clinical_layouts: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def effective(self) -> dict[str, Any]:
        """The policy with every default filled in, as plain JSON data."""
        return {
            "profile": self.profile, "regime": self.regime, "hierarchies": self.hierarchies,
            "clinical_layouts": dict(self.clinical_layouts),
            "params": {**self.params.__dict__, "quasi_identifiers": list(self.params.quasi_identifiers),
                       "km": self.params.km.record() if self.params.km else None},
            "linkage": {**self.linkage.__dict__, "keys": list(self.linkage.keys)},
            "tables": {
                t.name: {
                    "output": t.output,
                    "columns": {c: {"method": r.method, "as": r.output, **r.params} for c, r in t.columns.items()},
                    "derived": {c: {"method": r.method, **r.params} for c, r in t.derived.items()},
                    "quasi_identifiers": dict(t.carriers),
                } for t in self.tables.values()
            },
        }

    def sha256(self) -> str:
        text = json.dumps(self.effective(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def released(self) -> list[TablePolicy]:
        return [t for t in self.tables.values() if t.output]
