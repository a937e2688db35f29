"""`make dist`: the wheel and the spark-submit zip, both holding the one package `tokumei` (relocate.py).

    python -m tools.dist [--out dist]

writes
- `tokumei-<version>-py3-none-any.whl`: for pip and Databricks; console script `tokumei`, and the
  defaults of `conf/` inside the package (`tokumei/conf/`), where jobs/runtime/config.py looks last;
- `tokumei.zip`: the same package for `spark-submit --py-files` (code only: Python reads modules from a
  zip, but the jobs read conf/ through the filesystem, so under spark-submit conf/ comes from `--conf`
  or the working directory, as in the checkout);
- `tokumei_submit.py`: the application file for spark-submit, `tokumei <command>` as a script:
  `spark-submit --py-files dist/tokumei.zip dist/tokumei_submit.py run --input ...`.

The wheel is written here rather than by setuptools from a generated project: the metadata comes
from pyproject.toml's [project] table, the files from the relocated tree, and the archive is
reproducible (fixed timestamps, sorted entries); no build backend or network is needed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tools.relocate import PACKAGE, RELOCATED, build_tree

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = "tokumei_submit.py"  # not tokumei.py: the script's folder is sys.path[0] and would shadow the package
ZIP = "tokumei.zip"
_STAMP = (1980, 1, 1, 0, 0, 0)  # the earliest zip time: the same sources give the same bytes

LAUNCHER_TEXT = '''"""spark-submit application for tokumei: `tokumei <command> ...` with the package from --py-files.

    spark-submit [spark options] --py-files tokumei.zip tokumei_submit.py <command> [options]

Built by `make dist` (tools/dist.py); the commands are those of `tokumei --help`.
"""

import sys

from tokumei.jobs.cli import main

if __name__ == "__main__":
    sys.exit(main())
'''


def relocate_entry_point(target: str, relocated: Iterable[str] = RELOCATED, package: str = PACKAGE) -> str:
    """`jobs.cli:main` -> `tokumei.jobs.cli:main` (the console script of the relocated package)."""
    module, _, attr = target.partition(":")
    if module.split(".")[0] in set(relocated):
        module = f"{package}.{module}"
    return f"{module}:{attr}" if attr else module


def metadata_text(project: dict[str, Any], readme: str | None) -> str:
    """Core metadata 2.1 (METADATA) from pyproject's [project] table."""
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    license_ = project.get("license")
    if isinstance(license_, dict) and "text" in license_:
        lines.append(f"License: {license_['text']}")
    lines += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for req in reqs:
            base, _, marker = req.partition(";")
            condition = f"({marker.strip()}) and extra == \"{extra}\"" if marker else f"extra == \"{extra}\""
            lines.append(f"Requires-Dist: {base.strip()}; {condition}")
    if readme is not None:
        lines.append("Description-Content-Type: text/markdown")
        return "\n".join(lines) + "\n\n" + readme
    return "\n".join(lines) + "\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _files(tree: Path, suffixes: tuple[str, ...] | None = None) -> list[tuple[str, bytes]]:
    return [(p.relative_to(tree).as_posix(), p.read_bytes()) for p in sorted((tree / PACKAGE).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and (suffixes is None or p.suffix in suffixes)]


def write_wheel(tree: Path, out: Path, project: dict[str, Any], readme: str | None) -> Path:
    name, version = project["name"], project["version"]
    dist_info = f"{name}-{version}.dist-info"
    scripts = project.get("scripts", {})
    meta = {
        "METADATA": metadata_text(project, readme),
        "WHEEL": "Wheel-Version: 1.0\nGenerator: tokumei tools/dist.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "top_level.txt": f"{PACKAGE}\n",
        "entry_points.txt": "[console_scripts]\n"
        + "".join(f"{s} = {relocate_entry_point(t)}\n" for s, t in scripts.items()),
    }
    path = out / f"{name}-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(path, "w") as zf:
        entries = _files(tree) + [(f"{dist_info}/{k}", v.encode()) for k, v in meta.items()]
        for arcname, data in entries:
            _write(zf, arcname, data)
            record.append(_record_line(arcname, data))
        record.append(f"{dist_info}/RECORD,,")
        _write(zf, f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode())
    return path


def write_zip(tree: Path, out: Path) -> Path:
    path = out / ZIP
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, data in _files(tree, (".py",)):
            _write(zf, arcname, data)
    return path


def _project(repo: Path) -> tuple[dict[str, Any], str | None]:
    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    readme_file = project.get("readme")
    readme = (repo / readme_file).read_text(encoding="utf-8") if isinstance(readme_file, str) else None
    return project, readme


def build_wheel_file(out: Path, repo: Path = REPO) -> Path:
    """The wheel alone (the build backend's build_wheel, tools/build_backend.py)."""
    project, readme = _project(repo)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tokumei-relocate-") as tmp:
        build_tree(repo, Path(tmp))
        return write_wheel(Path(tmp), out, project, readme)


def build(out: Path, repo: Path = REPO) -> list[Path]:
    """The wheel, the zip and the launcher in `out`; returns their paths."""
    project, readme = _project(repo)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tokumei-relocate-") as tmp:
        tree = Path(tmp)
        build_tree(repo, tree)
        wheel = write_wheel(tree, out, project, readme)
        zip_ = write_zip(tree, out)
    launcher = out / LAUNCHER
    launcher.write_text(LAUNCHER_TEXT, encoding="utf-8")
    return [wheel, zip_, launcher]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.dist", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "dist", help="output directory (default: dist/)")
    args = p.parse_args(argv)
    for path in build(args.out):
        print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
