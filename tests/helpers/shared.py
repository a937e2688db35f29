"""Where ../shared is (the real UKE fixture, the ARX benchmark data): never an absolute path in a test.
The lookup lives in jobs/runtime/shared.py, which `tokumei requirements` uses too."""

from __future__ import annotations

from jobs.runtime.shared import ENV, REPO, find_shared

__all__ = ["ENV", "REPO", "find_shared"]
