"""Reference data for the synthetic generator: the 2020 age pyramid and the committed catalogs.

The catalogs are small committed CSVs (conf/hierarchies/*.csv, '#' lines are comments); they are
read here in plain Python because they are configuration, not record-level data, and become literal
arrays in Spark expressions (synth/draws.py).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# 2020 census (令和2年国勢調査) population by 5-year age band, thousands, male / female, as recalled
# offline (total about 126 million). The last band is 100+. Approximate; the shape is what matters.
AGE_BANDS: tuple[tuple[int, int, int], ...] = (
    (0, 2325, 2216), (5, 2619, 2495), (10, 2753, 2623), (15, 2928, 2778), (20, 3244, 3076),
    (25, 3270, 3114), (30, 3417, 3297), (35, 3803, 3695), (40, 4293, 4183), (45, 4953, 4842),
    (50, 4398, 4341), (55, 3961, 3989), (60, 3670, 3754), (65, 4020, 4220), (70, 4347, 4842),
    (75, 3183, 3905), (80, 2248, 3187), (85, 1330, 2457), (90, 499, 1373), (95, 101, 453),
    (100, 10, 70),
)

# The last RARE_TAIL rows of diseases.csv are 指定難病 (see the file's header comment).
RARE_TAIL = 50
# ICD-10 first letters of conditions that come and go within a month (infections, symptoms,
# injuries); the rest are treated as chronic, carried from month to month with their start date.
ACUTE_LETTERS = "ABJRSTU"
FEMALE_ONLY_PREFIXES = ("O", "N7", "N8", "N9", "C5", "D25")
MALE_ONLY_PREFIXES = ("N4", "C6")
INJECTION_MARK = "注"
EXTERNAL_MARKS = ("軟膏", "点眼", "点鼻", "テープ", "クリーム", "ゲル", "吸入", "浣腸", "ワセリン")


class CatalogError(ValueError):
    """A committed catalog is missing or malformed; the job reports it as bad input."""


@dataclass(frozen=True)
class Disease:
    code: str
    name: str
    icd10: str
    chapter: str


@dataclass(frozen=True)
class Drug:
    code: str
    name: str
    drug_class: str
    price_yen: float

    @property
    def external_amount(self) -> tuple[float, int]:
        """(step, max steps) of one prescription of an external drug, in the unit its price is for."""
        if self.drug_class in ("131", "132"):
            return 2.5, 2  # mL: one or two bottles of eye or nasal drops
        if "吸入" in self.name or "浣腸" in self.name:
            return 1.0, 2  # kits
        if "テープ" in self.name:
            return 7.0, 6  # sheets
        return 5.0, 8  # grams of ointment, cream or gel

    @property
    def form(self) -> str:
        if INJECTION_MARK in self.name:
            return "injection"
        return "external" if any(m in self.name for m in EXTERNAL_MARKS) else "oral"


@dataclass(frozen=True)
class Municipality:
    jis_code: str
    pref_code: str
    pref_name: str
    name: str
    postal_prefix: str


@dataclass(frozen=True)
class Catalogs:
    prefectures: tuple[tuple[str, str, int], ...]  # (JIS code, name, population)
    municipalities: tuple[Municipality, ...]
    diseases: tuple[Disease, ...]
    drugs: tuple[Drug, ...]
    procedures: dict[str, tuple[str, str, int]]  # code -> (name, care_class, points)

    def points(self, code: str) -> int:
        return self.procedures[code][2]

    def disease_pool(self, acute: bool) -> list[int]:
        """Indices into `diseases`, in frequency order; rare diseases are always chronic."""
        n_common = len(self.diseases) - RARE_TAIL
        return [
            i for i, d in enumerate(self.diseases)
            if (i < n_common and d.icd10[0] in ACUTE_LETTERS) == acute
        ]

    def sex_excluded(self, sex: str) -> list[int]:
        """Disease indices that do not occur in sex '1' (male) or '2' (female)."""
        prefixes = FEMALE_ONLY_PREFIXES if sex == "1" else MALE_ONLY_PREFIXES
        return [i for i, d in enumerate(self.diseases) if d.icd10.startswith(prefixes)]


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise CatalogError(f"{path}: catalog file not found")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(line for line in fh if not line.startswith("#"))
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError(f"{path}: missing columns {missing}; found {reader.fieldnames}")
        rows = list(reader)
    if not rows:
        raise CatalogError(f"{path}: no rows")
    return rows


def load_catalogs(directory: str | Path) -> Catalogs:
    d = Path(directory)
    prefs = tuple(
        (r["pref_code"], r["name"], int(r["population_2020"]))
        for r in _rows(d / "prefectures.csv", ("pref_code", "name", "population_2020"))
    )
    munis = tuple(
        Municipality(r["jis_code"], r["pref_code"], r["pref_name"], r["municipality"], r["postal_prefix"])
        for r in _rows(d / "municipalities.csv", ("jis_code", "pref_code", "pref_name", "municipality", "postal_prefix"))
    )
    diseases = tuple(
        Disease(r["disease_code"], r["name"], r["icd10"], r["icd10_chapter"])
        for r in _rows(d / "diseases.csv", ("disease_code", "name", "icd10", "icd10_block", "icd10_chapter"))
    )
    drugs = tuple(
        Drug(r["drug_code"], r["name"], r["drug_class"], float(r["price_yen"]))
        for r in _rows(d / "drugs.csv", ("drug_code", "name", "drug_class", "class_name", "price_yen"))
    )
    procs = {
        r["procedure_code"]: (r["name"], r["care_class"], int(r["points"]))
        for r in _rows(d / "procedures.csv", ("procedure_code", "name", "care_class", "points"))
    }
    missing_prefs = {p for p, _, _ in prefs} - {m.pref_code for m in munis}
    if missing_prefs:
        raise CatalogError(f"{d / 'municipalities.csv'}: no municipality for prefectures {sorted(missing_prefs)}")
    if len(diseases) <= RARE_TAIL:
        raise CatalogError(f"{d / 'diseases.csv'}: needs more than {RARE_TAIL} rows (the rare tail)")
    return Catalogs(prefs, munis, diseases, drugs, procs)


@dataclass(frozen=True)
class Lab:
    """A numeric lab analyte billed by `procedure_code` (JLAC10-like code: analyte 5 + id 4 +
    material 3 + method 3 + result 2; illustrative, not verified against the JLAC10 master)."""

    procedure_code: str
    jlac10: str
    local_code: str
    name: str
    unit: str
    mean: float
    sd: float
    decimals: int


LABS: tuple[Lab, ...] = (
    Lab("160008010", "2A990000001930101", "L0101", "白血球数", "10^3/uL", 6.0, 1.8, 1),
    Lab("160008010", "2A020000001930101", "L0102", "赤血球数", "10^6/uL", 4.5, 0.5, 2),
    Lab("160008010", "2A030000001930101", "L0103", "ヘモグロビン", "g/dL", 13.5, 1.6, 1),
    Lab("160008010", "2A040000001930101", "L0104", "ヘマトクリット", "%", 41.0, 4.5, 1),
    Lab("160008010", "2A050000001930101", "L0105", "血小板数", "10^3/uL", 250.0, 60.0, 0),
    Lab("160019210", "3D046000001906202", "L0201", "ＨｂＡ１ｃ（ＮＧＳＰ）", "%", 5.9, 0.8, 1),
    Lab("160021010", "3B035000002327201", "L0301", "ＡＳＴ", "U/L", 24.0, 10.0, 0),
    Lab("160021110", "3B045000002327201", "L0302", "ＡＬＴ", "U/L", 22.0, 14.0, 0),
    Lab("160021210", "3B090000002327201", "L0303", "γ－ＧＴ", "U/L", 35.0, 30.0, 0),
    Lab("160021310", "3F050000002327101", "L0304", "総コレステロール", "mg/dL", 200.0, 35.0, 0),
    Lab("160021410", "3F070000002327101", "L0305", "ＨＤＬ－コレステロール", "mg/dL", 60.0, 15.0, 0),
    Lab("160021510", "3F077000002327101", "L0306", "ＬＤＬ－コレステロール", "mg/dL", 120.0, 30.0, 0),
    Lab("160021610", "3F015000002327101", "L0307", "中性脂肪", "mg/dL", 130.0, 70.0, 0),
    Lab("160021710", "3C015000002327101", "L0308", "クレアチニン", "mg/dL", 0.85, 0.25, 2),
    Lab("160021810", "3C025000002327101", "L0309", "尿素窒素", "mg/dL", 15.0, 5.0, 1),
    Lab("160021910", "3C020000002327101", "L0310", "尿酸", "mg/dL", 5.5, 1.4, 1),
    Lab("160022010", "3D010000002227101", "L0311", "グルコース", "mg/dL", 105.0, 25.0, 0),
    Lab("160022110", "3H010000002324101", "L0312", "ナトリウム", "mmol/L", 140.0, 2.5, 0),
    Lab("160022210", "3H015000002324101", "L0313", "カリウム", "mmol/L", 4.2, 0.4, 1),
    Lab("160022310", "3A010000002327101", "L0314", "総蛋白", "g/dL", 7.1, 0.5, 1),
    Lab("160022410", "3A015000002327101", "L0315", "アルブミン", "g/dL", 4.2, 0.4, 1),
    Lab("160030110", "5C070000002316201", "L0401", "ＣＲＰ", "mg/dL", 0.3, 0.8, 2),
    Lab("160030210", "4A055000002305201", "L0402", "ＴＳＨ", "uIU/mL", 2.0, 1.2, 2),
    Lab("160030310", "4B035000002305201", "L0403", "ＦＴ４", "ng/dL", 1.2, 0.2, 2),
    Lab("160030410", "5D010000002305201", "L0404", "ＰＳＡ", "ng/mL", 1.5, 1.5, 2),
    Lab("160030510", "4Z341000002205201", "L0405", "ＢＮＰ", "pg/mL", 40.0, 60.0, 1),
)
