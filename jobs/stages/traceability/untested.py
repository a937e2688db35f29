"""docs/requirements_untested.yaml: why a requirement has no test, and which are being built.

    not_software_checkable:   # number: the reason (a duty of the organisation, a contract, the cloud)
      25: ...
    pending:                  # number: who is building its test right now
      12: ...

Every number must be a requirement of the catalog, and no number may be in both lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jobs.runtime.errors import InputError

_KEYS = ("not_software_checkable", "pending")
# A line break of a folded YAML string becomes a space: none between two Japanese characters or after 。、
_CJK_BREAK = re.compile(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])|(?<=[。、])\s+")


@dataclass(frozen=True)
class Untested:
    reasons: dict[int, str]  # not software-checkable: number -> why
    pending: dict[int, str]  # software-checkable, its test being built: number -> note


def parse_untested(data: Any, source: str, numbers: frozenset[int]) -> Untested:
    if not isinstance(data, dict) or set(data) - set(_KEYS):
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{source}: expected a mapping with the keys {', '.join(_KEYS)}, found {found}")
    reasons, pending = (_entries(data.get(key) or {}, source, key, numbers) for key in _KEYS)
    if both := sorted(set(reasons) & set(pending)):
        raise InputError(f"{source}: requirements {both} are both not_software_checkable and pending: keep one")
    return Untested(reasons, pending)


def read_untested(path: Path, numbers: frozenset[int]) -> Untested:
    if not path.is_file():
        raise InputError(f"{path}: not found: it lists the requirements without a test and why (pass --untested)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from exc
    return parse_untested(data, str(path), numbers)


def _entries(raw: Any, source: str, key: str, numbers: frozenset[int]) -> dict[int, str]:
    if not isinstance(raw, dict):
        raise InputError(f"{source}: {key}: expected a mapping of requirement number to text, got {type(raw).__name__}")
    out = {}
    for number, text in raw.items():
        if not isinstance(number, int) or number not in numbers:
            raise InputError(f"{source}: {key}: {number!r} is not a requirement number (1-{max(numbers)})")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{source}: {key}.{number}: give the reason as text")
        out[number] = " ".join(_CJK_BREAK.sub("", text.strip()).split())
    return dict(sorted(out.items()))
