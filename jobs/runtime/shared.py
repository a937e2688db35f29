"""Where the shared reference folder is (../shared beside the checkout): the legal requirements, the
real UKE fixture, the ARX benchmark data. Never an absolute path of one machine in code or tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV = "TOKUMEI_SHARED"


def find_shared(repo: Path = REPO, environ: Mapping[str, str] = os.environ) -> Path | None:
    """$TOKUMEI_SHARED if set, else the `shared` folder of the first ancestor of the repository root
    that has `shared/DESIGN.md` (../shared beside the checkout, wherever the checkout is)."""
    if environ.get(ENV):
        return Path(environ[ENV]).expanduser().resolve()
    for ancestor in repo.resolve().parents:
        if (ancestor / "shared" / "DESIGN.md").is_file():
            return ancestor / "shared"
    return None
