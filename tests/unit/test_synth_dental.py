"""The codes synth/dental_care.py writes on generated 歯科 receipts, in plain Python: the 傷病名コード are the
master's, the drug is in the 医科 catalog, the invented codes have the shapes the layouts demand. No Spark."""

import csv
import re
from pathlib import Path

import pytest

from synth import CatalogError, load_catalogs
from synth.dental_care import ACTS, ADDITIONS, ANALGESIC, CONDITIONS, analgesic
from transforms.uke.layout import DENTAL_HS, DENTAL_SS

HIERARCHIES = Path(__file__).resolve().parents[2] / "conf" / "hierarchies"
OUTPATIENT_CARE_CLASSES = {"11", "12", "13", "21", "31", "41", "42", "43", "44", "54", "61", "62", "63", "64", "80"}


def _shape(layout, name):
    return re.compile(next(f.shape for f in layout.fields if f.name == name))


def test_dental_diagnoses_are_codes_of_the_disease_master_with_their_names():
    with (HIERARCHIES / "disease_hierarchy.csv").open(encoding="utf-8", newline="") as fh:
        master = {r["disease_code"]: r for r in csv.DictReader(line for line in fh if not line.startswith("#"))}
    shape = _shape(DENTAL_HS, "disease_code")
    for _, code, name in CONDITIONS:
        assert shape.match(code) and master[code]["name"] == name and not master[code]["abolished"], code
        assert master[code]["icd10"].startswith(("K02", "K04", "K05")), code  # 齲蝕, 歯髄疾患, 歯肉炎・歯周疾患


def test_invented_dental_codes_have_the_layout_shapes():
    procedure = _shape(DENTAL_SS, "procedure_code")
    for name, (care_class, code, points) in ACTS.items():
        assert procedure.match(code) and code.startswith("3") and care_class in OUTPATIENT_CARE_CLASSES, name
        assert points > 0, name
    assert len({code for _, code, _ in ACTS.values()}) == len(ACTS)
    assert all(re.fullmatch(r"[0-9A-Z]{5}", code) and points > 0 for code, points in ADDITIONS.values())


def test_the_analgesic_is_in_the_drug_catalog_and_its_absence_is_refused():
    catalogs = load_catalogs(HIERARCHIES)
    assert any(d.name == ANALGESIC for d in catalogs.drugs)
    without = catalogs.__class__(catalogs.prefectures, catalogs.municipalities, catalogs.diseases,
                                 tuple(d for d in catalogs.drugs if d.name != ANALGESIC), catalogs.procedures)
    with pytest.raises(CatalogError, match=ANALGESIC):
        analgesic(without)
