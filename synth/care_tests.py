"""検体検査 (診療識別 60) of a receipt: single tests, the 生化学的検査（１） bundle, 判断料 and 採血.

The bundle is the classic multi-line 算定単位: 3-12 items on separate lines, one 点数 on the last
line (5-7 items 93点, 8-9 items 99点, 10 or more 103点; fewer than 5 are billed item by item).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from pyspark.sql import Column
from pyspark.sql import functions as F

from synth.details import one, sk, unit
from synth.draws import literal_array, pick


class Care(Protocol):
    """What the lab tests read of a month of care (synth/care.py's Care provides it)."""

    @property
    def flags(self) -> Mapping[str, Column]: ...

    def u(self, purpose: str, *extra: Column | int) -> Column: ...

    def points(self, code: str) -> int: ...

    def points_map(self, *codes: str) -> Column: ...

    def si(self, key: Column, cc: str, code: str | Column, days: Column, points: int | Column, **kw: object) -> Column: ...


BIOCHEM = tuple(f"1600{n}10" for n in range(210, 225))  # 生化学的検査（１）items 160021010..160022410
MAX_BUNDLE = 12
BUNDLE_POINTS = ((5, 93), (8, 99), (10, 103))  # (at least n items, points)
SINGLE_TESTS = (  # (component, code, condition name)
    (1, "160000310", "urine"), (2, "160008010", "cbc"), (3, "160019210", "hba1c"), (6, "160030110", "crp"),
    (7, "160030210", "tsh"), (8, "160030310", "tsh"), (9, "160030410", "psa"), (10, "160030510", "bnp"),
)
JUDGMENTS = (  # (component, code, any of these conditions)
    (20, "160061710", ("urine",)), (21, "160061810", ("cbc",)), (22, "160061910", ("hba1c", "bio")),
    (23, "160062110", ("crp", "tsh", "psa", "bnp")),
)


def tested(care: Care) -> Column:
    chronic = F.size("chronic") > 0
    u = care.u("lab")
    return F.when(F.col("inpatient"), u < 0.8).otherwise(u < F.when(chronic, 0.35).otherwise(0.2))


def bundle_items(care: Care) -> Column:
    """The 生化学（１） items of the receipt (empty when none): k distinct items picked by a stride
    through the list (a stride coprime to its length visits every item once), no sort needed."""
    k = F.when(tested(care) & (care.u("lab.bio") < 0.7), 3 + F.floor(care.u("lab.bio_k") * (MAX_BUNDLE - 2)))
    k = k.otherwise(F.lit(0))
    n = len(BIOCHEM)
    strides = [s for s in range(1, n) if math.gcd(s, n) == 1]
    offset = F.floor(care.u("lab.bio_off") * n).cast("int")
    stride = pick(care.u("lab.bio_stride"), strides)
    codes = literal_array(list(BIOCHEM))
    picked = F.array(*[F.element_at(codes, ((offset + j * stride) % n + 1).cast("int")) for j in range(MAX_BUNDLE)])
    return F.slice(picked, 1, k.cast("int"))


def tests(care: Care) -> Column:
    """Needs the helper column `bio_items` (bundle_items)."""
    u = care.u
    tested_ = tested(care)
    items = F.col("bio_items")
    k = F.size(items)
    conds: dict[str, Column] = {
        "urine": tested_ & (u("lab.urine") < 0.3),
        "cbc": tested_ & (u("lab.cbc") < 0.6),
        "hba1c": tested_ & (care.flags["dm"] | (u("lab.a1c") < 0.1)),
        "crp": tested_ & (u("lab.crp") < 0.3),
        "tsh": tested_ & care.flags["thyroid"],
        "psa": tested_ & (F.col("sex") == "1") & (F.col("age") >= 50) & (u("lab.psa") < 0.1),
        "bnp": tested_ & care.flags["hf"],
        "bio": k > 0,
    }
    day1 = F.col("day1_days")
    singles = [one(conds[c], care.si(sk(60, comp), "60", code, day1, care.points(code), count=1))
               for comp, code, c in SINGLE_TESTS]
    judgments = []
    for comp, code, names in JUDGMENTS:
        cond = conds[names[0]]
        for name in names[1:]:
            cond = cond | conds[name]
        judgments.append(one(cond, care.si(sk(60, comp), "60", code, day1, care.points(code), count=1)))
    blood = conds["cbc"] | conds["hba1c"] | conds["bio"] | conds["crp"] | conds["tsh"] | conds["psa"] | conds["bnp"]
    draw = one(blood, care.si(sk(60, 30), "60", "160095710", day1, care.points("160095710"), count=1))
    item_points = care.points_map(*BIOCHEM)
    bundle_points: Column = F.lit(0)
    for j in range(MAX_BUNDLE):
        bundle_points = bundle_points + F.coalesce(F.element_at(item_points, F.get(items, j)), F.lit(0))
    for n, pts in sorted(BUNDLE_POINTS):
        bundle_points = F.when(k >= n, F.lit(pts)).otherwise(bundle_points)
    bundle = unit(sk(60, 5), "SI", "60", items, day1, bundle_points, 1, MAX_BUNDLE)
    return F.concat(*singles, bundle, *judgments, draw)
