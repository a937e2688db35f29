"""The column methods a policy may name, with their parameters, as data (validated, never guessed).

`category` is what the method does to a cell, and how `tokumei anonymize` counts it:
removed (drop), kept, replaced (pseudonymize), generalized (coarser value), perturbed (noise, swap,
microaggregation), suppressed on rarity. Requirement numbers: ../shared/reference/legal_requirements.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transforms.columns.pseudonym import BITS, PSEUDONYM_BITS
from transforms.policy.catalog import DATE_KINDS, NUMERIC_KINDS, STRING_KINDS

REQUIRED = object()
SCALAR_KINDS = STRING_KINDS | NUMERIC_KINDS | DATE_KINDS
ANY_KINDS = SCALAR_KINDS | {"days", "groups"}


@dataclass(frozen=True)
class Param:
    types: tuple[type, ...]
    default: Any = REQUIRED
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class MethodSpec:
    category: str
    kinds: frozenset[str]
    params: dict[str, Param] = field(default_factory=dict)
    needs_pid: bool = False  # the table must derive `pid` (per-patient methods)
    needs_key: bool = False  # keyed: a key id is resolved from the secret provider


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be > 0"


def _share(v: Any) -> str | None:
    return None if 0 < v < 1 else "must be between 0 and 1 (exclusive)"


def _increasing(v: Any) -> str | None:
    ok = len(v) >= 1 and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
    return None if ok and all(a < b for a, b in zip(v, v[1:], strict=False)) else "must be a list of increasing numbers"


def _str_list(v: Any) -> str | None:
    return None if v and all(isinstance(x, str) and x for x in v) else "must be a non-empty list of column names"


_NUM = (int, float)
_KEY = Param((str,), None)  # key id; default: the release key (pipeline keys.key_id or the recipient's)

METHODS: dict[str, MethodSpec] = {
    "keep": MethodSpec("kept", frozenset(ANY_KINDS)),
    "drop": MethodSpec("removed", frozenset(ANY_KINDS)),
    # Requirements 10, 14-15: keyed one-way replacement, never a reversible mapping.
    "pseudonymize": MethodSpec("replaced", frozenset(SCALAR_KINDS), {
        "normalize": Param((str,), "none", ("none", "digits", "insurer", "card", "kana")),
        "domain": Param((str,), None),
        "key": _KEY,
        "bits": Param((int,), PSEUDONYM_BITS, BITS),  # leading bits of the HMAC kept (32 or 64 hex characters)
    }, needs_key=True),
    # Requirements 7, 22: dates and birth dates coarsened to year, quarter or year-month.
    "generalize_date": MethodSpec("generalized", DATE_KINDS, {
        "unit": Param((str,), REQUIRED, ("year", "quarter", "year_month")),
        "at": Param((str,), None),  # for a birth date: the service date that sets the age for top-coding
        "top": Param((int,), None, check=_positive),
    }),
    # Requirements 7, 17: age at the service date, 90 and over as one value.
    "age": MethodSpec("generalized", DATE_KINDS, {
        "at": Param((str,), REQUIRED),
        "top": Param((int,), None, check=_positive),
    }),
    "age_band": MethodSpec("generalized", DATE_KINDS, {
        "at": Param((str,), REQUIRED),
        "width": Param((int,), 5, check=_positive),
        "top": Param((int,), None, check=_positive),
    }),
    # Requirement 22: per-patient keyed shift keeps every interval within a patient.
    "date_shift": MethodSpec("perturbed", frozenset({"date"}), {
        "max_days": Param((int,), REQUIRED, check=_positive),
        "key": _KEY,
    }, needs_pid=True, needs_key=True),
    # Requirement 19: top/bottom coding at fixed values or Spark-computed quantiles.
    "clip": MethodSpec("generalized", NUMERIC_KINDS, {
        "lower": Param(_NUM, None), "upper": Param(_NUM, None),
        "lower_quantile": Param(_NUM, None, check=_share), "upper_quantile": Param(_NUM, None, check=_share),
        "relative_error": Param(_NUM, 0.001, check=_share),
        "by": Param((str,), None),  # quantiles per group, e.g. per lab test code
    }),
    "round": MethodSpec("generalized", NUMERIC_KINDS, {"to": Param(_NUM, REQUIRED, check=_positive)}),
    "bin": MethodSpec("generalized", NUMERIC_KINDS, {
        "width": Param(_NUM, None, check=_positive), "edges": Param((list,), None, check=_increasing),
    }),
    # Requirement 6: postcode to its first 3 digits.
    "postal_prefix": MethodSpec("generalized", STRING_KINDS, {
        "digits": Param((int,), 3, check=lambda v: None if 1 <= v <= 3 else "must be 1, 2 or 3"),
    }),
    # Requirement 5: address to 都道府県 or 市区町村 JIS code (conf/hierarchies).
    "address_area": MethodSpec("generalized", STRING_KINDS, {
        "level": Param((str,), "prefecture", ("prefecture", "municipality")),
    }),
    # Requirement 20: 医療機関コード (10 digits, 都道府県 first) -> 都道府県.
    "institution_area": MethodSpec("generalized", STRING_KINDS, {
        "level": Param((str,), "prefecture", ("prefecture",)),
    }),
    "hierarchy": MethodSpec("generalized", STRING_KINDS, {
        "file": Param((str,), REQUIRED), "key": Param((str,), REQUIRED), "level": Param((str,), REQUIRED),
        "unmapped": Param((str,), "suppress", ("suppress", "keep")),
    }),
    # Requirement 18: a code held by < threshold patients climbs its hierarchy, else is suppressed.
    "rare": MethodSpec("generalized", STRING_KINDS, {
        "threshold": Param((int,), None, check=_positive),
        "file": Param((str,), None), "key": Param((str,), None), "levels": Param((list,), None, check=_str_list),
        "action": Param((str,), "cell", ("cell", "record")),
        "cumulative_share": Param(_NUM, None, check=_share),  # NDB-S rule (practice.md)
        "blank": Param((list,), None, check=_str_list),  # columns blanked with a suppressed code
        "level_column": Param((bool,), False),
    }, needs_pid=True),
    "noise": MethodSpec("perturbed", NUMERIC_KINDS, {
        "distribution": Param((str,), "laplace", ("laplace", "gaussian")),
        "scale": Param(_NUM, REQUIRED, check=_positive),
        "seed": Param((int,), 0),
        "round_to": Param(_NUM, None, check=_positive),
        "key": _KEY,
    }, needs_key=True),
    "microaggregate": MethodSpec("perturbed", NUMERIC_KINDS, {
        "k": Param((int,), REQUIRED, check=lambda v: None if v >= 2 else "must be >= 2"),
        "max_distinct": Param((int,), 1_000_000, check=_positive),
    }),
    "rank_swap": MethodSpec("perturbed", NUMERIC_KINDS, {
        "p": Param(_NUM, REQUIRED, check=lambda v: None if 0 < v <= 100 else "must be in (0, 100]"),
        "seed": Param((int,), 0),
        "max_distinct": Param((int,), 1_000_000, check=_positive),
        "key": _KEY,
    }, needs_key=True),
}

# Derived columns (declared under `derived:`), built from several source columns.
DERIVED: dict[str, MethodSpec] = {
    # NDB 名寄せ: ID1/ID2 keyed hashes joined into one pseudonymous patient id (DESIGN.md decision 3).
    "patient_id": MethodSpec("replaced", frozenset(), {"key": _KEY}, needs_key=True),
}


def check_params(spec: MethodSpec, raw: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """Params with defaults filled in, or (param, message) for the first bad one."""
    out: dict[str, Any] = {}
    for name in raw:
        if name not in spec.params:
            allowed = ", ".join(sorted(spec.params)) or "(none)"
            return out, (name, f"unknown parameter; allowed: {allowed}")
    for name, p in spec.params.items():
        if name not in raw:
            if p.default is REQUIRED:
                return out, (name, "required parameter is missing")
            out[name] = p.default
            continue
        v = raw[name]
        if isinstance(v, bool) and bool not in p.types or not isinstance(v, p.types):
            want = " or ".join(t.__name__ for t in p.types)
            return out, (name, f"expected {want}, got {type(v).__name__} ({v!r})")
        if p.choices is not None and v not in p.choices:
            return out, (name, f"{v!r} is not one of {', '.join(map(str, p.choices))}")
        msg = p.check(v) if p.check else None
        if msg:
            return out, (name, f"{v!r} {msg}")
        out[name] = v
    return out, None
