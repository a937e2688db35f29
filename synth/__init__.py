"""Synthetic UKE claims and clinical extracts, built with Spark built-ins only (brief A, issue 2 item 5).

Pipeline (each step a DataFrame -> DataFrame function; jobs/generate.py persists between steps):
institutions -> people -> pairs (person x institution, カルテ番号) -> visits (pair x month) ->
receipts (one row per receipt with all child records) -> truth tables (typed, per layout) ->
UKE lines (transforms/uke/write.py) and clinical extracts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from synth.clinical import LAB_COLUMNS, PATIENT_COLUMNS, select_labs, select_patients
from synth.draws import Rng, check_digit, check_digit_py
from synth.institutions import MAX_INSTITUTIONS, institution_slots, with_institutions
from synth.lines import uke_lines
from synth.people import insurance_at, with_people
from synth.receipts import with_receipts
from synth.records import TRUTH_TABLES, file_records, files_table, truth_tables
from synth.reference import CatalogError, Catalogs, load_catalogs
from synth.truth import select_persons
from synth.visits import with_pairs, with_visits


@dataclass(frozen=True)
class Params:
    patients: int
    months: int
    institutions: int
    seed: int
    start: dt.date  # first service month (day 1)
    era_dates: bool = False
    pharmacy: bool = False  # also 調剤 claims of the prescriptions sent out (synth/pharmacy.py)
    dpc: bool = False  # the inpatient stays at DPC hospitals as DPC claims instead of 医科 (synth/dpc.py)
    dental: bool = False  # also 歯科 claims of the people who see a dentist (synth/dental.py)


__all__ = [
    "LAB_COLUMNS", "MAX_INSTITUTIONS", "PATIENT_COLUMNS", "TRUTH_TABLES", "CatalogError", "Catalogs", "Params",
    "Rng", "check_digit", "check_digit_py", "file_records", "files_table", "institution_slots", "insurance_at",
    "load_catalogs", "select_labs", "select_patients", "select_persons", "truth_tables", "uke_lines",
    "with_institutions", "with_pairs", "with_people", "with_receipts", "with_visits",
]
