"""Variants of the shipped anonymized policy for tests, written next to the test's data (paths absolute)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def anonymized_policy(tmp: Path, km_limit: float | None) -> Path:
    """The shipped anonymized policy with params.km at suppression limit `km_limit`, or (None) without
    params.km and its diagnoses back on the rare rule they had before (k-anonymity only)."""
    text = (REPO / "conf" / "policies" / "anonymized.yaml").read_text(encoding="utf-8")
    if km_limit is not None:
        text = re.sub(r"(\n  km:\n    m: 2\n    suppression_limit: )[0-9.]+", rf"\g<1>{km_limit}", text)
        assert f"suppression_limit: {km_limit}" in text
    else:
        text = without_km(text)
    text = text.replace("hierarchies: conf/hierarchies", f"hierarchies: {REPO / 'conf' / 'hierarchies'}")
    text = text.replace(": conf/layouts/", f": {REPO / 'conf' / 'layouts'}/")
    out = tmp / f"anonymized_{'km' if km_limit is not None else 'without_km'}.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def without_km(text: str) -> str:
    """The anonymized policy's text without params.km, its diagnoses back on the rare rule they had
    before (NDB-S: rarest codes climb the ICD-10 levels or are blanked; k-anonymity only): for tests of other rules on data too small for (k, k^m)."""
    block = re.search(r"\n  km:\n(    .*\n|      .*\n)+", text)
    assert block is not None and "disease_code: keep" in text
    return text.replace(block.group(0), "\n").replace(
        "disease_code: keep", "disease_code: {method: rare, file: diseases.csv, key: disease_code, "
                              "levels: [icd10, icd10_block, icd10_chapter], cumulative_share: 0.0001, "
                              "action: cell, level_column: true}")
