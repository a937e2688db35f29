"""Relocate the repository's top-level packages under one `tokumei` package for the built artifacts.

The checkout keeps `jobs/`, `transforms/`, `expectations/` and `synth/` at the top (tests, `python -m
jobs.<command>`, `make demo`); a wheel or zip that installed them so would put `jobs` and `transforms` on
the `sys.path` of a shared cluster, where another library may own those names. The artifacts therefore
hold `tokumei.jobs`, `tokumei.transforms`, ...: the sources are copied into a build tree and their
absolute imports of those packages rewritten, as pip's `vendoring` tool relocates what it vendors.

Only import statements change (found with `ast`, edited at their exact positions): strings, comments,
docstrings and relative imports stay as written. A string literal that names a relocated module
(`importlib.import_module("jobs.run")`) would break silently, so it stops the build instead.
"""

from __future__ import annotations

import ast
import io
import re
import shutil
import subprocess
import tokenize
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "tokumei"
# The repository's packages that the artifacts carry, each relocated to tokumei.<name>.
RELOCATED = ("jobs", "transforms", "expectations", "synth")
# Files the code reads at run time, found beside the packages once installed: jobs/runtime/config.py
# resolves `conf/...` against parents[2] of itself, the checkout here and the `tokumei` package there.
DATA_DIRS = ("conf",)

_Edit = tuple[int, int, str]  # start offset, end offset (characters in the source), replacement


class RelocationError(ValueError):
    """A source the rewriter cannot relocate safely; the message names the file and line."""


def _offsets(source: str) -> list[int]:
    starts, pos = [0], 0
    for line in source.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _char(lines: list[str], starts: list[int], lineno: int, col_bytes: int) -> int:
    """ast columns are UTF-8 byte offsets; the edits work on characters (Japanese comments exist)."""
    line = lines[lineno - 1]
    return starts[lineno - 1] + len(line.encode("utf-8")[:col_bytes].decode("utf-8"))


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _from_module_edit(source: str, start: int, end: int) -> int:
    """Offset of the module name in `from <module> import ...` (the first name after `from`)."""
    tokens = tokenize.generate_tokens(io.StringIO(source[start:end]).readline)
    seen_from = False
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string == "from":
            seen_from = True
        elif seen_from and tok.type == tokenize.NAME:
            line_start = _offsets(source[start:end])[tok.start[0] - 1]
            return start + line_start + tok.start[1]
    raise AssertionError("a from-import without a module name")  # ast said level 0 with a module


def _alias_replacement(alias: ast.alias, package: str) -> str:
    target = f"{package}.{alias.name}"
    if alias.asname:
        return f"{target} as {alias.asname}"
    top = _top(alias.name)
    if alias.name == top:  # `import jobs`: bind `jobs` to tokumei.jobs
        return f"{target} as {top}"
    # `import jobs.x` binds `jobs` and loads jobs.x: load tokumei.jobs.x, then bind `jobs` to its package.
    return f"{target}, {package}.{top} as {top}"


def rewrite_imports(source: str, relocated: Iterable[str] = RELOCATED, package: str = PACKAGE,
                    filename: str = "<source>") -> str:
    """`source` with every absolute import of a `relocated` package moved under `package`."""
    names = set(relocated)
    tree = ast.parse(source, filename)
    lines = source.splitlines(keepends=True)
    starts = _offsets(source)
    edits: list[_Edit] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _top(node.module) in names:
            start = _char(lines, starts, node.lineno, node.col_offset)
            end = _char(lines, starts, node.end_lineno or node.lineno, node.end_col_offset or 0)
            at = _from_module_edit(source, start, end)
            edits.append((at, at, f"{package}."))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _top(alias.name) in names:
                    a = _char(lines, starts, alias.lineno, alias.col_offset)
                    b = _char(lines, starts, alias.end_lineno or alias.lineno, alias.end_col_offset or 0)
                    edits.append((a, b, _alias_replacement(alias, package)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _names_module(node.value, names):
            raise RelocationError(
                f"{filename}:{node.lineno}: the string {node.value!r} names a module that the artifacts relocate "
                f"to {package}.{node.value}; import it with an import statement or relative to __package__"
            )
    for a, b, text in sorted(edits, reverse=True):
        source = source[:a] + text + source[b:]
    _check_relocated(source, names, filename)
    return source


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _names_module(text: str, names: set[str]) -> bool:
    return bool(_DOTTED.fullmatch(text)) and _top(text) in names


def _check_relocated(source: str, names: set[str], filename: str) -> None:
    """The rewrite's own proof: no absolute import of a relocated package is left."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
        else:
            continue
        left = [m for m in modules if _top(m) in names]
        if left:
            raise RelocationError(f"{filename}:{node.lineno}: import of {left[0]} left unrelocated")


def build_tree(repo: Path, out: Path, relocated: Iterable[str] = RELOCATED, package: str = PACKAGE) -> Path:
    """Write `out/<package>/` from the checkout at `repo`; returns the package directory."""
    names = tuple(relocated)
    root = out / package
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    # BUILD_COMMIT: the manifest's code version (jobs/stages/release/manifest.py), since git cannot tell
    # the commit of an installed copy (or tells the wrong one when site-packages sits in a checkout).
    (root / "__init__.py").write_text(
        f'"""tokumei, relocated for installation: {", ".join(f"{package}.{n}" for n in names)} '
        f'(tools/relocate.py)."""\n\nBUILD_COMMIT = {_commit(repo)!r}\n', encoding="utf-8")
    for name in names:
        for src in sorted((repo / name).rglob("*.py")):
            rel = src.relative_to(repo)
            if "__pycache__" in rel.parts:
                continue
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            text = src.read_text(encoding="utf-8")
            dest.write_text(rewrite_imports(text, names, package, str(rel)), encoding="utf-8")
    for name in DATA_DIRS:
        for src in sorted((repo / name).rglob("*")):
            rel = src.relative_to(repo)
            if src.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, root / rel)
    return root


def _commit(repo: Path) -> str:
    """The checkout's commit; "" when `repo` is not the top of a git checkout (an unpacked sdist)."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--show-toplevel", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.split()
    except OSError:
        return ""
    return out[1] if len(out) == 2 and Path(out[0]).resolve() == repo.resolve() else ""
