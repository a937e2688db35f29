"""The published release of the shared pipeline run (tests/e2e/conftest.py: generate -> ingest ->
anonymize -> validate -> publish with the shipped anonymized policy), scanned for every identifier in
the generator's truth files (issue 2 and issue 4 acceptance; requirements 4-14, 17, 18, 22). Tables
are read with `deltalake`, without Spark."""

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from helpers.pipeline import REPO

from synth.reference import LABS

PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")  # 128-bit keyed pseudonyms


def _public_codes() -> set[str]:
    """Codes anyone can look up: the catalogs the generator draws its claims from (conf/hierarchies)
    and its lab codes (JLAC10-like and local). A 6-digit カルテ番号 such as 000023 occurs inside
    many of them by chance; a cell that is exactly such a code carries no identifier."""
    codes = {lab.jlac10 for lab in LABS} | {lab.local_code for lab in LABS}
    for name, column in (("diseases", "disease_code"), ("drugs", "drug_code"), ("procedures", "procedure_code")):
        with (REPO / "conf" / "hierarchies" / f"{name}.csv").open(encoding="utf-8") as fh:
            codes |= {row[column] for row in csv.DictReader(line for line in fh if not line.startswith("#"))}
    assert len(codes) > 100
    return codes


def _truth(inputs: Path) -> tuple[set[str], set[dt.date]]:
    values: set[str] = set()
    births: set[dt.date] = set()
    sets = sorted(inputs.iterdir())
    assert [s.name for s in sets] == ["seireki", "wareki"]
    for p in (p for s in sets for p in pq.read_table(s / "_truth" / "persons").to_pylist()):
        for k in ("name", "kana_name", "phone", "postal_code", "address"):
            if p[k]:
                values |= {p[k], re.sub(r"[\s\u3000]", "", p[k])}
        for k in ("insurer_nos", "card_symbols", "card_numbers", "recipient_nos"):
            values |= {v for v in p[k] or [] if v}
        for k in ("chart_numbers", "hospital_patient_ids"):
            values |= {v for d in p[k] or [] for v in d.values() if v}
        births.add(p["birth_date"])
    return values, births


@pytest.mark.slow
def test_req4_req11_req14_no_truth_value_in_any_column_of_the_published_release(pipeline):
    values, births = _truth(pipeline.input)
    # Values of 5+ characters must not occur anywhere inside a string; 3-4 characters (カルテ番号
    # "0221") must not be a whole cell. Two-character 枝番 ("01") are indistinguishable from codes:
    # their columns must be absent instead (checked below).
    long = re.compile("|".join(sorted(map(re.escape, (v for v in values if len(v) >= 5)), key=len, reverse=True)))
    short = {v for v in values if 3 <= len(v) < 5}
    public = _public_codes()
    assert len(values) > 1000 and len(births) > 300  # both generated sets' people
    assert (pipeline.release / "manifest.json").is_file()  # published: manifest written last
    tables = sorted((pipeline.release / "tables").iterdir())
    assert {t.name for t in tables} >= {"receipts", "diagnoses", "drugs", "procedures", "labs", "patients"}
    for path in tables:
        data = DeltaTable(str(path)).to_pyarrow_table()
        assert not {"branch_no", "name", "kana_name", "birth_date", "chart_no", "card_number"} & set(data.column_names)
        for field in data.schema:
            cells = [v for v in data.column(field.name).to_pylist() if v is not None]
            if str(field.type) == "string":
                # A keyed pseudonym (32 hex) or a public code cannot carry an identifier; digits inside
                # them match by chance.
                leaks = [v for v in cells if v in short or (not PSEUDONYM.match(v) and v not in public and long.search(v))]
                assert not leaks, (path.name, field.name, leaks[:3])
            elif str(field.type).startswith("date"):
                assert not births & set(cells) - {d for d in births if d.day == 1}, (path.name, field.name)
                assert all(d.day == 1 for d in cells), (path.name, field.name)  # month level only (req 22)


@pytest.mark.slow
def test_req17_req18_no_age_90_plus_detail_and_no_rare_code(pipeline):
    tables = pipeline.release / "tables"
    patients = DeltaTable(str(tables / "patients")).to_pyarrow_table().to_pylist()
    bands = {p["age_band"] for p in patients}
    # 90+ is one band; k-anonymity may widen the bands or suppress the age entirely ("*").
    assert bands and all(b in ("90+", "*") or int(b[:2]) < 90 for b in bands if b)
    for table, col in (("diagnoses", "disease_code"), ("drugs", "drug_code"), ("procedures", "procedure_code")):
        rows = DeltaTable(str(tables / table)).to_pyarrow_table().select([col, "pid"]).to_pylist()
        held: dict[str, set[str]] = {}
        for r in rows:
            if r[col] is not None:
                held.setdefault(r[col], set()).add(r["pid"])
        small = {code: len(p) for code, p in held.items() if len(p) < 10}
        assert not small, (table, small)
        assert held or table == "drugs", table  # common diagnoses and procedures survive; rare drugs may all go


@pytest.mark.slow
def test_req22_each_patient_has_one_age_band_on_every_claim(pipeline):
    """The shipped policy takes the claims' age band at the patient's first service: a band that
    changed between a patient's claims would show the month of the birthday that crossed it."""
    tables = pipeline.release / "tables"
    patients = {p["pid"]: p["age_band"] for p in DeltaTable(str(tables / "patients")).to_pyarrow_table().to_pylist()}
    receipts = DeltaTable(str(tables / "receipts")).to_pyarrow_table().select(["pid", "age_band"]).to_pylist()
    bands: dict[str, set[str]] = {}
    for r in receipts:
        bands.setdefault(r["pid"], set()).add(r["age_band"])
    assert len(bands) > 20 and receipts
    assert all(len(b) == 1 for b in bands.values())
    assert all(b == {patients[pid]} for pid, b in bands.items() if pid in patients)
    assert sum(pid in patients for pid in bands) > 20


@pytest.mark.slow
def test_the_release_carries_data_docs_of_every_tables_validation(pipeline):
    """`tokumei validate` renders GX Data Docs once, from every table's stored result (expectations/gx_suite.py):
    one site in the release (validation/gx) whose index links a validation page of each table."""
    summary = json.loads((pipeline.release / "validation" / "summary.json").read_text(encoding="utf-8"))
    tables = set(summary["tables"])
    [index] = (pipeline.release / "validation" / "gx").rglob("local_site/index.html")
    site = index.parent
    pages = [p.relative_to(site / "validations") for p in (site / "validations").rglob("*.html")]
    # every table's, and that of the (k, k^m) check over the items (`_km_items`, not a table of the release)
    assert len(tables) > 10 and {p.parts[0] for p in pages} == {f"tokumei-{t}" for t in [*tables, "_km_items"]}
    linked = index.read_text(encoding="utf-8")
    assert all(p.as_posix() in linked for p in pages)
