"""Which tests cite which requirement, read from the test names with `ast` (no test is imported).

A test cites requirements by its name: `test_req4_...` cites 4, `test_req4_req11_...` and
`test_req21_22_...` cite several, `test_req42a_...` cites 42 (its case (a) in the reference). A word
`reqNN` cites NN wherever it stands (`test_req21_groups_below_k_and_req18_rare_codes_fail`); a bare
number cites one only in the run of numbers right after `test_reqNN` (`..._req15_a_31_byte_key` does not).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from jobs.runtime.errors import InputError

_REQ = re.compile(r"req(\d+)[a-z]?")
_MORE = re.compile(r"(\d+)[a-z]?")


@dataclass(frozen=True)
class Citation:
    path: str  # relative to the repository root, with '/' (tests/unit/test_x.py)
    line: int
    test: str
    numbers: tuple[int, ...]

    @property
    def node(self) -> str:
        return f"{self.path}::{self.test}"


def cited(name: str) -> tuple[int, ...]:
    """The requirement numbers a test name cites, in order, without repeats; () for none."""
    words = name.split("_")
    if words[0] != "test":
        return ()
    numbers: list[int] = []
    leading = True  # still in the run test_reqNN_MM_reqKK...
    for word in words[1:]:
        m = _REQ.fullmatch(word) or (_MORE.fullmatch(word) if leading and numbers else None)
        leading = leading and m is not None
        if m is not None and int(m.group(1)) not in numbers:
            numbers.append(int(m.group(1)))
    return tuple(numbers)


def find_citations(tests: Path, root: Path) -> list[Citation]:
    """Every test function under `tests` whose name cites a requirement, by file then line."""
    if not tests.is_dir():
        raise InputError(f"{tests}: test folder not found: pass --tests")
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        rel = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), rel)
        except SyntaxError as exc:
            raise InputError(f"{rel}:{exc.lineno}: not valid Python, so its test names cannot be read: {exc.msg}") from exc
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (numbers := cited(node.name)):
                found.append(Citation(rel, node.lineno, node.name, numbers))
    return sorted(found, key=lambda c: (c.path, c.line))
