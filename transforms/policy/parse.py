"""Policy YAML data -> a validated Policy (transforms/policy/model.py); no I/O.

A policy gives every column of every bronze table a rule (DESIGN.md decision 1: default-deny). The
format is documented for compliance officers in conf/policies/README.md. Rules that the law forbids
are refused here whatever the YAML says: a direct identifier or 個人識別符号 is never kept
(requirements 4, 8, 11-14, 37), and the anonymized profile applies items 1-4 of 規則34条
(requirements 7, 9, 17, 18, 22). Errors carry the key path `tables.<table>.<column>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transforms.policy.catalog import Catalog, ColumnInfo
from transforms.policy.km import check_km, check_km_columns, parse_km
from transforms.policy.law import check_carriers, check_table
from transforms.policy.methods import DERIVED, METHODS, MethodSpec, check_params
from transforms.policy.model import (
    KEY_SCOPES,
    MAX_AGE_TOP,
    REGIMES,
    Linkage,
    Policy,
    PolicyError,
    ProfileParams,
    Rule,
    TablePolicy,
)

_TOP_LEVEL = {"profile", "regime", "description", "params", "hierarchies", "clinical_layouts", "linkage", "tables"}
_TABLE_KEYS = {"output", "columns", "derived", "quasi_identifiers"}


def parse_policy(data: Mapping[str, Any], catalog: Catalog) -> Policy:
    """Build and validate a Policy from YAML data; raise PolicyError naming the key path."""
    _no_unknown(data, _TOP_LEVEL, "")
    profile = _req(data, "profile", str, "")
    if profile not in REGIMES:
        raise PolicyError("profile", f"{profile!r}: use one of {', '.join(REGIMES)}")
    regime = _req(data, "regime", str, "")
    if regime != REGIMES[profile]:
        raise PolicyError("regime", f"{regime!r}: profile {profile} is released as {REGIMES[profile]}")
    params = _params(data.get("params") or {}, profile)
    linkage = _linkage(data.get("linkage") or {})
    tables_raw = data.get("tables")
    if not isinstance(tables_raw, Mapping):
        raise PolicyError("tables", "required mapping of table -> rules is missing")
    for name in tables_raw:
        if name not in catalog:
            raise PolicyError(f"tables.{name}", f"unknown table; bronze tables: {', '.join(sorted(catalog))}")
    for name in catalog:
        if name not in tables_raw:
            raise PolicyError(f"tables.{name}", "no rules for this table (default-deny: every table needs rules)")
    check_km_columns(params.km, catalog)
    tables = {}
    for name, raw in tables_raw.items():
        tables[name] = check_table(_table(name, raw, catalog[name]), catalog[name], profile, params)
    outputs = [t.output for t in tables.values() if t.output]
    dup = {o for o in outputs if outputs.count(o) > 1}
    if dup:
        raise PolicyError("tables", f"two tables are released as {sorted(dup)[0]!r}")
    _check_quasi_identifiers(params, tables)
    check_km(params.km, tables)
    if profile == "anonymized":
        tables = {n: check_carriers(t, tables, params) for n, t in tables.items()}
    hier = data.get("hierarchies", "conf/hierarchies")
    if not isinstance(hier, str):
        raise PolicyError("hierarchies", "expected a directory path")
    desc = data.get("description", "")
    layouts = clinical_layouts(data)
    return Policy(profile, regime, params, linkage, tables, hier, layouts, str(desc or ""))


def _check_quasi_identifiers(params: ProfileParams, tables: dict[str, TablePolicy]) -> None:
    """The k-anonymity step reads `params.quasi_identifiers` from the release table `patients`."""
    patients = next((t for t in tables.values() if t.output == "patients"), None)
    if patients is None:
        raise PolicyError("tables", "no table is released as `patients` (one row per patient; k-anonymity works on it)")
    columns = {r.output for r in patients.columns.values() if r.method != "drop"} | set(patients.derived)
    for qi in params.quasi_identifiers:
        if qi not in columns:
            raise PolicyError("params.quasi_identifiers",
                              f"{qi!r} is not a column of the release table patients; its columns: {', '.join(sorted(columns))}")
    if bool(params.l) != bool(params.sensitive):
        raise PolicyError("params.l", "l-diversity needs both l (>= 2) and sensitive (a column of patients)")
    if params.l:
        if params.l < 2:
            raise PolicyError("params.l", f"{params.l}: distinct l-diversity needs l >= 2 (0 turns it off)")
        if params.sensitive not in columns or params.sensitive in params.quasi_identifiers:
            raise PolicyError("params.sensitive", f"{params.sensitive!r} must be a column of the release table "
                                                  f"patients that is not a quasi-identifier")


def clinical_layouts(data: Mapping[str, Any]) -> dict[str, str]:
    """`clinical_layouts: {table: layout path}`: which clinical extracts the policy covers."""
    raw = data.get("clinical_layouts") or {}
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise PolicyError("clinical_layouts", "expected a mapping of table -> layout YAML path")
    return {str(k): v for k, v in raw.items()}


def _table(name: str, raw: Any, cols: dict[str, ColumnInfo]) -> TablePolicy:
    key = f"tables.{name}"
    if not isinstance(raw, Mapping):
        raise PolicyError(key, "expected a mapping with columns (and optionally output, derived)")
    _no_unknown(raw, _TABLE_KEYS, key)
    output = raw.get("output", name)
    if output is False or output is None:
        output = None
    elif not isinstance(output, str) or not output:
        raise PolicyError(f"{key}.output", "expected a table name, or false for a table that is not released")
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, Mapping):
        raise PolicyError(f"{key}.columns", "required mapping of column -> rule is missing")
    for col in columns_raw:
        if col not in cols:
            raise PolicyError(f"{key}.{col}", f"unknown column; columns of {name}: {', '.join(sorted(cols))}")
    for col, info in cols.items():
        if col not in columns_raw and not info.optional:
            raise PolicyError(f"{key}.{col}", f"no rule for {info.label or col} (default-deny: add drop, keep or a method)")
    columns = {c: _rule(f"{key}.{c}", c, r, METHODS) for c, r in columns_raw.items()}
    derived_raw = raw.get("derived") or {}
    if not isinstance(derived_raw, Mapping):
        raise PolicyError(f"{key}.derived", "expected a mapping of new column -> rule")
    derived = {c: _rule(f"{key}.derived.{c}", c, r, DERIVED) for c, r in derived_raw.items()}
    carriers = raw.get("quasi_identifiers") or {}
    if not isinstance(carriers, Mapping) or not all(isinstance(v, str) for v in carriers.values()):
        raise PolicyError(f"{key}.quasi_identifiers", "expected a mapping of output column -> quasi-identifier of patients")
    return TablePolicy(name, output, columns, derived, {str(c): q for c, q in carriers.items()})


def _rule(key: str, col: str, raw: Any, methods: dict[str, MethodSpec]) -> Rule:
    if isinstance(raw, str):
        raw = {"method": raw}
    if not isinstance(raw, Mapping) or "method" not in raw:
        raise PolicyError(key, f"expected a method name or {{method: ..., params}}, got {raw!r}")
    method = raw["method"]
    if method not in methods:
        raise PolicyError(key, f"unknown method {method!r}; methods: {', '.join(sorted(methods))}")
    out = raw.get("as", col)
    if not isinstance(out, str) or not out:
        raise PolicyError(f"{key}.as", "expected an output column name")
    given = {k: v for k, v in raw.items() if k not in ("method", "as")}
    params, err = check_params(methods[method], given)
    if err:
        raise PolicyError(f"{key}.{err[0]}", f"{method}: {err[1]}")
    return Rule(method, params, out)


def _params(raw: Any, profile: str) -> ProfileParams:
    if not isinstance(raw, Mapping):
        raise PolicyError("params", "expected a mapping")
    fields = ProfileParams.__dataclass_fields__
    _no_unknown(raw, set(fields), "params")
    for name, value in raw.items():
        if name == "km":
            continue
        want = (float if name == "suppression_limit" else list if name == "quasi_identifiers"
            else str if name in ("sensitive", "key_scope") else int)
        if isinstance(value, bool) or not isinstance(value, (want, int) if want is float else want):
            raise PolicyError(f"params.{name}", f"expected {want.__name__}, got {value!r}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k != "km"}
    values["key_scope"] = values.get("key_scope") or KEY_SCOPES[profile]
    if values["key_scope"] not in ("release", "recipient"):
        raise PolicyError("params.key_scope", f"{values['key_scope']!r}: release (no pseudonym shared between "
                                              "releases) or recipient (deliveries to one recipient share pids)")
    p = ProfileParams(**values, km=parse_km(raw.get("km"), profile))
    if p.k < 1 or p.rare_threshold < 1:
        raise PolicyError("params", "k and rare_threshold must be >= 1")
    if profile == "anonymized" and not 0 < p.age_top <= MAX_AGE_TOP:
        raise PolicyError("params.age_top", f"{p.age_top}: 90 and over is one band; the top may only be lowered (requirement 17)")
    return p


def _linkage(raw: Any) -> Linkage:
    if not isinstance(raw, Mapping):
        raise PolicyError("linkage", "expected a mapping")
    _no_unknown(raw, set(Linkage.__dataclass_fields__), "linkage")
    keys = tuple(raw.get("keys", ("id1", "id2")))
    if not keys or any(k not in ("id1", "id2") for k in keys):
        raise PolicyError("linkage.keys", f"{list(keys)}: use id1 and/or id2")
    rounds = raw.get("rounds", 8)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 20:
        raise PolicyError("linkage.rounds", f"{rounds!r}: an integer from 1 to 20")
    unlinked = raw.get("unlinked", "singleton")
    if unlinked not in ("singleton", "drop"):
        raise PolicyError("linkage.unlinked", f"{unlinked!r}: use singleton or drop")
    return Linkage(keys, rounds, unlinked)


def _no_unknown(raw: Mapping[str, Any], allowed: set[str], key: str) -> None:
    for name in raw:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            raise PolicyError(where, f"unknown key; allowed here: {', '.join(sorted(allowed))}")


def _req(data: Mapping[str, Any], name: str, tp: type, key: str) -> Any:
    if name not in data:
        raise PolicyError(name, "required key is missing")
    if not isinstance(data[name], tp):
        raise PolicyError(name, f"expected {tp.__name__}, got {data[name]!r}")
    return data[name]
