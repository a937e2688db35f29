"""The project's build backend (pyproject.toml [build-system]): every built wheel is the relocated one.

`pip wheel .`, `pip install .`, `pip install git+...`, `python -m build` and the Databricks bundle all
build wheels through here, so none of them can produce a wheel with top-level `jobs` or `transforms`
(tools/relocate.py). Editable installs (`pip install -e .`, `make venv`) and sdists are setuptools' own:
development keeps the checkout's top-level packages, and an sdist is the checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools

from tools.dist import build_wheel_file

build_sdist = _setuptools.build_sdist
get_requires_for_build_sdist = _setuptools.get_requires_for_build_sdist
build_editable = _setuptools.build_editable
get_requires_for_build_editable = _setuptools.get_requires_for_build_editable
prepare_metadata_for_build_editable = _setuptools.prepare_metadata_for_build_editable


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                metadata_directory: str | None = None) -> str:
    return build_wheel_file(Path(wheel_directory), Path.cwd()).name
