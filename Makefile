# tokumei — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Demo data and warehouse live under build/ (ignored by git).
DEMO_DIR      ?= build/demo
DEMO_PATIENTS ?= 2000
DEMO_MONTHS   ?= 3
DEMO_RID      ?= demo-$(shell date +%Y%m%d-%H%M%S)
BENCH_PATIENTS ?= 20000
BENCH_MONTHS   ?= 12
# make bench-shapes: issue 18's reference shapes; long (generate takes minutes, ingest of 10M lines about 4 min)
SHAPES_DIR      ?= build/bench-shapes
SHAPES_PATIENTS ?= 50000
SHAPES_MONTHS   ?= 6
SHAPES_BIG_LINES ?= 10000000
SHAPES_BIG_FILES ?= 4
# make bench-scaling: the same ingest at 1x, 4x, 16x the data (4 x s files of SCALING_LINES_PER_FILE lines); about 25 min
SCALING_DIR     ?= build/bench-scaling
SCALING_SCALES  ?= 1,4,16
SCALING_LINES_PER_FILE ?= 250000

export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(BIN))/python

.PHONY: demo requirements test test-fast test-unit test-spark test-e2e test-perf bench bench-shapes bench-scaling lint dist check-java venv clean \
        airflow-venv airflow-test print-airflow-venv

check-java:
	@./.ci/check-java

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; tokumei needs Python 3.11 or later (set PYTHON=...)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null
	$(BIN)/pip install -e ".[local,dev]"
	@touch $(STAMP)

venv: $(STAMP)

demo: check-java $(STAMP)
	@# The demo key is a throwaway value for synthetic data only; real keys come from a secret provider.
	@TOKUMEI_KEY_DEMO=$${TOKUMEI_KEY_DEMO:-demo-only-not-a-secret-synthetic-data-only} $(BIN)/python -m jobs.demo \
	    --dir $(DEMO_DIR) --patients $(DEMO_PATIENTS) --months $(DEMO_MONTHS) --release-id $(DEMO_RID)

# Tests in tiers (tests/<tier>/, marked by folder; tests/conftest.py): unit = no Spark at all, spark = tiny
# literal DataFrames on one session, e2e = whole stages and commands, perf = the benchmark harness.
# `make test` runs every tier (CI); test-fast is unit + spark: no whole-pipeline fixture.
# `make test` runs two pytest processes side by side, each with its own test session, each module's session
# fixtures in one of them only. SIDE_TESTS: the real-engine tests (`uke_run` and what is compared with it: the
# DAG under Airflow on a standalone cluster, Spark Connect), whose spark-submits, servers and Airflow leave a
# third of the two cores idle, and the claim kinds' own modules (the `claim_kinds` fixture: all four kinds
# generated and ingested; the hand-written 歯科, 調剤 and DPC files), which bring the two processes to about the
# same length (bench/results/ci_times.md); their output is printed when both end. The other process runs every other test, in tier order. (pytest-xdist's loadgroup
# would do this, but its groups do not reach pytest 9's node ids: every test was scheduled alone.)
SIDE_TESTS := tests/e2e/test_airflow.py tests/e2e/test_spark_connect.py tests/e2e/test_run.py \
              tests/e2e/test_generate_dental.py tests/e2e/test_generate_dpc.py tests/e2e/test_generate_pharmacy.py \
              tests/e2e/test_ingest_dental.py tests/e2e/test_ingest_dpc.py tests/e2e/test_ingest_pharmacy.py
SIDE_LOG   ?= build/test-side.log
test: check-java $(STAMP) $(AIRFLOW_STAMP)
	@mkdir -p $(dir $(SIDE_LOG))
	@echo "make test: $(SIDE_TESTS) in a second pytest process; its output follows the tiers' (and is in $(SIDE_LOG))"
	@$(BIN)/python -m pytest $(SIDE_TESTS) > $(SIDE_LOG) 2>&1 & side=$$!; \
	$(BIN)/python -m pytest $(addprefix --ignore=,$(SIDE_TESTS)); tiers=$$?; \
	wait $$side; rc=$$?; echo "---- $(SIDE_TESTS) ----"; cat $(SIDE_LOG); \
	echo "make test: tiers exited $$tiers, side process exited $$rc"; [ $$tiers -eq 0 ] && [ $$rc -eq 0 ]

