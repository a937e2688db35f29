"""Secret providers for pseudonym keys. Only key ids and fingerprints ever leave this module.

- env:        $<prefix><KEY_ID> (key id upper-cased, '-' and '.' -> '_'), UTF-8 bytes of the value
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from jobs.config import KeySettings
from jobs.errors import InputError
from transforms.pseudonym import key_fingerprint


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


def env_var_name(settings: KeySettings, key_id: str) -> str:
    return settings.env_prefix + re.sub(r"[^A-Za-z0-9]", "_", key_id).upper()


def load_key(settings: KeySettings, key_id: str | None = None) -> Key:
    key_id = key_id or settings.key_id
    if settings.provider == "env":
        name = env_var_name(settings, key_id)
        value = os.environ.get(name)
        if not value:
            raise InputError(
                f"pseudonym key {key_id!r} not found: set the environment variable {name} "
                "(provider env in conf/pipeline.yaml keys.provider)"
            )
        return Key(key_id, value.encode("utf-8"))
    raise InputError(f"conf/pipeline.yaml: keys.provider: unknown provider {settings.provider!r}; use env")
