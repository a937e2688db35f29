"""The Delta operations the jobs run as SQL so that they also run under Spark Connect
(jobs/runtime/delta_io.py): the literals they build, the is-it-Delta probe, DELETE and MERGE deletes."""

from __future__ import annotations

from delta.tables import DeltaTable

from jobs.runtime.delta_io import (
    delete_matching,
    delete_where,
    is_delta_sql,
    last_commit,
    local_log_version,
    recent_commits,
    sql_string,
    table_version,
)
from jobs.stages.erase.delete import _table_condition
from jobs.stages.erase.subject import Subject
from transforms.local import local_frame

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


def test_the_version_from_the_log_files_is_the_historys_after_writes_deletes_and_a_checkpoint(spark, tmp_path):
    path = str(tmp_path / "t")
    spark.range(3).write.format("delta").save(path)
    assert local_log_version(path) == last_commit(spark, path)["version"] == 0
    for n in range(1, 11):  # past the default checkpoint interval of 10
        spark.range(n).write.format("delta").mode("append").save(path)
    delete_where(spark, path, "id = 0")
    assert list((tmp_path / "t" / "_delta_log").glob("*.checkpoint.parquet"))
    assert local_log_version(path) == table_version(spark, path) == last_commit(spark, path)["version"] == 11
    assert [c["version"] for c in recent_commits(spark, path, 2)] == [11, 10]
    assert [c["operation"] for c in recent_commits(spark, path, 2)] == ["DELETE", "WRITE"]


def test_commits_read_from_the_log_files_are_the_ones_delta_history_gives(spark, tmp_path):
    path = str(tmp_path / "t")
    _table(spark, path, [("aa", INSTITUTION, "x", 1), ("bb", INSTITUTION, "y", 2), ("cc", "0000000001", "z", 3)])
    local_frame(spark, [("dd", INSTITUTION, "w", 4)], "file_sha256 string, institution_code string, node string, n int") \
        .write.format("delta").mode("overwrite").option("replaceWhere", "file_sha256 IN ('aa', 'dd')").save(path)
    delete_where(spark, path, "n = 2")
    delete_matching(spark, path, local_frame(spark, [("cc",)], "file_sha256 string"), ["file_sha256"])
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('tokumei.legal_class' = 'anonymized')")
    local = recent_commits(spark, path, 10)
    assert [c["version"] for c in local] == [4, 3, 2, 1, 0]
    assert local[3]["operation"] == "WRITE" and local[3]["metrics"]["numOutputRows"] == "1"
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("version", "operation", "operationMetrics").collect()
    assert [{"version": r[0], "operation": r[1], "metrics": dict(r[2])} for r in history] == local
    assert last_commit(spark, path) == local[0] == recent_commits(spark, f"file://{path}", 1)[0]


def test_no_version_from_files_where_only_delta_knows_it(spark, tmp_path):
    path = tmp_path / "t"
    spark.range(1).write.format("delta").save(str(path))
    assert local_log_version(str(path)) == 0
    # a remote URI, a relative path, no table: Delta's history answers (or nothing does)
    assert local_log_version(f"file:{path}") == local_log_version(f"file://{path}") == 0  # a local URI is read too
    assert local_log_version("s3://bucket/t") is None and local_log_version("dbfs:/t") is None
    assert local_log_version("t") is None and local_log_version(str(tmp_path / "missing")) is None
    # a commit a catalog holds, not yet in the log: the file names would be behind
    (path / "_delta_log" / "_staged_commits").mkdir(exist_ok=True)
    (path / "_delta_log" / "_staged_commits" / "00000000000000000001.3f2a.json").write_text("{}")
    assert local_log_version(str(path)) is None
    assert table_version(spark, str(path)) == 0  # from DESCRIBE HISTORY


def _table(spark, path, rows):
    local_frame(spark, rows, "file_sha256 string, institution_code string, node string, n int") \
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
    keys = local_frame(spark, [("aa", "1"), ("bb", "1"), ("zz", "9")], "file_sha256 string, institution_code string")
    delete_matching(spark, path, keys, ["file_sha256", "institution_code"])
    assert sorted(r["n"] for r in spark.read.format("delta").load(path).collect()) == [2, 4]
    commit = last_commit(spark, path)
    assert (commit["operation"], commit["metrics"]["numTargetRowsDeleted"]) == ("MERGE", "2")
    assert not [t for t in spark.catalog.listTables() if t.isTemporary]  # the MERGE's source view is gone
