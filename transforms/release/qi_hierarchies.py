"""Generalization hierarchies for the quasi-identifiers of the release table `patients` (issue 5).

Requirement 21 (legal_requirements.md): generalize first, suppress the residual patients. The
hierarchies are the ARX kind (one row per leaf, one column per level) so that `tokumei kanon` and
the medical pipeline share the search:

- `age_band` (from the policy's `age_band` rule, generated from the labels
  `transforms.columns.dates.band_labels` lists, so it always matches what the rule writes): the rule's
  bands (5 years) -> 2x width (10) -> 4x width (20) -> `*`. The top band (`90+`, requirement 17) stays
  one band at every level below `*`.
- `sex`: `conf/hierarchies/patients_hierarchy_sex.csv` (1 男, 2 女 -> `*`).
- `area`: `conf/hierarchies/patients_hierarchy_area.csv`, 都道府県 JIS code -> 地方 (8 地方区分)
  -> `*`, generated from prefectures.csv by `area_rows` (a test keeps the file equal to it).

An unknown value (null) is the leaf `` (empty): it stays unknown below the top level and is released
as null. Any other quasi-identifier needs a file `<prefix>_hierarchy_<column>.csv` in the policy's
hierarchy directory; such a file also overrides the generated `age_band` hierarchy (the job reads
the files: jobs/stages/release/policy_files.py `qi_hierarchies`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from transforms.columns.dates import band_label, band_labels, band_starts
from transforms.kanon.hierarchy import (
    SUPPRESSED,
    Hierarchy,
    parse_hierarchy,
)
from transforms.policy import TablePolicy

UNKNOWN = ""  # the leaf of a null quasi-identifier
AGE_LEVELS = 3  # bands of width w, 2w, 4w; then `*`
# 地方区分 (8 regions) by JIS X 0401 code range.
REGIONS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "北海道"), (2, 7, "東北"), (8, 14, "関東"), (15, 23, "中部"), (24, 30, "近畿"),
    (31, 35, "中国"), (36, 39, "四国"), (40, 47, "九州・沖縄"),
)


def age_band_labels(width: int, top: int | None, level: int = 0) -> tuple[str, ...]:
    """Every label of the age hierarchy at `level` (level 0: what the age_band rule writes)."""
    return (SUPPRESSED,) if level >= AGE_LEVELS else band_labels(width * 2**level, top)


def age_band_hierarchy(width: int, top: int | None, attribute: str = "age_band") -> Hierarchy:
    """The age-band hierarchy for an `age_band` rule of `width` and `top`: a band's label at level l is
    the band of width `width * 2**l` that holds it (the top band is the same at every width)."""
    rows = [[band_label(age, width * 2**level, top) for level in range(AGE_LEVELS)] for age in band_starts(width, top)]
    rows = [[*row, SUPPRESSED] for row in [*rows, [UNKNOWN] * AGE_LEVELS]]
    return parse_hierarchy(attribute, rows, f"age_band(width={width}, top={top})")


def region_of(pref_code: str) -> str:
    """地方 of a 都道府県 JIS code ("13" -> 関東)."""
    code = int(pref_code)
    for lo, hi, name in REGIONS:
        if lo <= code <= hi:
            return name
    raise ValueError(f"{pref_code!r} is not a 都道府県 JIS code (01-47)")


def area_rows(pref_codes: Iterable[str]) -> list[list[str]]:
    """ARX rows of the area hierarchy: code;地方;* per 都道府県, then the unknown leaf."""
    rows = [[c.zfill(2), region_of(c), SUPPRESSED] for c in sorted(pref_codes, key=int)]
    return [*rows, [UNKNOWN, UNKNOWN, SUPPRESSED]]


def to_arx(rows: Sequence[Sequence[str]]) -> str:
    """Rows as an ARX hierarchy file (';'-separated, no header)."""
    return "".join(";".join(r) + "\n" for r in rows)


def generated_hierarchy(table: TablePolicy, name: str) -> Hierarchy | None:
    """The hierarchy generated for quasi-identifier `name` of the `patients` table: the age hierarchy
    of its `age_band` rule; None for any other column (it needs a hierarchy file)."""
    rule = next((r for r in table.columns.values() if r.method != "drop" and r.output == name), None)
    if rule is None or rule.method != "age_band":
        return None
    return age_band_hierarchy(int(rule.params["width"]), rule.params.get("top"), name)