test-fast: check-java $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/spark

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-spark: check-java $(STAMP)
	$(BIN)/python -m pytest tests/spark

test-e2e: check-java $(STAMP) $(AIRFLOW_STAMP)
	$(BIN)/python -m pytest tests/e2e

test-perf: check-java $(STAMP)
	$(BIN)/python -m pytest tests/perf

# Airflow 3 in its own venv (its Spark provider's pyspark-client would shadow the real pyspark in .venv),
# one per content of the pinned files, so a second run (and CI on the same machine) reuses it; nothing
# but the files' content decides whether to install (a fresh clone's newer mtimes do not).
AIRFLOW_PINS  := .ci/airflow-requirements.txt .ci/airflow-constraints.txt
AIRFLOW_VENV  ?= $(HOME)/.cache/tokumei/airflow-$(shell cat $(AIRFLOW_PINS) | sha256sum | cut -c1-12)
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

$(AIRFLOW_STAMP):
	rm -rf $(AIRFLOW_VENV)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --upgrade pip >/dev/null
	$(AIRFLOW_VENV)/bin/pip install -r .ci/airflow-requirements.txt -c .ci/airflow-constraints.txt
	@touch $(AIRFLOW_STAMP)

airflow-venv: $(AIRFLOW_STAMP)

print-airflow-venv:
	@echo $(AIRFLOW_VENV)

# dags/tokumei_release.py under `airflow dags test` (tests/e2e/test_airflow.py, also part of `make test`): one
# release published on a standalone cluster from the zip (the local `uke_run` release), one stopped by
# validation before publish (local[2]). The tests find the venv as this Makefile names it (or $$TOKUMEI_AIRFLOW).
airflow-test: check-java $(STAMP) $(AIRFLOW_STAMP)
	$(BIN)/python -m pytest tests/e2e/test_airflow.py

bench: check-java $(STAMP)
	@TOKUMEI_KEY_DEMO=$${TOKUMEI_KEY_DEMO:-bench-only-not-a-secret-synthetic-data-only} $(BIN)/python -m bench.run --patients $(BENCH_PATIENTS) --months $(BENCH_MONTHS)

# Ingest against the plain script (1 and N processes) and a text-to-Delta copy, on many small files
# (generate) and on a few large ones (the real fixture repeated): bench/ingest_shapes.py.
bench-shapes: check-java $(STAMP)
	@TOKUMEI_KEY_DEMO=$${TOKUMEI_KEY_DEMO:-bench-only-not-a-secret-synthetic-data-only} $(BIN)/python -m bench.ingest_shapes \
	    --dir $(SHAPES_DIR) --small-patients $(SHAPES_PATIENTS) --small-months $(SHAPES_MONTHS) \
	    --big-lines $(SHAPES_BIG_LINES) --big-files $(SHAPES_BIG_FILES)

bench-scaling: check-java $(STAMP)
	@TOKUMEI_KEY_DEMO=$${TOKUMEI_KEY_DEMO:-bench-only-not-a-secret-synthetic-data-only} $(BIN)/python -m bench.ingest_shapes \
	    --dir $(SCALING_DIR) --scales $(SCALING_SCALES) --scale-lines-per-file $(SCALING_LINES_PER_FILE)

# docs/requirements.md: each requirement of ../shared/reference/legal_requirements.md with the tests that
# cite it by name (test_reqNN_...) or the reason in docs/requirements_untested.yaml; no Spark.
requirements: $(STAMP)
	$(BIN)/python -m jobs.requirements

lint: $(STAMP)
	$(BIN)/ruff check jobs transforms expectations synth tools tests bench
	$(BIN)/mypy

# The wheel (pip, Databricks), the zip for spark-submit --py-files and its launcher dist/tokumei_submit.py.
# Both hold one top-level package, tokumei (tokumei.jobs, tokumei.transforms, ...): tools/relocate.py.
# `pip wheel .` builds the same wheel (pyproject's build backend is tools/build_backend.py).
dist: $(STAMP)
	rm -rf dist && $(BIN)/python -m tools.dist --out dist

clean:
	rm -rf build dist spark-warehouse metastore_db
