"""The built artifacts install one top-level package, `tokumei` (issue 19 item 3; tools/relocate.py).

On a shared cluster another library may own `jobs` or `transforms`: the wheel and the spark-submit zip
must hold only `tokumei/...`, every import inside them must resolve within it, and the conf defaults
must be found when installed. The installed copy is imported in a subprocess started with `-S` (no
site: the venv's editable install of the checkout is not on the path) from a folder without conf/.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tools.dist import LAUNCHER, ZIP, build, relocate_entry_point
from tools.relocate import RelocationError, rewrite_imports

ROOT = Path(__file__).resolve().parents[2]
RELOCATED = ("jobs", "transforms", "expectations", "synth")

SOURCE = '''\
"""Docstring: from jobs.x import y, and import jobs."""
from __future__ import annotations

import os
import jobs
import jobs.runtime.config
import synth as s, transforms.policy as tp
from jobs.runtime.config import load_pipeline as lp  # from jobs import nothing
from . import sibling
from .runtime import args
from jobsworth import x
from transforms import (
    a,  # a comment: import jobs
    b,
)
if True: import expectations.checks
TEXT = "import jobs.run"  # a string: from jobs import z
名前 = "日本語"; from jobs import z
'''

EXPECTED = '''\
"""Docstring: from jobs.x import y, and import jobs."""
from __future__ import annotations

import os
import tokumei.jobs as jobs
import tokumei.jobs.runtime.config, tokumei.jobs as jobs
import tokumei.synth as s, tokumei.transforms.policy as tp
from tokumei.jobs.runtime.config import load_pipeline as lp  # from jobs import nothing
from . import sibling
from .runtime import args
from jobsworth import x
from tokumei.transforms import (
    a,  # a comment: import jobs
    b,
)
if True: import tokumei.expectations.checks, tokumei.expectations as expectations
TEXT = "import jobs.run"  # a string: from jobs import z
名前 = "日本語"; from tokumei.jobs import z
'''


def test_rewrite_touches_only_absolute_imports_of_the_relocated_packages():
    assert rewrite_imports(SOURCE) == EXPECTED


def test_rewrite_refuses_a_string_that_names_a_relocated_module():
    source = 'import importlib\n\nmodule = importlib.import_module("jobs.run")\n'
    with pytest.raises(RelocationError, match=r"cli\.py:3: the string 'jobs\.run' names a module"):
        rewrite_imports(source, filename="cli.py")


def test_console_script_points_into_the_package():
    assert relocate_entry_point("jobs.cli:main") == "tokumei.jobs.cli:main"
    assert relocate_entry_point("other.cli:main") == "other.cli:main"


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build(out, ROOT)
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("tokumei-*-py3-none-any.whl")
    return wheel


def test_wheel_and_zip_hold_only_the_tokumei_package(dist):
    names = zipfile.ZipFile(_wheel(dist)).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"tokumei", _wheel(dist).name.split("-py3")[0] + ".dist-info"}
    for package in RELOCATED:
        assert f"tokumei/{package}/__init__.py" in names
    assert {"tokumei/conf/pipeline.yaml", "tokumei/conf/policies/anonymized.yaml",
            "tokumei/conf/layouts/patients.yaml", "tokumei/conf/hierarchies/prefectures.csv"} <= set(names)
    entry_points = zipfile.ZipFile(_wheel(dist)).read(f"{tops.difference({'tokumei'}).pop()}/entry_points.txt")
    assert entry_points.decode() == "[console_scripts]\ntokumei = tokumei.jobs.cli:main\n"
    zipped = zipfile.ZipFile(dist / ZIP).namelist()
    assert set(zipped) == {n for n in names if n.endswith(".py")}


def test_every_module_compiles(dist):
    with zipfile.ZipFile(_wheel(dist)) as wheel:
        for name in wheel.namelist():
            if name.endswith(".py"):
                compile(wheel.read(name), name, "exec")


def _run(args: list[str], path: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    """This Python without site (no editable install, no .pth) on `path` plus the venv's libraries."""
    site = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": ":".join([*map(str, path), site]), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


CHECK_INSTALLED = textwrap.dedent('''
    import importlib, pkgutil, sys
    import tokumei
    from tokumei.jobs.runtime import config
    modules = [m.name for m in pkgutil.walk_packages(tokumei.__path__, "tokumei.")]
    for name in modules:
        importlib.import_module(name)
    leaked = sorted({m.split(".")[0] for m in sys.modules} & {"jobs", "transforms", "expectations", "synth"})
    print(len(modules), leaked, config.load_pipeline().keys.key_id, config.resolve_conf_path(config.DEFAULT_PIPELINE))
''')


def test_installed_wheel_imports_within_tokumei_and_finds_its_conf(dist, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                    str(target), str(_wheel(dist))], check=True, timeout=120)
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == ["bin", "tokumei"]
    work = tmp_path / "work"  # no conf/ here: the defaults must come from the installed package
    work.mkdir()
    proc = _run(["-c", CHECK_INSTALLED], [target], work)
    assert proc.returncode == 0, proc.stderr
    count, leaked, key_id, conf = proc.stdout.split()
    assert int(count) > 100 and leaked == "[]" and key_id == "demo"
    assert conf == str(target / "tokumei" / "conf" / "pipeline.yaml")
    script = _run([str(target / "bin" / "tokumei"), "--help"], [target], work)
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith("usage: tokumei <command>")


def test_spark_submit_launcher_runs_a_command_from_the_zip(dist, tmp_path):
    proc = _run([str(dist / LAUNCHER), "run", "--help"], [dist / ZIP], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: tokumei run")
