# One line per target. `make install` builds .venv from the requirement files.
PY ?= .venv/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: install run test bench bench-client bench-ratelimit bench-collect bench-cost bench-alerts bench-notify bench-metrics lint fmt images

install: .venv/.installed
.venv/.installed: requirements.txt requirements-dev.txt
	python3 -m venv .venv && .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -r requirements-dev.txt && touch $@

run: install
	$(PY) -m tests.demo

test: install
	$(PY) -m pytest

bench: bench-client bench-ratelimit bench-collect bench-cost bench-alerts bench-notify bench-metrics

bench-client: install
	$(PY) -m tests.bench.bench_client

bench-ratelimit: install
	$(PY) -m tests.bench.bench_ratelimit

bench-collect: install
	$(PY) -m tests.bench.bench_collect

bench-cost: install
	$(PY) -m tests.bench.bench_cost

bench-alerts: install
	$(PY) -m tests.bench.bench_alerts

bench-notify: install
	$(PY) -m tests.bench.bench_notify

bench-metrics: install
	$(PY) -m tests.bench.bench_metrics

lint: install
	$(PY) -m ruff check .

fmt: install
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .
