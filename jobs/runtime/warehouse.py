"""Where things live in a warehouse (DESIGN.md, zones). Jobs never build these paths by hand.

    WH/bronze/<table>                 parsed records (restricted: personal data)
    WH/bronze/_files                  file ledger;  WH/bronze/_rejects  rejected lines
    WH/staging/<RID>/tables/<table>   anonymized candidate (restricted until validated)
    WH/staging/<RID>/anonymize.json   what the anonymize stage did (counts, key id, policy hash)
    WH/staging/<RID>/validation/      GX results of the candidate
    WH/releases/<RID>/...             published, immutable; manifest.json written last
    WH/records/intake, WH/records/erasure   受領記録 and 消去記録 (append-only Delta; never erased)
    WH/releases/<RID>/notices/published.json   when each 公表 was published (added after publish)
    WH/releases/<RID>/deliveries/<DID>/        the 明示 handed to one recipient (added per delivery)
    WH/releases/_provisions           提供記録: one Delta row per delivery, every release (append-only)
    WH/_locks/bronze.lock, WH/_locks/release-<RID>.lock   who is writing now (jobs/runtime/lock.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jobs.runtime.errors import InputError

_RID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_release_id(release_id: str) -> str:
    if not _RID.match(release_id):
        raise InputError(
            f"release id {release_id!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return release_id


@dataclass(frozen=True)
class Warehouse:
    root: str

    def __post_init__(self) -> None:
        # Local roots become absolute: Delta's path identifiers (delta.`/path`) must be absolute, and
        # the manifest should say where the release is regardless of the working directory.
        if self.is_local() and not self.root.startswith(("file:", "/dbfs/")):
            object.__setattr__(self, "root", str(Path(self.root).resolve()))

    def _join(self, *parts: str) -> str:
        # Plain string joins so the same code serves local paths and URIs (dbfs:/, abfss://, s3://).
        return "/".join([self.root.rstrip("/"), *parts])

    @property
    def bronze_root(self) -> str:
        return self._join("bronze")

    def bronze(self, table: str) -> str:
        return self._join("bronze", table)

    @property
    def ledger(self) -> str:
        return self._join("bronze", "_files")

    @property
    def rejects(self) -> str:
        return self._join("bronze", "_rejects")

    def record(self, name: str) -> str:
        """WH/records/<name>: the legal records (受領記録 `intake`, 消去記録 `erasure`); no zone's purge touches them."""
        return self._join("records", name)

    def scratch(self, run_id: str) -> str:
        """Intermediate files of one ingest run (personal data, so inside bronze); removed after the run."""
        return self._join("bronze", "_scratch", check_release_id(run_id))

    def staging(self, release_id: str, *parts: str) -> str:
        return self._join("staging", check_release_id(release_id), *parts)

    def staging_table(self, release_id: str, table: str) -> str:
        return self.staging(release_id, "tables", table)

    def release(self, release_id: str, *parts: str) -> str:
        return self._join("releases", check_release_id(release_id), *parts)

    def release_table(self, release_id: str, table: str) -> str:
        return self.release(release_id, "tables", table)

    @property
    def provisions(self) -> str:
        """The provision ledger (提供記録, requirement 49). A release id cannot start with '_'."""
        return self._join("releases", "_provisions")

    def delivery(self, release_id: str, delivery_id: str, *parts: str) -> str:
        return self.release(release_id, "deliveries", check_release_id(delivery_id), *parts)

    def lock(self, name: str) -> str:
        """WH/_locks/<name>.lock: `bronze`, or `release-<RID>` (jobs/runtime/lock.py). Outside every zone,
        so no zone's listing or purge meets it."""
        return self._join("_locks", f"{name}.lock")

    def is_local(self) -> bool:
        return "://" not in self.root and not self.root.startswith("dbfs:")

    def local_path(self, path: str) -> Path:
        """A local filesystem path for metadata files (manifest, reports)."""
        if path.startswith("file:"):
            path = path[len("file:"):]
        if path.startswith("/dbfs/") or self.is_local():
            return Path(path)
        if path.startswith("dbfs:/"):
            return Path("/dbfs") / path[len("dbfs:/"):]
        raise InputError(f"{path}: metadata files need a local or /dbfs path; got a remote URI")
