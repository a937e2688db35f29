"""ARX hierarchy files: found by name in a directory and read in the driver (they are small).

`<prefix>_hierarchy_<attribute>.csv`, `;`-separated, UTF-8 (a BOM is allowed). The parsing is
transforms/kanon/hierarchy.py's; errors are HierarchyError naming the directory or the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transforms.kanon.hierarchy import Hierarchy, HierarchyError, read_hierarchy_text


def find_hierarchy_file(directory: Path, attribute: str) -> Path:
    """The file `<prefix>_hierarchy_<attribute>.csv` in `directory`; exactly one must exist."""
    if not directory.is_dir():
        raise HierarchyError(f"{directory}: hierarchy directory not found")
    matches = sorted(directory.glob(f"*_hierarchy_{attribute}.csv"))
    if not matches:
        present = sorted(p.name for p in directory.glob("*_hierarchy_*.csv"))
        raise HierarchyError(
            f"{directory}: no hierarchy for quasi-identifier {attribute!r} "
            f"(expected <prefix>_hierarchy_{attribute}.csv; present: {', '.join(present) or 'none'})"
        )
    if len(matches) > 1:
        raise HierarchyError(
            f"{directory}: several hierarchies for {attribute!r}: {', '.join(p.name for p in matches)}"
        )
    return matches[0]


def read_hierarchy_file(path: Path, attribute: str, sep: str = ";") -> Hierarchy:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HierarchyError(f"{path}: not UTF-8 text: {exc}") from exc
    return read_hierarchy_text(attribute, text, str(path), sep)


def load_hierarchies(directory: str | Path, attributes: Sequence[str], sep: str = ";") -> dict[str, Hierarchy]:
    """The hierarchy of every attribute, read from `directory`."""
    return {a: read_hierarchy_file(find_hierarchy_file(Path(directory), a), a, sep) for a in attributes}
