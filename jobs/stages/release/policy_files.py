"""Load a policy YAML at the job boundary: everything that can be wrong is refused before Spark starts.

Errors are `ConfigError(policy file, "tables.<table>.<column>", message)` (exit 2); the pure model and
its legal checks are in transforms/policy.py and transforms/policy/law.py.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobs.runtime.config import KeySettings, read_yaml, resolve_conf_path
from jobs.runtime.errors import ConfigError, InputError, RefusedError
from jobs.runtime.hierarchy_files import find_hierarchy_file, read_hierarchy_file
from jobs.runtime.keys import Key, load_key
from transforms.kanon.hierarchy import Hierarchy, HierarchyError
from transforms.policy import Policy, PolicyError, clinical_layouts, parse_policy
from transforms.policy.catalog import PATIENT_FACTS, Catalog, ColumnInfo, clinical_table, full_catalog
from transforms.policy.methods import DERIVED, METHODS
from transforms.release.qi_hierarchies import generated_hierarchy

# Reference tables that address_area needs (written by the generator helper; columns per brief).
AREA_FILES = {"prefectures.csv": ("pref_code", "name"), "municipalities.csv": ("jis_code", "pref_code", "pref_name", "municipality")}


class _StrictLoader(yaml.SafeLoader):
    """YAML where a repeated key is an error: a second `name:` line must never silently win."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_policy_yaml(p: Path) -> dict[str, Any]:
    read_yaml(p)  # the common checks: file exists, valid YAML, a mapping at the top
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ConfigError(p, "", f"not valid YAML: {exc}") from exc
    return data


def load_policy(path: str | Path) -> tuple[Policy, Path]:
    """The validated policy and the resolved path of its file."""
    p = resolve_conf_path(path)
    data = read_policy_yaml(p)
    try:
        catalog = policy_catalog(data, p)
        policy = parse_policy(data, catalog)
    except PolicyError as exc:
        raise ConfigError(p, exc.key, str(exc)[len(exc.key) + 2:] if exc.key else str(exc)) from None
    check_hierarchy_files(policy, p)
    return policy, p


def policy_catalog(data: Mapping[str, Any], file: Path) -> Catalog:
    clinical: dict[str, dict[str, ColumnInfo]] = {}
    for table, layout_path in clinical_layouts(data).items():
        layout = read_yaml(layout_path)
        cols = layout.get("columns")
        if isinstance(cols, Mapping):
            cols = [{"name": k, **(v or {})} for k, v in cols.items()]
        if not isinstance(cols, list) or not all(isinstance(c, Mapping) and "name" in c for c in cols):
            raise ConfigError(resolve_conf_path(layout_path), "columns", "expected a list of {name, type, label, risk}")
        clinical[table] = clinical_table(cols)
    return full_catalog(clinical)


def hierarchy_dir(policy: Policy) -> Path:
    return resolve_conf_path(policy.hierarchies)


def qi_hierarchies(policy: Policy, qi: Sequence[str]) -> dict[str, Hierarchy]:
    """The hierarchy of every quasi-identifier of `patients`: a `*_hierarchy_<column>.csv` file in the
    policy's hierarchy directory wins; an `age_band` rule's output without one gets the generated age
    hierarchy; anything else is a HierarchyError naming the directory and what is missing."""
    out: dict[str, Hierarchy] = {}
    for name in qi:
        try:
            path = find_hierarchy_file(hierarchy_dir(policy), name)
        except HierarchyError:
            generated = generated_hierarchy(policy.tables[PATIENT_FACTS], name)
            if generated is None:
                raise
            out[name] = generated
            continue
        out[name] = read_hierarchy_file(path, name)
    return out


