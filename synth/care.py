"""What happens in a month of care at one institution, as detail lines (synth/details.py).

Outpatients get 初診 (first month at a new institution) or 再診 per visit day, 医学管理 for chronic
conditions at small institutions, drugs (in house as IY lines, else a 処方箋料), sometimes injections,
処置, tests, imaging and rehabilitation; inpatients get the daily 入院料, drips and more tests. Drugs
follow the main diagnosis' ICD-10 chapter (a hypertensive patient gets 血圧降下剤).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from synth.care_tests import bundle_items, tests
from synth.details import day_on, days_on, drug_points, empty, item, one, sk, unit
from synth.draws import Rng, literal_array, literal_map, pick
from synth.reference import Catalogs
from transforms.uke.write import wareki_date

KEYS = ("person_id", "inst_id", "m")
CHAPTER_CLASSES: dict[str, tuple[str, ...]] = {
    "I": ("625", "613", "614", "114"), "II": ("114", "239", "245"), "III": ("322", "313", "245"),
    "IV": ("396", "218", "394", "243", "311"), "V": ("112", "117", "119"),
    "VI": ("113", "116", "119", "112", "114", "124"), "VII": ("131",), "VIII": ("132", "441", "239"),
    "IX": ("214", "213", "217", "218", "333", "339", "212"),
    "X": ("222", "223", "225", "229", "449", "613", "614", "624", "114"), "XI": ("232", "235", "239"),
    "XII": ("264", "265", "269", "449", "441"), "XIII": ("114", "264", "124", "311", "399", "119"),
    "XIV": ("259", "613", "624"), "XVIII": ("114", "222", "239", "235"), "XIX": ("114", "264"),
    "XXII": ("114", "222", "223"), "default": ("114", "264"),
}
RX_COMMENTS = ("疼痛時", "１日３回毎食後", "１日２回朝夕食後", "就寝前", "発熱時", "便秘時", "咳嗽時")
EXT_COMMENTS = ("１日１回　患部に貼付", "１日２回　患部に塗布", "両眼　１日４回点眼")
MAX_RX_UNITS = 3
FREE_COMMENT, DATE_COMMENT = "810000001", "850100001"  # free text; pattern 50 (和暦 date appended)


class Care:
    def __init__(self, rng: Rng, cat: Catalogs):
        self.rng, self.cat = rng, cat
        self.codes = literal_array([d.code for d in cat.drugs])
        self.prices = literal_array([d.price_yen for d in cat.drugs])
        self.ext_step = literal_array([d.external_amount[0] for d in cat.drugs])
        self.ext_steps = literal_array([d.external_amount[1] for d in cat.drugs])
        lists: dict[str, list[int]] = {}
        for chapter, classes in CHAPTER_CLASSES.items():
            for form in ("oral", "external"):
                idx = [i for i, d in enumerate(cat.drugs) if d.drug_class in classes and d.form == form]
                if idx:
                    lists[f"{chapter}/{form}"] = idx
        self.drug_lists = literal_map(lists)
        injections = [i for i, d in enumerate(cat.drugs) if d.form == "injection"]

        def injection(*words: str) -> list[int]:
            found = [i for i in injections if any(w in cat.drugs[i].name for w in words)]
            return found or injections

        self.chemo, self.fluids = injection("ペムブロリズマブ"), injection("ソリタ", "生理食塩液")
        self.outpatient_inj = injection("インスリン", "デノスマブ", "アダリムマブ")
        self.flags = {
            "dm": self._has(("E10", "E11", "E12", "E13", "E14")), "thyroid": self._has(("E03", "E05", "E06")),
            "hf": self._has(("I50",)), "cataract": self._has(("H26",)), "cancer": self._has(("C",)),
        }

    def _has(self, prefixes: tuple[str, ...]) -> Column:
        idx = literal_array([i for i, d in enumerate(self.cat.diseases) if d.icd10.startswith(prefixes)] or [-1])
        return F.exists("chronic", lambda x: F.array_contains(idx, x.getField("idx")))

    def u(self, purpose: str, *extra: Column | int) -> Column:
        return self.rng.u(purpose, *KEYS, *extra)

    def points(self, code: str) -> int:
        return self.cat.points(code)

    def points_map(self, *codes: str) -> Column:
        return literal_map({c: self.points(c) for c in codes})

    def si(self, key: Column, cc: str, code: str | Column, days: Column, points: int | Column, **kw: object) -> Column:
        return item(key, "SI", cc, code, days, points=points, **kw)  # type: ignore[arg-type]

    def components(self) -> list[Column]:
        """The detail lines of the receipt as arrays, one per component of care, unsorted.

        Select them as separate columns and concatenate afterwards (see with_helpers: the 64 KB
        method limit); details.finished_details sorts and finishes the lines.
        """
        return [
            self.visit_fees(), self.management(), *self.drugs(), self.injections(), self.treatments(),
            self.tests(), self.imaging(), self.rehabilitation(), self.inpatient_fee(),
        ]

    def visit_fees(self) -> Column:
        out, first = ~F.col("inpatient"), F.col("first_visit")
        n_re = F.size("re_days")
        re_days, small = F.col("re_days_days"), F.col("beds") < 200
        return F.concat(
            one(out & first, self.si(sk(11, 1), "11", "111000110", F.col("day1_days"), self.points("111000110"), count=1)),
            one(out & (n_re > 0), self.si(sk(12, 1), "12", "112007410", re_days, self.points("112007410"), count=n_re)),
            one(out & (n_re > 0) & small & (self.u("kanri") < 0.6),
                self.si(sk(12, 2), "12", "112011010", re_days, self.points("112011010"), count=n_re)),
        )

    def management(self) -> Column:
        cond = ~F.col("inpatient") & (F.size("chronic") > 0) & (F.col("beds") < 200) & (self.u("mgmt") < 0.7)
        code = F.when(F.col("beds") == 0, F.lit("113001810")).otherwise(F.lit("113001910"))
        pts = F.when(F.col("beds") == 0, self.points("113001810")).otherwise(self.points("113001910"))
        dated = self.u("mgmt.comment") < 0.05
        comment = (F.when(dated, F.lit(DATE_COMMENT)), F.when(dated, wareki_date(F.get(F.col("chronic"), 0).getField("start"))))
        return one(cond, self.si(sk(13, 1), "13", code, F.col("first2_days"), pts, comment=comment,
                                 count=F.least(F.size("vdays"), F.lit(2))))

    def with_helpers(self, df: DataFrame) -> DataFrame:
        """Per-receipt day arrays and drug units, materialized once: most lines share them."""
        re_days = F.when(F.col("first_visit"), F.slice("vdays", 2, 31)).otherwise(F.col("vdays"))
        n_units = 1 + (self.u("rx.n2") < 0.4).cast("int") + (self.u("rx.n3") < 0.15).cast("int")
        df = df.select(
            "*", re_days.alias("re_days"), days_on("array(day1)").alias("day1_days"),
            days_on("vdays").alias("vdays_days"),
            days_on("CASE WHEN first_visit THEN slice(vdays, 2, 31) ELSE vdays END").alias("re_days_days"),
            days_on("slice(vdays, 1, 2)").alias("first2_days"), bundle_items(self).alias("bio_items"),
        )
        # A unit is built in stages of plain columns (`_rx<i>_<name>`), each stage reading the
        # previous one: written as one expression, every derived value is inlined into each of its
        # uses and the generated method outgrows the JVM's 64 KB limit, after which Spark silently
        # interprets the whole projection. (Struct columns would not help: the optimizer inlines a
        # struct into its field accesses.)
        scratch: list[str] = []
        for stage in (self._unit_choice, self._unit_drugs, self._unit_amounts, self._unit_price):
            new = {f"_rx{i}_{name}": col for i in range(1, MAX_RX_UNITS + 1) for name, col in stage(i).items()}
            df = df.select("*", *[c.alias(n) for n, c in new.items()])
            scratch += list(new)
        fields = ("cc", "d0", "d1", "a0", "a1", "supply", "points", "days", "co", "co_text")
        units = [F.struct(*[F.col(f"_rx{i}_{f}").alias(f) for f in fields]) for i in range(1, MAX_RX_UNITS + 1)]
        return df.select("*", F.slice(F.array(*units), 1, n_units).alias("rx_units")).drop(*scratch)

    def dispensed(self) -> Column:
        """The prescription units as a pharmacy dispenses them when the institution does not (院外処方,
        synth/pharmacy.py): 診療識別, drug codes, amounts per day, days supplied, 点数 per day, the day."""
        return F.transform("rx_units", lambda u: F.struct(
            u.getField("cc").alias("cc"), F.element_at(self.codes, u.getField("d0") + 1).alias("code0"),
            F.when(u.getField("d1").isNotNull(), F.element_at(self.codes, u.getField("d1") + 1)).alias("code1"),
            u.getField("a0").alias("a0"), u.getField("a1").alias("a1"), u.getField("supply").alias("supply"),
            u.getField("points").alias("points"),
            F.array_position(F.transform(u.getField("days"), lambda x: x.isNotNull()), True).cast("int").alias("day")))

    @staticmethod
    def _rx(i: int, name: str) -> Column:
        return F.col(f"_rx{i}_{name}")

    def _unit_choice(self, i: int) -> dict[str, Column]:
        """Form, candidate drugs and draws of prescription unit `i`."""
        chapter = F.coalesce(F.col("chapter"), F.lit("default"))
        n_i = i

        def listed(form: str) -> Column:
            return F.coalesce(F.element_at(self.drug_lists, F.concat(chapter, F.lit("/" + form))),
                              F.element_at(self.drug_lists, F.lit("default/" + form)))

        has_ext = F.element_at(self.drug_lists, F.concat(chapter, F.lit("/external"))).isNotNull()
        ext = (self.u("rx.form", n_i) < 0.2) & has_ext
        prn = ~ext & (F.size("chronic") == 0) & (self.u("rx.prn", n_i) < 0.15)
        supply = (F.when(ext, F.lit(1)).when(prn, pick(self.u("rx.prn_n", n_i), [5, 10]))
                  .when(F.size("chronic") > 0, pick(self.u("rx.days", n_i), [14, 28, 28, 30]))
                  .otherwise(pick(self.u("rx.days", n_i), [3, 5, 7, 7, 14]))).cast("int")
        return {
            "ext": ext, "drugs": F.when(ext, listed("external")).otherwise(listed("oral")),
            "cc": F.when(ext, F.lit("23")).when(prn, F.lit("22")).otherwise(F.lit("21")), "supply": supply,
            "co": self.u("rx.co", n_i) < 0.1,
            "co_text": F.when(ext, pick(self.u("rx.cotext", n_i), list(EXT_COMMENTS)))
            .otherwise(pick(self.u("rx.cotext", n_i), list(RX_COMMENTS))),
        }

    def _unit_drugs(self, i: int) -> dict[str, Column]:
        """One drug, or two different ones of the same form (never two external products)."""
        drugs, n_i = self._rx(i, "drugs"), i
        n = F.size(drugs)
        p1 = F.floor(self.u("rx.d1", n_i) * n).cast("int")
        p2 = ((p1 + 1 + F.floor(self.u("rx.d2", n_i) * (n - 1))) % n).cast("int")
        two = ~self._rx(i, "ext") & (self.u("rx.two", n_i) < 0.3) & (n > 1)
        return {"d0": F.element_at(drugs, p1 + 1), "d1": F.when(two, F.element_at(drugs, p2 + 1))}

    def _unit_amounts(self, i: int) -> dict[str, Column]:
        def amount(drug: Column, j: int) -> Column:
            steps = 1 + F.floor(self.u("rx.ext", i, j) * F.element_at(self.ext_steps, drug + 1))
            per_day = 1 + F.floor(self.u("rx.amt", i, j) * 3)
            return F.when(self._rx(i, "ext"), F.element_at(self.ext_step, drug + 1) * steps).otherwise(per_day)

        d1 = self._rx(i, "d1")
        return {"a0": amount(self._rx(i, "d0"), 0).cast("decimal(15,5)"),
                "a1": F.when(d1.isNotNull(), amount(d1, 1)).cast("decimal(15,5)")}

    def _unit_price(self, i: int) -> dict[str, Column]:
        yen = F.element_at(self.prices, self._rx(i, "d0") + 1) * self._rx(i, "a0").cast("double") + F.coalesce(
            F.element_at(self.prices, self._rx(i, "d1") + 1) * self._rx(i, "a1").cast("double"), F.lit(0.0))
        return {"points": drug_points(yen), "days": day_on("day1", f"_rx{i}_supply")}

    def drugs(self) -> list[Column]:
        """One array per prescription unit, then the dispensing / prescription fees."""
        chronic = F.size("chronic") > 0
        rx = F.col("inpatient") | (self.u("rx") < F.when(chronic, 0.8).otherwise(0.5))
        house = F.col("in_house") | F.col("inpatient")
        day1 = F.col("day1_days")
        fees = F.concat(
            one(rx & house & ~F.col("inpatient"),
                self.si(sk(24, 1), "24", "120001210", day1, self.points("120001210"), count=1),
                self.si(sk(25, 1), "25", "120000710", day1, self.points("120000710"), count=1)),
            one(rx & ~house, self.si(sk(80, 1), "80", "120002910", day1, self.points("120002910"), count=1)),
        )
        return [*[self._drug_lines(i, rx & house) for i in range(1, MAX_RX_UNITS + 1)], fees]

    def _drug_lines(self, i: int, prescribed: Column) -> Column:
        """CO (sometimes) + one IY line per drug of unit `i`; 点数 (per day's dose) on the last line."""
        s = F.get(F.col("rx_units"), i - 1)
        present = prescribed & s.isNotNull()
        cc, two = s.getField("cc"), s.getField("d1").isNotNull()
        base = cc.cast("int") * 100000 + 1000 + i * 50

        def line(j: int) -> Column:
            drug = s.getField(f"d{j}")
            last = two if j == 1 else ~two
            return item(base + j + 1, "IY", cc, F.element_at(self.codes, drug + 1), s.getField("days"),
                        points=F.when(last, s.getField("points")), quantity=s.getField(f"a{j}"),
                        count=s.getField("supply"))

        return F.concat(
            one(present & s.getField("co"), item(base, "CO", cc, FREE_COMMENT, F.lit(None), text=s.getField("co_text"))),
            one(present, line(0)),
            one(present & two, line(1)),
        )

    def injections(self) -> Column:
        inj = F.when(F.col("inpatient"), self.u("inj") < 0.5).otherwise(self.u("inj") < 0.04)
        chemo = inj & self.flags["cancer"] & (F.col("inpatient") | (self.u("inj.chemo") < 0.3))
        stay, n_stay = F.col("vdays_days"), F.size("vdays")

        def drug(key: Column, cc: str, choices: list[int], days: Column, amount: float, count: Column | int) -> Column:
            idx = pick(self.u(f"inj.{cc}"), choices)
            pts = drug_points(F.element_at(self.prices, idx + 1) * amount)
            return item(key, "IY", cc, F.element_at(self.codes, idx + 1), days, points=pts, quantity=amount, count=count)

        return F.concat(
            one(chemo, self.si(sk(33, 1), "33", "130008210", F.col("day1_days"), self.points("130008210"), count=1),
                drug(sk(33, 1, 0, 1), "33", self.chemo, F.col("day1_days"), 2.0, 1)),
            one(inj & ~chemo & F.col("inpatient"),
                self.si(sk(33, 2), "33", "130008210", stay, self.points("130008210"), count=n_stay),
                drug(sk(33, 2, 0, 1), "33", self.fluids, stay, 1.0, n_stay)),
            one(inj & ~chemo & ~F.col("inpatient"), self.si(sk(31, 1), "31", "130000510", F.col("day1_days"), self.points("130000510"), count=1),
                drug(sk(31, 1, 0, 1), "31", self.outpatient_inj, F.col("day1_days"), 1.0, 1)),
        )

    def treatments(self) -> Column:
        out = ~F.col("inpatient")
        chapter = F.col("chapter")
        code = (F.when(chapter == "XIII", F.lit("140000810")).when(chapter == "XIX", F.lit("140000610"))
                .when(chapter == "X", F.lit("140031610")).otherwise(F.lit("140009310")))
        pts = F.element_at(self.points_map("140000810", "140000610", "140031610", "140009310"), code)
        every_visit = chapter == "XIII"
        days = F.when(every_visit, F.col("vdays_days")).otherwise(F.col("day1_days"))
        count = F.when(every_visit, F.size("vdays")).otherwise(F.lit(1))
        treat = out & (self.u("treat") < 0.05)
        dressing = item(sk(40, 1, 0, 1), "TO", "40", "730020000", F.col("day1_days"), points=60, quantity=100.0,
                        product="ハイドロサイト　１０ｃｍ×１０ｃｍ", unit_code="017", unit_price=6.0, count=1)
        catheter = item(sk(40, 2), "TO", "40", "730010000", F.col("day1_days"), points=56, quantity=1.0,
                        product="バーデックスＩＣフォーリーカテーテル　１６Ｆｒ", count=1)
        return F.concat(
            one(treat, self.si(sk(40, 1), "40", code, days, pts, count=count)),
            one(treat & (chapter == "XIX") & (self.u("to") < 0.3), dressing),
            one(F.col("inpatient") & (self.u("to.cath") < 0.1), catheter),
            one(out & (self.u("surgery") < 0.003), self.si(sk(50, 1), "50", "150000110", F.col("day1_days"), self.points("150000110"), count=1)),
            one(F.col("inpatient") & self.flags["cataract"] & (self.u("surgery.eye") < 0.3),
                self.si(sk(50, 2), "50", "150253010", F.col("day1_days"), self.points("150253010"), count=1)),
        )

    def tests(self) -> Column:
        return tests(self)

    def imaging(self) -> Column:
        xray_codes = ["170000410", "170000510", "170027910"]
        ct_codes = ["170011810", "170015210"]
        xray = ~F.col("inpatient") & (F.col("chapter").isin("XIII", "XIX", "X") & (self.u("xray") < 0.15) | (self.u("xray2") < 0.02))
        ct = F.col("inpatient") & (self.u("ct") < 0.3)
        return F.concat(
            F.when(xray, unit(sk(70, 1), "SI", "70", literal_array(xray_codes), F.col("day1_days"),
                              F.lit(sum(self.points(c) for c in xray_codes)), 1, len(xray_codes))).otherwise(empty()),
            F.when(ct, unit(sk(70, 2), "SI", "70", literal_array(ct_codes), F.col("day1_days"),
                            F.lit(sum(self.points(c) for c in ct_codes)), 1, len(ct_codes))).otherwise(empty()),
        )

    def rehabilitation(self) -> Column:
        cond = ~F.col("inpatient") & (F.col("chapter") == "XIII") & (self.u("rehab") < 0.08)
        return one(cond, self.si(sk(80, 2), "80", "180018910", F.col("vdays_days"), self.points("180018910"),
                                 count=F.size("vdays")))

    def inpatient_fee(self) -> Column:
        code = (F.when(F.col("beds") >= 200, F.lit("190117710"))
                .when((F.col("age") >= 75) & (self.u("ward") < 0.3), F.lit("190127010")).otherwise(F.lit("190121310")))
        pts = F.element_at(self.points_map("190117710", "190127010", "190121310"), code)
        return one(F.col("inpatient"), self.si(sk(90, 1), "90", code, F.col("vdays_days"), pts, count=F.size("vdays")))
