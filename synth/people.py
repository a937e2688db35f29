"""Synthetic people: age, sex, names, address, institutions, insurance episodes, chronic conditions.

Age and sex follow the 2020 pyramid (reference.AGE_BANDS, 100+ included). Everyone belongs to the
prefecture of their main institution; about 30% also see a second institution.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from synth import insurance as ins
from synth.draws import Rng, literal_array, pick, poisson_small, weighted, zipf_index
from synth.institutions import municipality_lookup
from synth.names import BUILDINGS, FEMALE_GIVEN, MALE_GIVEN, SURNAMES, TOWNS
from synth.reference import AGE_BANDS, RARE_TAIL, Catalogs

SECOND_INSTITUTION_SHARE = 0.3
MAX_CHRONIC = 5


def _age_band(rng: Rng, pid: str) -> Column:
    """Category 2 * band + (0 male, 1 female) of the 2020 pyramid."""
    cats = list(range(2 * len(AGE_BANDS)))
    weights = [float(w) for _, m, f in AGE_BANDS for w in (m, f)]
    return weighted(rng.u("age.band", pid), cats, weights)


def _age_sex(rng: Rng, pid: str, cat: Column) -> tuple[Column, Column]:
    """Age and sex from the category `cat` (a column: it is read three times)."""
    band_lo = F.element_at(literal_array([lo for lo, _, _ in AGE_BANDS]), (F.floor(cat / 2) + 1).cast("int"))
    in_band = F.when(band_lo >= 100, F.floor(F.pow(rng.u("age.in", pid), F.lit(3.0)) * 8))
    age = band_lo + in_band.otherwise(F.floor(rng.u("age.in", pid) * 5))
    return age.cast("int"), F.when(cat % 2 == 0, F.lit("1")).otherwise(F.lit("2"))


def _given(table: tuple[tuple[tuple[str, str], ...], ...], part: int) -> Column:
    return literal_array([[p[part] for p in gen] for gen in table])


def _names(rng: Rng, pid: str) -> tuple[Column, Column]:
    s_idx = zipf_index(rng.u("name.sur", pid), len(SURNAMES), 0.9) + 1
    gen = F.when(F.year("birth_date") < 1950, 1).when(F.year("birth_date") < 1990, 2).otherwise(3)
    g_idx = (F.floor(rng.u("name.given", pid) * 20) + 1).cast("int")

    def given(part: int) -> Column:
        male = F.element_at(F.element_at(_given(MALE_GIVEN, part), gen), g_idx)
        female = F.element_at(F.element_at(_given(FEMALE_GIVEN, part), gen), g_idx)
        return F.when(F.col("sex") == "1", male).otherwise(female)

    sur_k = F.element_at(literal_array([s for s, _ in SURNAMES]), s_idx)
    sur_r = F.element_at(literal_array([r for _, r in SURNAMES]), s_idx)
    # 氏名: family and given name separated by a full-width space; カナ without a space, as in the
    # public sample file (RE field 36).
    return F.concat(sur_k, F.lit("\u3000"), given(0)), F.concat(sur_r, given(1))


def _municipality(rng: Rng, pid: str, cat: Catalogs) -> Column:
    return pick(rng.u("addr.muni", pid), F.element_at(municipality_lookup(cat), F.col("pref_code")))


def _address(rng: Rng, pid: str, muni: Column) -> dict[str, Column]:
    """Address columns from `muni` (a column holding _municipality(): it is read four times)."""
    town = pick(rng.u("addr.town", pid), list(TOWNS))
    block = F.format_string(
        "%d丁目%d番%d号", rng.int_between("addr.c", 1, 5, pid), rng.int_between("addr.b", 1, 30, pid),
        rng.int_between("addr.g", 1, 20, pid),
    )
    flat = F.when(rng.u("addr.flat", pid) < 0.3, F.concat(
        F.lit("\u3000"), pick(rng.u("addr.bld", pid), list(BUILDINGS)), town, rng.int_between("addr.room", 101, 905, pid)
    )).otherwise(F.lit(""))
    mobile = F.format_string("0%d0-%s-%s", pick(rng.u("tel.m", pid), [7, 8, 9]),
                             rng.digits("tel.a", 4, pid), rng.digits("tel.b", 4, pid))
    land = F.format_string("0%s-%s-%s", pick(rng.u("tel.area", pid), ["3", "6", "11", "45", "52", "92", "22", "78"]),
                           rng.digits("tel.c", 4, pid), rng.digits("tel.d", 4, pid))
    return {
        "muni_code": muni.getField("jis"),
        "postal_code": F.concat(muni.getField("postal"), F.lit("-"), rng.digits("addr.zip", 4, pid)),
        "address": F.concat(muni.getField("pref_name"), muni.getField("name"), town, block, flat),
        "phone": F.when(rng.u("tel.kind", pid) < 0.7, mobile).otherwise(land),
    }


def _chronic(rng: Rng, pid: str, cat: Catalogs, start: dt.date) -> Column:
    """array<struct(idx, start)>: long-standing conditions with the date they were first treated."""
    age = F.col("age0")
    mean = F.when(age < 15, 0.15).when(age < 40, 0.4).when(age < 65, 1.0).when(age < 75, 1.8).otherwise(2.4)
    n = poisson_small(rng.u("chronic.n", pid), mean, MAX_CHRONIC)
    pool = cat.disease_pool(acute=False)
    excluded_m, excluded_f = literal_array(cat.sex_excluded("1")), literal_array(cat.sex_excluded("2"))
    excluded = F.when(F.col("sex") == "1", excluded_m).otherwise(excluded_f)
    days_alive = F.greatest(F.datediff(F.lit(start), F.col("birth_date")), F.lit(1))

    def one(i: Column) -> Column:
        idx = F.element_at(literal_array(pool), zipf_index(rng.u("chronic.idx", pid, i), len(pool), 1.1) + 1)
        back = F.floor(rng.u("chronic.start", pid, i) * F.least(days_alive, F.lit(3650))) + 1
        return F.struct(idx.alias("idx"), F.date_sub(F.lit(start), back.cast("int")).alias("start"))

    drawn = F.slice(F.transform(F.sequence(F.lit(1), F.lit(MAX_CHRONIC)), one), 1, n)
    return F.filter(drawn, lambda x: ~F.array_contains(excluded, x.getField("idx")))


def _first_of_each(col: str) -> Column:
    """One entry per disease index: the first draw of each (refers to the column, see details.py)."""
    c = F.col(col)
    return F.filter(c, lambda x, i: ~F.exists(F.slice(c, 1, i), lambda y: y.getField("idx") == x.getField("idx")))


def with_people(ids: DataFrame, slots: DataFrame, institutions: DataFrame, rng: Rng, cat: Catalogs,
                start: dt.date, months: int) -> DataFrame:
    """`ids` (column `id`) -> one row per person; `slots` from institutions.institution_slots()."""
    pid = "person_id"
    age, sex = _age_sex(rng, pid, F.col("_age_cat"))
    base = (ids.select(F.col("id").cast("long").alias("person_id")).select("person_id", _age_band(rng, pid).alias("_age_cat"))
            .select("person_id", age.alias("age0"), sex.alias("sex")))
    birth = F.date_sub(F.add_months(F.lit(start), -12 * F.col("age0")), F.floor(rng.u("birth.day", pid) * 365).cast("int"))
    base = base.withColumn("birth_date", birth)
    name, kana = _names(rng, pid)
    total = F.broadcast(slots.select("total_slots").limit(1))
    s1 = slots.select(F.col("slot").alias("slot1"), F.col("inst_id").alias("inst1"))
    s2 = slots.select(F.col("slot").alias("slot2"), F.col("inst_id").alias("inst2_any"))
    inst = institutions.select(F.col("inst_id").alias("inst1"), "pref_code")
    people = (
        base.withColumn("name", name).withColumn("kana_name", kana)
        .crossJoin(total)
        .withColumn("slot1", F.floor(rng.u("inst.first", pid) * F.col("total_slots")).cast("int"))
        .withColumn("slot2", F.when(rng.u("inst.has2", pid) < SECOND_INSTITUTION_SHARE,
                                    F.floor(rng.u("inst.second", pid) * F.col("total_slots")).cast("int")))
        .join(F.broadcast(s1), "slot1", "inner")
        .join(F.broadcast(s2), "slot2", "left")
        .withColumn("inst2", F.when(F.col("inst2_any") != F.col("inst1"), F.col("inst2_any")))
        .join(F.broadcast(inst), "inst1", "inner")
    )
    address = _address(rng, pid, F.col("_muni"))
    people = (people.select("*", _municipality(rng, pid, cat).alias("_muni"))
              .select("*", *[expr.alias(column) for column, expr in address.items()]).drop("_muni"))
    return (
        with_insurance(people, rng, start, months)
        .withColumn("chronic_drawn", _chronic(rng, pid, cat, start))
        .withColumn("chronic", _first_of_each("chronic_drawn")).drop("chronic_drawn")
        .transform(lambda df: with_programs(df, rng, len(cat.diseases) - RARE_TAIL, cat))
    )


def with_insurance(people: DataFrame, rng: Rng, start: dt.date, months: int) -> DataFrame:
    pid, age = "person_id", F.col("age0")
    pref, muni = F.col("pref_code"), F.col("muni_code")
    welfare = rng.u("welfare", pid) < F.when(age >= 65, ins.WELFARE_65_PLUS).otherwise(ins.WELFARE_UNDER_65)
    has_change = (rng.u("ins.change", pid) < ins.CHANGE_PER_YEAR * months / 12) & F.lit(months >= 2)
    family_p = F.when(age < 18, 1.0).when(age < 23, 0.7).when(age >= 75, 0.0).otherwise(0.3)
    family = rng.u("ins.family", pid) < family_p
    d75 = F.add_months(F.col("birth_date"), 75 * 12)
    # 後期高齢者 from the first month that starts on or after the 75th birthday.
    kouki_from = F.when(F.dayofmonth(d75) == 1, d75).otherwise(F.add_months(F.trunc(d75, "month"), 1))
    kinds = {"kind0": ins.insurer_kind(rng.u("ins.kind0", pid), age),
             "kind1": ins.insurer_kind(rng.u("ins.kind1", pid), F.least(age, F.lit(74)))}
    episodes = {"card0": ("e0", F.col("kind0")), "card1": ("e1", F.col("kind1")),
                "card_kouki": ("kouki", F.lit(ins.KOUKI))}
    added = {
        "welfare": welfare,
        "change_m": F.when(has_change, rng.int_between("ins.change_m", 1, max(months - 1, 1), pid)),
        "family": family,
        "branch_no": F.when(family, F.format_string("%02d", rng.int_between("ins.branch", 1, 5, pid))).otherwise(F.lit("00")),
        "genekinami": rng.u("ins.genekinami", pid) < ins.GENEKINAMI_SHARE,
        "kouki_from": kouki_from,
    }
    # In stages, so that cards read kinds and card bodies as columns (see insurance.card_body).
    staged = people.select("*", *[c.alias(n) for n, c in {**added, **kinds}.items()]).select(
        "*", *[ins.card_body(rng, kind, salt, pref, muni, pid).alias(f"_{name}_body")
               for name, (salt, kind) in episodes.items()])
    cards = {name: ins.insurance_card(rng, kind, salt, F.col(f"_{name}_body"), pid).alias(name)
             for name, (salt, kind) in episodes.items()}
    return staged.select(*people.columns, *added, *cards.values(), *kinds)


def insurance_at(month: Column, m: Column) -> tuple[Column, Column, Column]:
    """(kind, card struct, 枝番) valid in `month` (index `m`): null for 生活保護 (公費単独)."""
    kouki = month >= F.col("kouki_from")
    changed = F.col("change_m").isNotNull() & (m >= F.col("change_m"))
    kind = (F.when(F.col("welfare"), F.lit(None)).when(kouki, F.lit(ins.KOUKI))
            .when(changed, F.col("kind1")).otherwise(F.col("kind0")))
    card = (F.when(F.col("welfare"), F.lit(None)).when(kouki, F.col("card_kouki"))
            .when(changed, F.col("card1")).otherwise(F.col("card0")))
    return kind, card, F.when(kind == ins.KOUKI, F.lit("00")).otherwise(F.col("branch_no"))


def with_programs(people: DataFrame, rng: Rng, n_common: int, cat: Catalogs) -> DataFrame:
    """公費 programs in priority order (生活保護 last), at most two per person."""
    pid, pref = "person_id", F.col("pref_code")
    local3 = F.substring(F.col("muni_code"), 3, 3)
    chapters = literal_array([d.chapter for d in cat.diseases])
    rare = F.exists("chronic", lambda x: x.getField("idx") >= n_common)
    mental = F.exists("chronic", lambda x: F.element_at(chapters, x.getField("idx") + 1) == "V")

    specs: dict[str, tuple[Column | str, Column]] = {
        "54": ("54", rng.digits("prog.54.p", 3, pid)), "21": ("21", rng.digits("prog.21.p", 3, pid)),
        "8x": (ins.local_hobetsu(pref), local3), "12": ("12", rng.digits("prog.12.p", 3, pid)), "none": ("00", local3),
    }
    # Bodies as columns first, check digits on those columns (see insurance.card_body).
    temps = {f"_prog_{salt}_{part}": col for salt, (hobetsu, local) in specs.items()
             for part, col in ins.public_program_bodies(rng, hobetsu, salt, pref, local, pid).items()}
    staged = people.select("*", *[c.alias(n) for n, c in temps.items()])

    def program(salt: str) -> Column:
        return ins.public_program(*[F.col(f"_prog_{salt}_{part}") for part in ("hobetsu", "payer", "recipient")])

    def prog(cond: Column, salt: str) -> Column:
        return F.when(cond, F.array(program(salt)))

    others = [
        prog(rare & (rng.u("prog.54", pid) < 0.8), "54"),
        prog(mental & (rng.u("prog.21", pid) < 0.3), "21"),
        prog((F.col("age0") < 15) & (rng.u("prog.8x", pid) < 0.85), "8x"),
    ]
    welfare = prog(F.col("welfare"), "12")
    empty = F.slice(F.array(program("none")), 1, 0)
    # At most two KO records; 生活保護 always stays, last (it pays after every other program).
    first = F.slice(F.concat(*[F.coalesce(p, empty) for p in others]), 1, F.when(F.col("welfare"), 1).otherwise(2))
    programs = F.concat(first, F.coalesce(welfare, empty))
    return staged.withColumn("rare", rare).withColumn("programs", programs).drop(*temps)
