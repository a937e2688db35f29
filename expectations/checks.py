"""What a staged release table must satisfy, as plain data (built from the policy, run by GX).

Keeping the checks as data lets a compliance officer read them in the validation report and lets
tests state them without Great Expectations in the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A keyed pseudonym: 128 bits (the default, transforms/columns/pseudonym.PSEUDONYM_BITS) or 256 bits, in hex.
HEX_PSEUDONYM = r"^[0-9a-f]{32}([0-9a-f]{32})?$"


@dataclass(frozen=True)
class ScanColumn:
    """A released string column the identifier detectors scan (expectations/detectors.py)."""

    column: str
    shape: str = ""  # regex of a real code of this column: a value of this shape is exempt
    code: bool = False  # a declared code column: detectors of bare digit runs (6-digit 国保 numbers) skip it


@dataclass(frozen=True)
class TableChecks:
    table: str
    # The exact output columns the policy declares: anything else (a forgotten identifier) fails.
    columns: tuple[str, ...]
    # Source columns the policy drops; named separately so a failure says which identifier leaked.
    forbidden_columns: tuple[str, ...] = ()
    pseudonyms: tuple[str, ...] = ()
    regex: dict[str, str] = field(default_factory=dict)
    # Every released string column, scanned by the identifier detectors (requirements 6, 8, 11-13, 41).
    identifier_scan: tuple[ScanColumn, ...] = ()
    # Columns that carry a birth date (even as a year-month): a katakana name beside one identifies (req 4).
    birth_columns: tuple[str, ...] = ()
    value_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_values: dict[str, float] = field(default_factory=dict)
    # (quasi-identifier columns, k): every combination holds at least k rows (patients table).
    min_group_size: tuple[tuple[str, ...], int] | None = None
    # (quasi-identifier columns, sensitive column, l): every combination holds l distinct sensitive values.
    min_diversity: tuple[tuple[str, ...], str, int] | None = None
    # (code column, patient column, T): every code value is held by at least T distinct patients.
    min_patients_per_code: tuple[tuple[str, str, int], ...] = ()
    # (k, m) on a frame of (pid, class, item) rows: every combination of at most m items of a patient,
    # with the patient's class (quasi-identifiers), is held by at least k patients ((k, k^m), req 22).
    min_itemset_support: tuple[int, int] | None = None
