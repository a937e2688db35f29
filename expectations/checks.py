"""What a staged release table must satisfy, as plain data (built from the policy, run by GX).

Keeping the checks as data lets a compliance officer read them in the validation report and lets
tests state them without Great Expectations in the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A keyed pseudonym: 128 bits (the default, transforms/columns/pseudonym.PSEUDONYM_BITS) or 256 bits, in hex.
HEX_PSEUDONYM = r"^[0-9a-f]{32}([0-9a-f]{32})?$"

# Identifier shapes that must never appear in a free string column of a release (requirements 8, 11-13).
# Applied only to columns whose policy says they hold text, not to code columns (a 7-digit 傷病名
# code starting with 0 looks like a phone number to a regex).
IDENTIFIER_PATTERNS: dict[str, str] = {
    "phone": r"0[0-9]{1,4}-[0-9]{1,4}-[0-9]{3,4}",
    "mobile": r"0[789]0-?[0-9]{4}-?[0-9]{4}",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "postal_full": r"〒?[0-9]{3}-[0-9]{4}",
    "mynumber_like": r"(^|[^0-9])[0-9]{12}([^0-9]|$)",
    "passport": r"(^|[^A-Z])[A-Z]{2}[0-9]{7}([^0-9]|$)",
}


@dataclass(frozen=True)
class TableChecks:
    table: str
    # The exact output columns the policy declares: anything else (a forgotten identifier) fails.
    columns: tuple[str, ...]
    # Source columns the policy drops; named separately so a failure says which identifier leaked.
    forbidden_columns: tuple[str, ...] = ()
    pseudonyms: tuple[str, ...] = ()
    regex: dict[str, str] = field(default_factory=dict)
    text_columns: tuple[str, ...] = ()  # scanned for IDENTIFIER_PATTERNS
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
