# lims: developer entry points. Needs only GNU make and Python >= 3.11 (`python3`).
#
#   make run     venv + install + migrate + serve on http://127.0.0.1:8000 (docs at /docs)
#   make test    venv + install '.[dev]' + pytest -n 2   (extra args: PYTEST_ARGS="-k custody")
#   make test-reliability  the reliability suite alone (real servers on PostgreSQL, kills,
#                a database outage, hostile input, access control, backup): a few minutes
#   make lint    ruff check (lims, tests, migrations, bench), mypy lims
#   make demo    migrate, then load the demo data set
#   make bench   production-shaped benchmark: PostgreSQL, `lims serve --workers 2`, wrk,
#                pgbench baselines, 1,000,000 samples (~10 min; args: BENCH_ARGS=...)
#   make bench-smoke  the same with tiny data (a minute or two; CI)
#   make mutation  mutmut 3 on lims/domain against tests/domain ([tool.mutmut] in pyproject;
#                results in mutants/, read with .venv/bin/mutmut results / show NAME;
#                args: MUTMUT_ARGS="lims.domain.clock*" for a subset). Slow: 20-30 min.
#   make clean   remove .venv, build output and caches (keeps var/, the local database)
#
# The venv is (re)installed only when pyproject.toml is newer than the stamp file in .venv.
# Settings come from LIMS_* environment variables (or .env); the default database is
# SQLite at ./var/lims.db.

PY ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
PYTEST_ARGS ?=
BENCH_ARGS ?=
MUTMUT_ARGS ?=

BIN := $(VENV)/bin
PYTHON := $(BIN)/python
PIP := $(PYTHON) -m pip -q --disable-pip-version-check
STAMP_RUN := $(VENV)/.stamp-install
STAMP_DEV := $(VENV)/.stamp-install-dev

.DEFAULT_GOAL := help
.PHONY: help run test test-reliability lint demo bench bench-smoke bench-inprocess bench-tools mutation clean install install-dev

help:
	@echo "targets: run test test-reliability lint demo bench bench-smoke mutation clean   (PY=$(PY), venv in $(VENV))"

$(PYTHON):
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "lims needs Python >= 3.11; '$(PY)' is older (try: make PY=python3.11 ...)" >&2; exit 1; }
	@echo "creating $(VENV) with $(PY)"
	$(PY) -m venv $(VENV) || \
	  { echo "python -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }

$(STAMP_RUN): pyproject.toml | $(PYTHON)
	@echo "installing lims into $(VENV)"
	$(PIP) install -e .
	@touch $@

$(STAMP_DEV): pyproject.toml | $(PYTHON)
	@echo "installing lims[dev] into $(VENV)"
	$(PIP) install -e '.[dev]'
	@touch $@

install: $(STAMP_RUN)

install-dev: $(STAMP_DEV)

run: $(STAMP_RUN)
	$(BIN)/lims db upgrade
	$(BIN)/lims serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(STAMP_DEV)
	$(PYTHON) -m pytest -n 2 $(PYTEST_ARGS)

test-reliability: $(STAMP_DEV)
	LIMS_RELIABILITY=1 $(PYTHON) -m pytest -p no:xdist -p no:randomly tests/reliability $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check lims tests migrations bench
	$(BIN)/mypy lims

demo: $(STAMP_RUN)
	$(BIN)/lims db upgrade
	$(BIN)/lims demo

# wrk and pgbench come from Debian; installed here when missing (needs root).
bench-tools:
	@command -v wrk >/dev/null && command -v pgbench >/dev/null || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	    apt-get install -y -q wrk postgresql-client >/dev/null; } || \
	  { echo "bench needs wrk and pgbench: apt-get install wrk postgresql-client" >&2; exit 1; }

bench: $(STAMP_DEV) bench-tools
	$(PYTHON) bench/production.py $(BENCH_ARGS)

bench-smoke: $(STAMP_DEV) bench-tools
	$(PYTHON) bench/production.py --smoke $(BENCH_ARGS)

bench-inprocess: $(STAMP_DEV)
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# mutmut is not a dev extra (only this target needs it): installed here on first use.
mutation: $(STAMP_DEV)
	@test -x $(BIN)/mutmut || $(PIP) install 'mutmut>=3.8,<4'
	nice -n 15 $(BIN)/mutmut run --max-children $${MUTMUT_CHILDREN:-1} $(MUTMUT_ARGS); \
	  $(BIN)/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache mutants
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
