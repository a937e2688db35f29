"""The rules of the house, checked on the source (STYLE.md habit 11, DESIGN.md dependency direction).

`import_violations(root)` reads every module of the code packages with `ast` (imports inside
functions count too) and reports:
- an import between rooms that ROOMS does not allow (e.g. transforms -> jobs, the generic kanon
  library -> anything of the domain);
- an import circle between modules (a cycle hidden behind a function-local import included).
`purity_violations(root)` reports, in transforms/, any call that opens a file, builds a session or
owns a cache, and anywhere in product code a reach into JVM internals (_jsc, _jdf, _jvm).
Both return readable lines; the tests assert they are empty and that planted violations are found.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGES = ("jobs", "transforms", "expectations", "synth", "bench", "dags")
PRODUCT = ("jobs", "transforms", "expectations", "synth")

# room -> the rooms it may import (besides itself). The longest room name that prefixes a module wins.
_TRANSFORMS_ROOMS = ("transforms.cache", "transforms.local", "transforms.kanon", "transforms.uke", "transforms.clinical", "transforms.columns",
                     "transforms.identity", "transforms.policy", "transforms.release")
ROOMS: dict[str, frozenset[str]] = {
    # generic libraries: nothing of the domain
    "transforms.kanon": frozenset({"transforms.local"}),
    "transforms.cache": frozenset(),
    "transforms.local": frozenset(),  # small frames from the driver's rows, through Arrow
    # formats
    "transforms.uke": frozenset({"transforms.local"}),
    "transforms.clinical": frozenset({"transforms.uke", "transforms.local"}),
    # column methods, identities, the policy
    "transforms.columns": frozenset({"transforms.local"}),
    "transforms.identity": frozenset({"transforms.columns", "transforms.cache", "transforms.local"}),
    "transforms.policy": frozenset({"transforms.columns", "transforms.uke", "transforms.local"}),
    # the release: everything below it
    "transforms.release": frozenset(_TRANSFORMS_ROOMS),
    "transforms": frozenset(_TRANSFORMS_ROOMS),  # a module directly in transforms/ (none but cache today)
    "synth": frozenset({"transforms.uke", "transforms.local"}),
    "expectations": frozenset({"transforms.policy", "transforms.release", "transforms.kanon", "transforms.local"}),
    # jobs: the runtime is below the stages, the stages below the command files
    "jobs.runtime": frozenset({*_TRANSFORMS_ROOMS, "transforms"}),
    "jobs.stages": frozenset({"jobs.runtime", *_TRANSFORMS_ROOMS, "transforms", "expectations", "synth"}),
    "jobs": frozenset({"jobs.runtime", "jobs.stages", *_TRANSFORMS_ROOMS, "transforms", "expectations", "synth"}),
    "bench": frozenset({"jobs", "jobs.runtime", "jobs.stages", *_TRANSFORMS_ROOMS, "transforms", "synth"}),
    "dags": frozenset(),  # the DAGs pass arguments to the commands; they import none of our code
}

# Calls that transforms may not make: (attribute or function name, why).
_IO_CALLS = {"open": "opens a file", "read_text": "reads a file", "read_bytes": "reads a file",
             "write_text": "writes a file", "write_bytes": "writes a file", "glob": "lists files",
             "iterdir": "lists files", "rglob": "lists files", "save": "writes a table", "load": "reads a table",
             "parquet": "reads or writes Parquet", "csv": "reads or writes CSV", "text": "reads text files"}
_SESSION_CALLS = {"getOrCreate": "creates a session", "builder": "creates a session",
                  "getActiveSession": "finds a session", "active": "finds a session"}
_CACHE_CALLS = {"persist": "owns a cache", "unpersist": "owns a cache", "cache": "owns a cache",
                "checkpoint": "owns a cache", "localCheckpoint": "owns a cache"}
_JVM = ("_jsc", "_jdf", "_jvm", "_jspark")


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Module name -> file, for every .py file of `packages` under `root`."""
    out: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(path: Path, module: str, known: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import of one of `known` modules in `path`."""
    names = set(known)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names]
        for target in targets:
            found = _known_prefix(target, names)
            if found is not None:
                yield node.lineno, found


def _known_prefix(name: str, names: set[str]) -> str | None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in names:
            return ".".join(parts[:i])
    return None


def room(module: str) -> str | None:
    best = None
    for r in ROOMS:
        if (module == r or module.startswith(r + ".")) and (best is None or len(r) > len(best)):
            best = r
    return best


def import_violations(root: Path) -> list[str]:
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    problems: list[str] = []
    for name, path in mods.items():
        src_room = room(name)
        for line, target in imports(path, name, mods):
            if target == name:
                continue
            graph[name].add(target)
            dst_room = room(target)
            if src_room is None or dst_room is None or src_room == dst_room:
                continue
            if dst_room not in ROOMS[src_room]:
                problems.append(f"{path.relative_to(root)}:{line}: {src_room} may not import {target} ({dst_room})")
    problems += [f"import circle: {' -> '.join(c)}" for c in _cycles(graph)]
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            # A package's __init__ importing its own submodules is how a package re-exports; not a circle.
            if w.startswith(v + "."):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def purity_violations(root: Path) -> list[str]:
    problems: list[str] = []
    for name, path in modules(root, PRODUCT).items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = path.relative_to(root)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in _JVM:
                problems.append(f"{where}:{node.lineno}: reaches into JVM internals ({node.attr})")
            if not name.startswith("transforms") or not isinstance(node, ast.Call):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else \
                node.func.id if isinstance(node.func, ast.Name) else None
            for rules in (_IO_CALLS, _SESSION_CALLS, _CACHE_CALLS):
                if called in rules:
                    problems.append(f"{where}:{node.lineno}: {called}() {rules[called]}")
        if name.startswith("transforms"):
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr == "builder":
                    problems.append(f"{where}:{node.lineno}: SparkSession.builder creates a session")
    return problems
