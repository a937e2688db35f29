"""docs/requirements.md (issue 17 item 7): up to date with the test names and the reference, every
software-checkable requirement has a test or is being built, and each way the sources can be wrong is
refused by name. No Spark: the test names are read with `ast`."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.shared import REPO

from jobs.requirements import main
from jobs.runtime.errors import InputError
from jobs.stages.traceability import (
    MISSING,
    PENDING,
    TESTED,
    Untested,
    build_trace,
    cited,
    find_citations,
    parse_catalog,
    parse_untested,
)
from jobs.stages.traceability.sources import PAGE, Sources, trace_sources

REFERENCE = """# Legal requirements
## A. Regime selection

1. **One regime per release** [L/I].
   - **Test:** ...

2. **All five steps** [G] (Q&A 11-5).

## B. Deleting identifying descriptions

3. **氏名 is deleted** [L].
"""


@pytest.fixture(scope="module")
def reference(shared_dir) -> Path:
    return shared_dir / "reference" / "legal_requirements.md"


def test_the_committed_page_is_what_make_requirements_writes(reference, tmp_path):
    out = tmp_path / "requirements.md"
    main(["--reference", str(reference), "--out", str(out)])
    committed = REPO / PAGE
    assert committed.is_file(), f"{PAGE} is missing: run make requirements"
    assert out.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
        f"{PAGE} is out of date with the test names, docs/requirements_untested.yaml or the reference: "
        "run make requirements and commit it")


def test_every_software_checkable_requirement_has_a_test_or_is_pending(reference):
    trace = trace_sources(Sources.of_repository(REPO, reference))
    assert list(trace.problems) == []
    assert len(trace.rows) == 53
    assert trace.count(TESTED) + trace.count("not_software_checkable") >= 45  # issue 17 acceptance


@pytest.mark.parametrize(("name", "numbers"), [
    ("test_req4_a_leaked_name_column_fails", (4,)),
    ("test_req4_req11_req14_no_identifier_value", (4, 11, 14)),
    ("test_req21_22_suppressed_patients", (21, 22)),
    ("test_req42a_req42c_opted_out_patients", (42,)),
    ("test_req21_groups_below_k_and_req18_rare_codes_fail", (21, 18)),
    ("test_req15_a_31_byte_key_is_refused_with_exit_2", (15,)),  # 31 is a word of the name, not a requirement
    ("test_req3_x_4", (3,)),
    ("test_publish_writes_tables", ()),
    ("test_requests_are_counted", ()),
    ("helper_req4", ()),
])
def test_a_test_cites_the_requirements_its_name_says(name, numbers):
    assert cited(name) == numbers


def test_citations_are_read_from_every_test_file_without_importing_it(tmp_path):
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_a.py").write_text(
        "import no_such_module\n\ndef test_req3_names_are_dropped():\n    pass\n\n"
        "class TestB:\n    async def test_req1_req2_regime(self):\n        pass\n\ndef helper_req3():\n    pass\n",
        encoding="utf-8")
    (tmp_path / "tests" / "helpers.py").write_text("def test_req1_not_a_test_file():\n    pass\n", encoding="utf-8")
    found = [(c.node, c.line, c.numbers) for c in find_citations(tmp_path / "tests", tmp_path)]
    assert found == [("tests/unit/test_a.py::test_req3_names_are_dropped", 3, (3,)),
                     ("tests/unit/test_a.py::test_req1_req2_regime", 7, (1, 2))]


def test_a_test_file_that_is_not_python_is_named_with_its_line(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_bad.py").write_text("def test_req1(:\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"tests/test_bad\.py:1: not valid Python"):
        find_citations(tmp_path / "tests", tmp_path)


def test_the_catalog_holds_number_title_basis_and_section():
    catalog = parse_catalog(REFERENCE)
    assert [(r.number, r.title, r.basis, r.section) for r in catalog.requirements] == [
        (1, "One regime per release", "[L/I]", "A. Regime selection"),
        (2, "All five steps", "[G] (Q&A 11-5)", "A. Regime selection"),
        (3, "氏名 is deleted", "[L]", "B. Deleting identifying descriptions"),
    ]


def test_a_catalog_with_a_gap_in_its_numbers_is_refused_naming_the_file():
    with pytest.raises(InputError, match=r"legal\.md: expected requirements numbered 1, 2, 3.*found \[1, 3\]"):
        parse_catalog(REFERENCE.replace("2. **All five", "Two: **All five"), "legal.md")


def _citation(numbers: tuple[int, ...], name: str = "test_x"):
    from jobs.stages.traceability import Citation

    return Citation("tests/unit/test_x.py", 7, name, numbers)


def test_a_requirement_without_test_reason_or_pending_is_reported_by_number():
    trace = build_trace(parse_catalog(REFERENCE), [_citation((1,))], Untested({2: "組織の義務。"}, {}))
    assert [(r.requirement.number, r.status) for r in trace.rows] == [(1, TESTED), (2, "not_software_checkable"), (3, MISSING)]
    assert len(trace.problems) == 1 and trace.problems[0].startswith("requirement 3 (氏名 is deleted) is software-checkable")
    assert "test_req3_..." in trace.problems[0] and "docs/requirements_untested.yaml" in trace.problems[0]


def test_a_pending_requirement_that_got_a_test_and_a_reason_beside_a_test_are_reported():
    trace = build_trace(parse_catalog(REFERENCE), [_citation((1, 2))], Untested({1: "組織の義務。"}, {2: "作成中", 3: "作成中"}))
    assert [r.status for r in trace.rows] == [TESTED, TESTED, PENDING]
    assert len(trace.problems) == 2
    assert trace.problems[0].startswith("requirement 1 has tests (tests/unit/test_x.py::test_x) but")
    assert trace.problems[0].endswith("is not software-checkable: remove its reason")
    assert trace.problems[1] == ("requirement 2 has tests now (tests/unit/test_x.py::test_x): remove it from pending in "
                                 "docs/requirements_untested.yaml")


def test_a_test_citing_a_requirement_the_reference_lacks_is_refused_naming_file_line_and_test():
    with pytest.raises(InputError, match=r"tests/unit/test_x\.py:7: test_req54_x cites requirement 54.*\(1-3\): rename"):
        build_trace(parse_catalog(REFERENCE), [_citation((54,), "test_req54_x")], Untested({}, {}))


@pytest.mark.parametrize(("data", "words"), [
    ({"not_software_checkable": {4: "x"}}, "not_software_checkable: 4 is not a requirement number (1-3)"),
    ({"pending": {"2": "x"}}, "pending: '2' is not a requirement number"),
    ({"pending": {2: ""}}, "pending.2: give the reason as text"),
    ({"pending": [2]}, "pending: expected a mapping of requirement number to text, got list"),
    ({"not_software_checkable": {2: "x"}, "pending": {2: "y"}}, "requirements [2] are both"),
    ({"untested": {2: "x"}}, "expected a mapping with the keys not_software_checkable, pending, found ['untested']"),
])
def test_a_wrong_reasons_file_is_refused_naming_the_file_and_entry(data, words):
    with pytest.raises(InputError) as err:
        parse_untested(data, "docs/requirements_untested.yaml", frozenset({1, 2, 3}))
    assert str(err.value).startswith("docs/requirements_untested.yaml: ") and words in str(err.value)


def test_folded_japanese_reasons_get_no_space_at_the_line_breaks():
    untested = parse_untested({"not_software_checkable": {1: "組織の義務。 tokumei は 鍵を\n 読まない"}}, "f", frozenset({1}))
    assert untested.reasons == {1: "組織の義務。tokumei は鍵を読まない"}


def test_check_exits_1_on_a_stale_page_and_writes_nothing(reference, tmp_path, capsys):
    out = tmp_path / "requirements.md"
    out.write_text("# 古い対応表\n", encoding="utf-8")
    assert main(["--reference", str(reference), "--out", str(out), "--check"]) == 1
    assert "run make requirements" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "# 古い対応表\n"
