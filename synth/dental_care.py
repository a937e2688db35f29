"""What a course of dental care holds: its diagnoses with their teeth (HS) and each month's lines (SS, IY).

A course is a run of consecutive months in which a person sees their dentist (synth/dental.py). Its conditions
are drawn once per course, by age at its start: children have caries (う蝕) or gingivitis (歯肉炎); adults
periodontitis (歯周炎) most often, then caries, gingivitis and pulpitis (歯髄炎). Their 傷病名コード are real,
from the 傷病名マスター b_20240601.txt (tests/unit/test_synth_dental.py checks them against
conf/hierarchies/disease_hierarchy.csv). A condition's 歯式 (docs/formats/dental.md) is one tooth (caries,
pulpitis; a deciduous one for a child's caries) or a run of teeth of one quadrant (periodontitis from its
tooth 3, 4 or 5 to 7, gingivitis its front teeth 1-3), each tooth 歯種 `10` + FDI number, 状態 0 現存歯, 部分 0.

Lines, in 診療識別 order (別表20 for 入院外, IGD): 11 歯科初診料 on the first day of a course that starts this
month, 12 歯科再診料 on every other visit day, 13 歯科疾患管理料 once (not on the 初診 day), 21 an analgesic
after a pulpectomy (IY, 医薬品区分 1 内服, from the 医科 drug catalog), 31 a radiograph (caries) or the
periodontal examination on the course's first day, 41 the treatment (pulpectomy, then canal dressing on
later days; scaling on later days; professional cleaning), 61 a filling (caries).

[assumed] (no 歯科診療行為マスター is in ../shared/reference/masters/): every 歯科診療行為 code but 304000510
(歯周基本検査（１０歯以上２０歯未満）, from JP Core's 歯科診療行為 code system: docs/formats/dental.md, JPC), in
the shape of that master's codes: 3 + the 歯科点数表 chapter (01 A 基本診療料, 02 B 医学管理等, 04 D 検査, 05 E
画像診断, 09 I 処置, 13 M 歯冠修復及び欠損補綴) + 6 digits; the 点数 (of the 2024 schedule's magnitude); the
加算コード (5 letters and digits).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from synth.details import day_on, days_on, drug_points
from synth.draws import Rng, literal_map, weighted
from synth.reference import CatalogError, Catalogs

COURSE = ("person_id", "course")  # a course: the person and the month it started in (-1: before the set)
# (condition, 傷病名コード, 基本名称) from b_20240601.txt; children (under 15) draw C or G, adults any.
CONDITIONS = (("C", "8830788", "う蝕第２度"), ("Pul", "5220061", "慢性歯髄炎"), ("P", "5234016", "慢性歯周炎"),
              ("G", "5231018", "歯肉炎"))
CHILD_WEIGHTS = (0.6, 0.0, 0.0, 0.4)
ADULT_WEIGHTS = (0.3, 0.1, 0.45, 0.15)
SECOND_CONDITION_SHARE = 0.35
# name -> (診療識別, 歯科診療行為コード, 点数); [assumed] but for 304000510 (see the module docstring).
ACTS = {
    "first_visit": ("11", "301000110", 267),  # 歯科初診料
    "revisit": ("12", "301001610", 58),  # 歯科再診料
    "management": ("13", "302000110", 100),  # 歯科疾患管理料
    "radiograph": ("31", "305000310", 48),  # 歯科エックス線撮影（デジタル）
    "perio_exam": ("31", "304000510", 110),  # 歯周基本検査（１０歯以上２０歯未満）
    "pulpectomy": ("41", "309004110", 234),  # 抜髄（単根管）
    "canal_dressing": ("41", "309004410", 32),  # 根管貼薬処置（単根管）
    "scaling": ("41", "309002110", 72),  # スケーリング
    "cleaning": ("41", "309005810", 72),  # 機械的歯面清掃処置
    "filling": ("61", "313002010", 106),  # 充填１（単純なもの）
}
# 加算 -> (加算コード [assumed], 点数 per unit of its 加算数量, or once when it has none)
ADDITIONS = {"environment": ("GK023", 23),  # 歯科外来診療環境体制加算, with the clinic's 届出 03 外来環
             "extra_third": ("SC038", 38),  # スケーリング: each further third of a jaw the same day
             "painless": ("UM040", 40)}  # う蝕歯無痛的窩洞形成加算
ANALGESIC = "ロキソプロフェンナトリウム錠６０ｍｇ"  # 3 tablets a day for 3 days after a pulpectomy
ADDITION_TYPE = "array<struct<code:string,quantity:int>>"
LINE_TYPES = (("rec", "string"), ("cc", "string"), ("code", "string"), ("points", "int"), ("count", "int"),
              ("days", "array<int>"), ("additions", ADDITION_TYPE), ("amount", "decimal(15,5)"),
              ("drug_category", "string"))


def conditions(rng: Rng) -> Column:
    """The course's conditions (1 or 2 of CONDITIONS' names), from `course_age`."""
    names = [c for c, _, _ in CONDITIONS]
    child = F.col("course_age") < 15

    def draw(purpose: str) -> Column:
        u = rng.u(purpose, *COURSE)
        return F.when(child, weighted(u, names, list(CHILD_WEIGHTS))).otherwise(weighted(u, names, list(ADULT_WEIGHTS)))

    second = F.when(rng.u("dental.second", *COURSE) < SECOND_CONDITION_SHARE, draw("dental.condition2"))
    return F.array_distinct(F.filter(F.array(draw("dental.condition1"), second), lambda c: c.isNotNull()))


def _teeth(rng: Rng, condition: Column) -> Column:
    """歯式 of one condition of the course: 6 characters a tooth, concatenated."""
    keys = (*COURSE, condition)
    deciduous = (F.col("course_age") < 12) & (condition == "C")
    quadrant = rng.int_between("dental.quadrant", 1, 4, *keys) + F.when(deciduous, 4).otherwise(0)
    one = F.when(deciduous, rng.int_between("dental.tooth", 1, 5, *keys)).otherwise(
        rng.int_between("dental.tooth", 1, 7, *keys))
    lo = F.when(condition == "P", rng.int_between("dental.run", 3, 5, *keys)).when(condition == "G", 1).otherwise(one)
    hi = F.when(condition == "P", 7).when(condition == "G", 3).otherwise(lo)
    teeth = F.transform(F.sequence(lo, hi), lambda t: F.concat(F.lit("10"), quadrant.cast("string"), t.cast("string"),
                                                               F.lit("00")))
    return F.array_join(teeth, "")


def diagnoses(rng: Rng) -> Column:
    """The HS records of a receipt: per condition its teeth and 傷病名コード."""
    codes = literal_map({c: code for c, code, _ in CONDITIONS})
    return F.transform("conditions", lambda c: F.struct(
        _teeth(rng, c).alias("tooth_codes"), F.element_at(codes, c).alias("disease_code")))


def _line(act: str, days: Column, count: Column | int, additions: Column | None = None) -> Column:
    """One SS line of `act`; its 点数 include those of its 加算 (`additions`, array of (code, quantity))."""
    cc, code, points = ACTS[act]
    added = F.array().cast(ADDITION_TYPE) if additions is None else F.coalesce(additions, F.array().cast(ADDITION_TYPE))
    unit_points = literal_map(dict(ADDITIONS.values()))
    extra = F.aggregate(added, F.lit(0), lambda acc, a: acc + F.element_at(unit_points, a.getField("code"))
                        * F.coalesce(a.getField("quantity"), F.lit(1)))
    return _struct(rec="SS", cc=cc, code=code, points=F.lit(points) + extra, count=count, days=days, additions=added)


def _struct(**values: Column | str | int | None) -> Column:
    def lit(v: Column | str | int | None) -> Column:
        return v if isinstance(v, Column) else F.lit(v)

    return F.struct(*[lit(values.get(n)).cast(t).alias(n) for n, t in LINE_TYPES])


def _addition(name: str, quantity: Column | int | None = None) -> Column:
    return F.array(F.struct(F.lit(ADDITIONS[name][0]).alias("code"), F.lit(quantity).cast("int").alias("quantity")))


def _when(cond: Column, line: Column) -> Column:
    return F.when(cond, F.array(line)).otherwise(F.array().cast(f"array<{_line_type()}>"))


def _line_type() -> str:
    return "struct<" + ",".join(f"{n}:{t}" for n, t in LINE_TYPES) + ">"


def analgesic(cat: Catalogs) -> Column:
    drug = next((d for d in cat.drugs if d.name == ANALGESIC), None)
    if drug is None:
        raise CatalogError(f"drugs.csv: no {ANALGESIC} (the analgesic of synth/dental_care.py)")
    return _struct(rec="IY", cc="21", code=drug.code, points=drug_points(F.lit(drug.price_yen * 3)), count=3,
                   days=day_on(F.col("first_day"), 3), amount=F.lit(3), drug_category="1")


def lines(rng: Rng, cat: Catalogs) -> Column:
    """The SS and IY lines of a receipt in 診療識別 order, from its visit days: `first_day` (the 初診 day, null
    unless the course starts this month), `later_days` (every other visit day) and `vdays`."""
    keys = ("person_id", "m")
    has = {c: F.array_contains("conditions", c) for c, _, _ in CONDITIONS}
    first, later = F.col("first_day").isNotNull(), F.size("later_days") > 0
    on_first, on_later = day_on(F.col("first_day"), 1), days_on(F.col("later_days"))
    last = day_on(F.element_at("vdays", -1), 1)
    management_day = F.when(first, F.get(F.col("vdays"), 1)).otherwise(F.get(F.col("vdays"), 0))
    env = F.when(F.col("environment"), _addition("environment"))
    thirds = F.when(rng.u("dental.thirds", *keys) < 0.4, _addition("extra_third", rng.int_between("dental.n3", 1, 2, *keys)))
    painless = F.when(rng.u("dental.painless", *keys) < 0.5, _addition("painless"))
    return F.concat(
        _when(first, _line("first_visit", on_first, 1, env)),
        _when(later, _line("revisit", on_later, F.size("later_days"))),
        _when(management_day.isNotNull(), _line("management", day_on(management_day, 1), 1)),
        _when(first & has["Pul"], analgesic(cat)),
        _when(first & has["C"], _line("radiograph", on_first, 1)),
        _when(first & has["P"], _line("perio_exam", on_first, 1)),
        _when(first & has["Pul"], _line("pulpectomy", on_first, 1)),
        _when(later & has["Pul"], _line("canal_dressing", on_later, F.size("later_days"))),
        _when(later & has["P"], _line("scaling", on_later, F.size("later_days"), thirds)),
        _when(has["G"], _line("cleaning", last, 1)),
        _when(has["C"], _line("filling", last, 1, painless)),
    )
