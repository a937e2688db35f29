"""Keyed, one-way pseudonyms from Spark built-ins (DESIGN.md decision 3; requirements 10, 14-15).

HMAC-SHA256 per RFC 2104, built from `sha2` over binary so it runs as a plain expression (no UDF)
and equals Python's `hmac.new(key, msg, sha256).hexdigest()` byte for byte. An unkeyed hash of an
identifier is reversible by dictionary and is never used.

Key material never becomes a literal of a plan: the text of every plan (literals included) is shown
in the Spark UI, written to event logs and kept by Databricks, and an HMAC pad is the key XOR a
constant. `with_keys` cross-joins the frame with a broadcast one-row relation that holds the pads as
binary columns (a plan prints such a relation's columns, never its data), and `hmac_sha256_hex`
reads the pads from those columns.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.local import local_frame

_BLOCK = 64  # SHA-256 block size in bytes
# Pseudonyms in a release are the first 128 bits of the HMAC (32 hex characters), as requirement 15
# allows ("truncated to >= 128 bits"): a collision among a billion values has odds of about 1e-21, and
# the released claim tables, where every row carries pid and receipt_id, get about half as large.
PSEUDONYM_BITS = 128
BITS = (128, 256)


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if not key:
        raise ValueError("an HMAC key must not be empty")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    k = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


@dataclass(frozen=True)
class KeyPads:
    """The HMAC pads of one key, as columns of the frame `with_keys` returned."""

    inner: str
    outer: str


def with_keys(df: DataFrame, keys: Mapping[str, bytes], prefix: str = "__key") -> tuple[DataFrame, dict[str, KeyPads]]:
    """`df` with the pads of every key as binary columns from a broadcast one-row relation, and the
    pads by key name. Select the frame's own columns at the end: the pad columns are not output."""
    if not keys:
        return df, {}
    fields, values, pads = [], [], {}
    for i, (name, key) in enumerate(sorted(keys.items())):
        ipad, opad = _pads(key)
        pads[name] = KeyPads(f"{prefix}{i}_i", f"{prefix}{i}_o")
        fields += [T.StructField(pads[name].inner, T.BinaryType(), False), T.StructField(pads[name].outer, T.BinaryType(), False)]
        values += [bytearray(ipad), bytearray(opad)]
    row = local_frame(df.sparkSession, [tuple(values)], T.StructType(fields))
    return df.crossJoin(F.broadcast(row)), pads


def hmac_sha256_hex(col: Column, key: KeyPads, bits: int = 256) -> Column:
    """Lower-case hex of HMAC-SHA256(key, UTF-8 bytes of `col`), its first `bits` bits (256: all 64
    characters; 128: the first 32); null stays null. `key`: the pads `with_keys` added to the frame
    the expression is evaluated on."""
    if not isinstance(key, KeyPads):
        raise TypeError("hmac_sha256_hex takes the KeyPads of with_keys(), never key bytes (a literal shows in plans)")
    if bits not in BITS:
        raise ValueError(f"bits: use one of {BITS}")
    inner = F.unhex(F.sha2(F.concat(F.col(key.inner), col.cast("binary")), 256))
    out = F.sha2(F.concat(F.col(key.outer), inner), 256)
    return out if bits == 256 else F.substring(out, 1, bits // 4)


def key_fingerprint(key: bytes) -> str:
    """A public fingerprint that tells whoever holds a key whether a release was made with it (for
    the manifest): an HMAC under the key of a fixed label, like every other value derived from a key
    here, never a bare hash of the key bytes (the same digest any other tool would print for it)."""
    return hmac.new(key, b"tokumei-key-fingerprint", hashlib.sha256).hexdigest()[:16]
