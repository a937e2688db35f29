"""Rules of the codebase that a reviewer would otherwise check by eye (DESIGN.md, STYLE.md).

- transforms/ is vectorized: Spark built-ins only, no Python UDFs or RDD/pandas escapes (issue 4).
- transforms/ and expectations/ never import job code and never create a SparkSession.
- jobs/runtime/session.py is the only place a SparkSession is built (issue 2 item 2).
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_TRANSFORMS = {
    "udf": r"\budf\b|pandas_udf|@F\.udf|functions\.udf",
    "rdd": r"\.rdd\b|sparkContext|\._jvm\b|\._jdf\b",
    "pandas escape": r"mapInPandas|applyInPandas|mapInArrow|\.toPandas\(",
    "session builder": r"SparkSession\.builder|getOrCreate\(",
}


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _code(path: Path) -> str:
    """The source without comments and docstrings (they may name what they avoid)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.Pass()
    return ast.unparse(tree)


@pytest.mark.parametrize("rule", sorted(FORBIDDEN_IN_TRANSFORMS))
def test_transforms_use_spark_builtins_only(rule):
    pattern = re.compile(FORBIDDEN_IN_TRANSFORMS[rule])
    hits = [f"{p.relative_to(ROOT)}" for p in _sources("transforms") if pattern.search(_code(p))]
    assert not hits, f"{rule} in {hits}"


@pytest.mark.parametrize("package", ["transforms", "expectations"])
def test_pure_packages_import_no_job_code(package):
    hits = []
    for p in _sources(package):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            hits += [f"{p.relative_to(ROOT)}: {n}" for n in names if n == "jobs" or n.startswith("jobs.")]
    assert not hits


def test_only_jobs_session_builds_a_spark_session():
    builders = [str(p.relative_to(ROOT)) for pkg in ("jobs", "transforms", "expectations", "bench")
                for p in _sources(pkg) if "SparkSession.builder" in _code(p)]
    assert builders == ["jobs/runtime/session.py"]


def test_the_rule_scanner_would_catch_a_udf(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Never uses udf."""\nfrom pyspark.sql.functions import udf\nf = udf(lambda x: x)\n', encoding="utf-8")
    assert re.search(FORBIDDEN_IN_TRANSFORMS["udf"], _code(bad))
    ok = tmp_path / "ok.py"
    ok.write_text('"""Never uses udf."""\nx = 1  # no udf here\n', encoding="utf-8")
    assert not re.search(FORBIDDEN_IN_TRANSFORMS["udf"], _code(ok))
