"""`params.km` of a policy: what (k, k^m)-anonymity protects against, checked against the tables.

    params:
      km:
        m: 2                        # an attacker knows at most m items of a patient
        suppression_limit: 0.05     # share of item rows that may be suppressed
        items:                      # default: the diagnoses and their service month
          - {table: diagnoses, code: disease_code, time: service_month,
             file: disease_hierarchy.csv, key: disease_code, levels: [icd10, icd10_3, icd10_chapter]}

Errors name the key (`params.km.items[0].code`): an item column the policy does not release as it
is (the (k, k^m) stage recodes it; a dropped column is no item), an unknown table or column, m < 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transforms.policy.catalog import Catalog
from transforms.policy.model import KmItem, KmParams, Policy, PolicyError, TablePolicy

DEFAULT_ITEM = {"table": "diagnoses", "code": "disease_code", "time": "service_month", "file": "disease_hierarchy.csv",
                "key": "disease_code", "levels": ["icd10", "icd10_3", "icd10_chapter"]}
_KEYS = {"m", "suppression_limit", "items"}
_ITEM_KEYS = set(DEFAULT_ITEM)


def parse_km(raw: Any, profile: str) -> KmParams | None:
    """The shape of `params.km` (the columns are checked by check_km once the tables are known)."""
    if raw is None:
        return None
    if profile != "anonymized":
        raise PolicyError("params.km", "(k, k^m)-anonymity is a measure of the anonymized profile (規則34条5号)")
    if not isinstance(raw, Mapping):
        raise PolicyError("params.km", "expected a mapping with m, suppression_limit and items")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise PolicyError(f"params.km.{unknown[0]}", f"unknown key; allowed here: {', '.join(sorted(_KEYS))}")
    m = raw.get("m", 2)
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise PolicyError("params.km.m", f"{m!r}: the number of items an attacker knows, an integer >= 1")
    limit = raw.get("suppression_limit", 0.05)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 <= limit <= 1:
        raise PolicyError("params.km.suppression_limit", f"{limit!r}: a share from 0 to 1")
    items_raw = raw.get("items", [DEFAULT_ITEM])
    if not isinstance(items_raw, list) or not items_raw:
        raise PolicyError("params.km.items", "expected a non-empty list of items")
    return KmParams(m, float(limit), tuple(_item(i, r) for i, r in enumerate(items_raw)))


def _item(i: int, raw: Any) -> KmItem:
    key = f"params.km.items[{i}]"
    if not isinstance(raw, Mapping):
        raise PolicyError(key, f"expected a mapping with {', '.join(sorted(_ITEM_KEYS))}")
    unknown = sorted(set(raw) - _ITEM_KEYS)
    if unknown:
        raise PolicyError(f"{key}.{unknown[0]}", f"unknown key; allowed here: {', '.join(sorted(_ITEM_KEYS))}")
    values = {**DEFAULT_ITEM, **raw} if raw.get("table", "diagnoses") == "diagnoses" else dict(raw)
    for name in ("table", "code", "time", "file", "key"):
        if not isinstance(values.get(name), str) or not values[name]:
            raise PolicyError(f"{key}.{name}", "required: a name")
    levels = values.get("levels")
    if not isinstance(levels, list) or not levels or not all(isinstance(v, str) and v for v in levels):
        raise PolicyError(f"{key}.levels", "expected the hierarchy's columns, finest first")
    return KmItem(values["table"], values["code"], values["time"], values["file"], values["key"], tuple(levels))


def check_km_columns(km: KmParams | None, catalog: Catalog) -> None:
    """Every item names a bronze table, one of its columns and a month column (checked before the
    tables' rules, so that a mistyped item is named as such, not as the rule it would have covered)."""
    for i, item in enumerate(km.items if km else ()):
        key = f"params.km.items[{i}]"
        if item.table not in catalog:
            raise PolicyError(f"{key}.table", f"unknown table {item.table!r}; tables: {', '.join(sorted(catalog))}")
        if item.code not in catalog[item.table]:
            raise PolicyError(f"{key}.code", f"unknown column {item.code!r} of {item.table}; columns: "
                                             f"{', '.join(sorted(catalog[item.table]))}")
        own = item.time in catalog[item.table]
        via_receipt = "receipt_key" in catalog[item.table] and item.time in catalog.get("receipts", {})
        if not (own or via_receipt):
            raise PolicyError(f"{key}.time", f"{item.time!r} is neither a column of {item.table} nor of receipts "
                                             "(joined on receipt_key)")


def check_km(km: KmParams | None, tables: Mapping[str, TablePolicy]) -> None:
    """Every item names a released table and a column it releases as it is."""
    for i, item in enumerate(km.items if km else ()):
        key = f"params.km.items[{i}]"
        table = tables[item.table]
        if table.output is None:
            raise PolicyError(f"{key}.table", f"{item.table} is not released; its items need no protection")
        rule = table.columns.get(item.code)
        if rule is None or rule.method == "drop":
            raise PolicyError(f"{key}.code", f"{item.table}.{item.code} is dropped: a column that is not released "
                                             "is no item; remove the item or release the column")
        if rule.method != "keep":
            raise PolicyError(f"{key}.code", f"{item.table}.{item.code} has method {rule.method}; an item column is "
                                             "released as `keep` and recoded by the (k, k^m) stage")


def time_carriers(policy: Policy, catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """Per released table, the output columns that show a month (kept year-months, dates generalized
    to year_month): when items are released at a coarser period, so must these be, or a join on
    receipt_id or pid gives the month back."""
    out: dict[str, tuple[str, ...]] = {}
    for name, table in policy.tables.items():
        if table.output is None or name not in catalog:
            continue
        cols = []
        for col, rule in table.columns.items():
            info = catalog[name].get(col)
            kept_month = rule.method == "keep" and info is not None and info.kind == "ym"
            month = rule.method == "generalize_date" and rule.params.get("unit") == "year_month"
            if kept_month or month:
                cols.append(rule.output)
        if cols:
            out[name] = tuple(cols)
    return out
