"""The Delta operations the jobs run as SQL so that they also run under Spark Connect
(jobs/runtime/delta_io.py): the literals they build, the is-it-Delta probe, DELETE and MERGE deletes."""

from __future__ import annotations

from delta.tables import DeltaTable

from jobs.runtime.delta_io import delete_matching, delete_where, is_delta_sql, last_commit, sql_string
from jobs.stages.erase.delete import _table_condition
from jobs.stages.erase.subject import Subject

INSTITUTION = "1312345678"
NODE_PREFIX = f"C\u001f{INSTITUTION}\u001f"


def test_sql_string_reads_back_as_the_same_text(spark):
    values = ["it's", "a\\b", NODE_PREFIX, "山田 太郎", "tab\tand\nnewline", "back`tick", ""]
    row = spark.sql("SELECT " + ", ".join(f"{sql_string(v)} AS c{i}" for i, v in enumerate(values))).first()
    assert list(row) == values


def test_is_delta_sql_answers_as_the_delta_api_does(spark, tmp_path):
    spark.range(2).write.format("delta").save(str(tmp_path / "delta"))
    spark.range(2).write.parquet(str(tmp_path / "parquet"))
    paths = [tmp_path / "delta", tmp_path / "missing", tmp_path / "parquet", tmp_path / "delta" / "_delta_log", tmp_path]
    probed = [is_delta_sql(spark, str(p)) for p in paths]
    assert probed == [True, False, False, False, False]
    assert probed == [DeltaTable.isDeltaTable(spark, str(p)) for p in paths]


def _table(spark, path, rows):
    spark.createDataFrame(rows, "file_sha256 string, institution_code string, node string, n int") \
        .write.format("delta").save(path)


def test_erase_condition_deletes_the_files_and_the_institution_and_nothing_else(spark, tmp_path):
    path = str(tmp_path / "t")
    _table(spark, path, [
        ("aa", "0000000001", f"{NODE_PREFIX}p1", 1),  # erased file
        ("bb", INSTITUTION, "R\u001fx", 2),  # erased institution
        ("cc", "0000000001", f"{NODE_PREFIX}p2", 3),  # a clinical node of the institution
        ("cc", "0000000001", f"C\u001f{INSTITUTION}9\u001fp3", 4),  # another institution whose code starts alike
        ("it's", None, None, 5),
        ("dd", "0000000001", "山田", 6),
    ])
    subject = Subject("institution", "医療機関", "digest", file_shas=("aa", "it's"), institution=INSTITUTION)
    cond = _table_condition(subject, ["file_sha256", "institution_code", "patient_id", "node"])
    assert cond is not None
    delete_where(spark, path, cond)
    left = sorted(r["n"] for r in spark.read.format("delta").load(path).collect())
    assert left == [4, 6]
    assert int(last_commit(spark, path)["metrics"]["numDeletedRows"]) == 4


def test_no_condition_for_a_table_without_the_subjects_columns():
    subject = Subject("file", "ファイル", "digest", file_shas=("aa",), institution=INSTITUTION)
    assert _table_condition(subject, ["receipt_key", "n"]) is None


def test_delete_matching_deletes_the_rows_of_the_keys(spark, tmp_path):
    path = str(tmp_path / "t")
    _table(spark, path, [("aa", "1", "x", 1), ("aa", "2", "x", 2), ("bb", "1", None, 3), ("cc", None, "山田", 4)])
    keys = spark.createDataFrame([("aa", "1"), ("bb", "1"), ("zz", "9")], "file_sha256 string, institution_code string")
    delete_matching(spark, path, keys, ["file_sha256", "institution_code"])
    assert sorted(r["n"] for r in spark.read.format("delta").load(path).collect()) == [2, 4]
    commit = last_commit(spark, path)
    assert (commit["operation"], commit["metrics"]["numTargetRowsDeleted"]) == ("MERGE", "2")
    assert not [t for t in spark.catalog.listTables() if t.isTemporary]  # the MERGE's source view is gone
