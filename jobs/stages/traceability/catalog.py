"""The requirement catalog: the numbered items of ../shared/reference/legal_requirements.md.

An item is a line `NN. **title** basis`; its section is the `## X. name` heading above it. The
catalog must number its items 1, 2, 3, ... without a gap, so a renumbered reference fails loudly
instead of silently moving every test to the wrong requirement.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from jobs.runtime.errors import InputError

_SECTION = re.compile(r"^## ([A-Z])\. (.+?)\s*$")
_ITEM = re.compile(r"^(\d+)\. \*\*(.+?)\*\*\s*(.*?)\s*$")


@dataclass(frozen=True)
class Requirement:
    number: int
    title: str
    basis: str  # the rest of the item's first line: basis tags and the article, e.g. "[L] (規則35条1号)."
    section: str  # "B. Deleting identifying descriptions (...)"


@dataclass(frozen=True)
class Catalog:
    requirements: tuple[Requirement, ...]
    sha256: str  # of the reference file, printed in the generated page: which version it traces

    def numbers(self) -> frozenset[int]:
        return frozenset(r.number for r in self.requirements)


def parse_catalog(text: str, source: str = "legal_requirements.md") -> Catalog:
    """The numbered requirements of the reference text, in order."""
    section, found = "", []
    for line in text.splitlines():
        if m := _SECTION.match(line):
            section = f"{m.group(1)}. {m.group(2)}"
        elif (m := _ITEM.match(line)) and section:
            found.append(Requirement(int(m.group(1)), m.group(2).strip(), _basis(m.group(3)), section))
    numbers = [r.number for r in found]
    if not found or numbers != list(range(1, len(found) + 1)):
        raise InputError(f"{source}: expected requirements numbered 1, 2, 3, ... under '## X.' sections, "
                         f"found {numbers[:60]}: check the file is the legal requirements reference")
    return Catalog(tuple(found), hashlib.sha256(text.encode("utf-8")).hexdigest())


def read_catalog(path: Path) -> Catalog:
    if not path.is_file():
        raise InputError(f"{path}: requirements reference not found: set TOKUMEI_SHARED to the shared "
                         "folder or pass --reference")
    return parse_catalog(path.read_text(encoding="utf-8"), str(path))


def _basis(rest: str) -> str:
    """Without a trailing ":" or "." and without the markup of a second bold phrase (item 51 has two duties)."""
    return rest.replace("**", "").rstrip(":.").strip()