def read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A small reference CSV (header row; lines starting with '#' are comments)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = [line for line in fh if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    rows = [dict(r) for r in reader]
    return list(reader.fieldnames or []), rows


def check_hierarchy_files(policy: Policy, file: Path) -> None:
    root = hierarchy_dir(policy)
    for table in policy.tables.values():
        for col, rule in table.columns.items():
            key = f"tables.{table.name}.{col}"
            needs: dict[str, tuple[str, ...]] = {}
            if rule.method in ("hierarchy", "rare") and rule.params.get("file"):
                levels = rule["levels"] if rule.method == "rare" else [rule["level"]]
                needs[rule["file"]] = (rule["key"], *levels)
            if rule.method == "address_area":
                needs.update(AREA_FILES)
            _check_files(root, file, key, needs)
    for i, item in enumerate(policy.params.km.items if policy.params.km else ()):
        _check_files(root, file, f"params.km.items[{i}].file", {item.file: (item.key, *item.levels)})


def _check_files(root: Path, file: Path, key: str, needs: dict[str, tuple[str, ...]]) -> None:
    """Each file exists in the hierarchy directory and has the columns the rule names."""
    for name, columns in needs.items():
        path = root / name
        if not path.is_file():
            raise ConfigError(file, key, f"hierarchy file {path} not found")
        header, _ = read_csv_rows(path)
        missing = [c for c in columns if c not in header]
        if missing:
            raise ConfigError(file, key, f"{path} has no column {missing[0]!r}; columns: {', '.join(header)}")


def key_ids(policy: Policy, default_key_id: str) -> dict[str, str]:
    """Which key id each keyed rule uses: {key path in the policy: key id}."""
    out: dict[str, str] = {}
    for table in policy.tables.values():
        rules = [(f"tables.{table.name}.{c}", r, METHODS[r.method]) for c, r in table.columns.items()]
        rules += [(f"tables.{table.name}.derived.{c}", r, DERIVED[r.method]) for c, r in table.derived.items()]
        for key, rule, spec in rules:
            if spec.needs_key:
                out[key] = rule.params.get("key") or default_key_id
    return out


def resolve_keys(policy: Policy, file: Path, settings: KeySettings, default_key_id: str) -> dict[str, Key]:
    """Load every key the policy uses; a missing key id names the table and column that needs it."""
    keys: dict[str, Key] = {}
    for where, key_id in key_ids(policy, default_key_id).items():
        if key_id in keys:
            continue
        try:
            keys[key_id] = load_key(settings, key_id)
        except InputError as exc:
            raise ConfigError(file, where, str(exc)) from None
    return keys


@dataclass(frozen=True)
class References:
    """Small reference tables the rules need, read once at the job boundary."""

    hierarchies: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # file -> code -> row
    prefectures: dict[str, str] = field(default_factory=dict)  # 都道府県名 -> 2-digit JIS code
    municipalities: dict[str, str] = field(default_factory=dict)  # 都道府県名+市区町村名 -> JIS code


def load_references(policy: Policy, file: Path) -> References:
    root = hierarchy_dir(policy)
    hierarchies: dict[str, dict[str, dict[str, str]]] = {}
    for table in policy.tables.values():
        for rule in table.columns.values():
            name = rule.params.get("file") if rule.method in ("hierarchy", "rare") else None
            if name and name not in hierarchies:
                _, rows = read_csv_rows(root / name)
                hierarchies[name] = {r[rule["key"]]: r for r in rows if r.get(rule["key"])}
    for item in policy.params.km.items if policy.params.km else ():
        if item.file not in hierarchies:
            _, rows = read_csv_rows(root / item.file)
            hierarchies[item.file] = {r[item.key]: r for r in rows if r.get(item.key)}
    prefectures: dict[str, str] = {}
    municipalities: dict[str, str] = {}
    if (root / "prefectures.csv").is_file():
        _, rows = read_csv_rows(root / "prefectures.csv")
        prefectures = {r["name"]: r["pref_code"].zfill(2) for r in rows if r.get("name") and r.get("pref_code")}
    if (root / "municipalities.csv").is_file():
        _, rows = read_csv_rows(root / "municipalities.csv")
        municipalities = {r["pref_name"] + r["municipality"]: r["jis_code"] for r in rows if r.get("jis_code")}
    return References(hierarchies, prefectures, municipalities)


def load_policy_checked(path: str | Path, sha256: str) -> Policy:
    """The policy a staged release was made with; refuse if the file no longer says the same."""
    policy, p = load_policy(path)
    if policy.sha256() != sha256:
        raise RefusedError(f"{p}: the policy changed since the release was staged (sha256 {policy.sha256()[:12]}, "
                           f"staged with {sha256[:12]}); run anonymize again")
    return policy
