"""Secret providers for pseudonym keys. Only key ids and fingerprints ever leave this module.

- env:        $<prefix><KEY_ID> (key id upper-cased, '-' and '.' -> '_'), UTF-8 bytes of the value
- file:       <keys.key_dir>/<key_id>.key, raw bytes (one trailing newline ignored). The file must be
              a regular file readable by its owner only (mode 0600 or 0400): a key readable by the
              group or others is refused, as 加工方法等情報 must be kept from people without
              authority (requirement 27, 規則35条3号).
- databricks: secret `<key_id>` in the scope `keys.databricks_scope`, through dbutils when the job
              runs on Databricks; anywhere else the provider refuses with a clear message.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.runtime.config import KeySettings
from jobs.runtime.errors import ConfigError, InputError
from transforms.columns.pseudonym import key_fingerprint

PROVIDERS = ("env", "file", "databricks")
# A pseudonym key is at least 32 bytes (256 bits) of secret: HMAC-SHA256 is only as strong as its key,
# and a short one can be guessed against released pseudonyms of known identifiers (requirement 15(c)).
MIN_KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Key:
    key_id: str
    material: bytes

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.material)

    def __repr__(self) -> str:  # never print key material, even by accident in a traceback
        return f"Key(key_id={self.key_id!r}, fingerprint={self.fingerprint!r})"

    __str__ = __repr__


def load_key_checked(settings: KeySettings, key_id: str, conf: str | Path) -> Key:
    """load_key, a missing or short key as a config error naming the pipeline config's key id (exit 2)."""
    try:
        return load_key(settings, key_id)
    except InputError as exc:
        raise ConfigError(conf, "keys.key_id", str(exc)) from None


def env_var_name(settings: KeySettings, key_id: str) -> str:
    return settings.env_prefix + re.sub(r"[^A-Za-z0-9]", "_", key_id).upper()


def load_key(settings: KeySettings, key_id: str | None = None) -> Key:
    key_id = key_id or settings.key_id
    if not _KEY_ID.match(key_id):
        raise InputError(f"key id {key_id!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if settings.provider == "env":
        material = _from_env(settings, key_id)
    elif settings.provider == "file":
        material = _from_file(settings, key_id)
    elif settings.provider == "databricks":
        material = _from_databricks(settings, key_id)
    else:
        raise InputError(
            f"conf/pipeline.yaml: keys.provider: unknown provider {settings.provider!r}; use {', '.join(PROVIDERS)}"
        )
    if len(material) < MIN_KEY_BYTES:
        raise InputError(
            f"pseudonym key {key_id!r} is {len(material)} bytes; a key needs at least {MIN_KEY_BYTES} random bytes "
            f"(256 bits). Generate one with: python -c \"import secrets; print(secrets.token_hex(32))\""
        )
    return Key(key_id, material)


def _from_env(settings: KeySettings, key_id: str) -> bytes:
    name = env_var_name(settings, key_id)
    value = os.environ.get(name)
    if not value:
        raise InputError(
            f"pseudonym key {key_id!r} not found: set the environment variable {name} "
            "(provider env in conf/pipeline.yaml keys.provider)"
        )
    return value.encode("utf-8")


def key_file_path(settings: KeySettings, key_id: str) -> Path:
    if not settings.key_dir:
        raise InputError("conf/pipeline.yaml: keys.key_dir: required with provider file (a directory of <key_id>.key files)")
    return Path(settings.key_dir).expanduser() / f"{key_id}.key"


def _from_file(settings: KeySettings, key_id: str) -> bytes:
    path = key_file_path(settings, key_id)
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise InputError(f"pseudonym key {key_id!r} not found: no file {path} (provider file)") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: a key file must be a regular file (not a link or directory)")
    if st.st_mode & 0o077:
        raise InputError(
            f"{path}: permissions {stat.S_IMODE(st.st_mode):04o} let the group or others read the key; "
            f"refusing it. Run: chmod 600 {path}"
        )
    data = path.read_bytes()
    data = data[:-1] if data.endswith(b"\n") else data
    data = data[:-1] if data.endswith(b"\r") else data
    if not data:
        raise InputError(f"{path}: the key file is empty")
    return data


def _from_databricks(settings: KeySettings, key_id: str) -> bytes:
    if not settings.databricks_scope:
        raise InputError("conf/pipeline.yaml: keys.databricks_scope: required with provider databricks")
    dbutils = _dbutils()
    if dbutils is None:
        raise InputError(
            f"pseudonym key {key_id!r}: provider databricks works only on Databricks (no dbutils here); "
            "use provider env or file elsewhere"
        )
    try:
        value = dbutils.secrets.get(scope=settings.databricks_scope, key=key_id)
    except Exception as exc:  # dbutils raises its own types; the message names scope and key only
        raise InputError(
            f"pseudonym key {key_id!r} not found in Databricks secret scope {settings.databricks_scope!r} "
            f"({type(exc).__name__})"
        ) from None
    return value.encode("utf-8")


def _dbutils() -> Any | None:
    """dbutils when running on Databricks (runtime sets DATABRICKS_RUNTIME_VERSION), else None."""
    if not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return None
    try:
        from pyspark.dbutils import DBUtils  # type: ignore[import-not-found]
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    spark = SparkSession.getActiveSession()
    return DBUtils(spark) if spark is not None else None
