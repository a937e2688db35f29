"""Keyed, one-way pseudonyms from Spark built-ins (DESIGN.md decision 3; requirements 10, 14-15).

HMAC-SHA256 per RFC 2104, built from `sha2` over binary so it runs as a plain expression (no UDF)
and equals Python's `hmac.new(key, msg, sha256).hexdigest()` byte for byte. An unkeyed hash of an
identifier is reversible by dictionary and is never used.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

_BLOCK = 64  # SHA-256 block size in bytes


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if not key:
        raise ValueError("an HMAC key must not be empty")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    k = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def hmac_sha256_hex(col: Column, key: bytes) -> Column:
    """64 lower-case hex characters of HMAC-SHA256(key, UTF-8 bytes of `col`); null stays null."""
    ipad, opad = _pads(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), col.cast("binary")), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)


def key_fingerprint(key: bytes) -> str:
    """A public fingerprint that identifies a key without revealing it (for the manifest)."""
    return hashlib.sha256(b"tokumei-key-fingerprint\0" + key).hexdigest()[:16]
