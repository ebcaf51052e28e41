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

# Container images (needs podman or docker; none on the development machine). See knative/README.md
# "Images". `make images PUSH=1` also pushes each image; REGISTRY=dev.local TAG=dev for kind.
ENGINE ?= podman
REGISTRY ?= registry.example.com/cloudforet-nutanix
TAG ?= $(shell sed -n 's/^VERSION = "\(.*\)"/\1/p' functions/plugin/version.py)
PUSH ?=
FUNCTION_DIRS = collect cost alert_ingest notify
PLUGIN_IMAGES = inventory:inven-collector cost:cost-datasource metric:mon-datasource account:account-collector monitoring_webhook:mon-webhook notification:noti-protocol alert_manager_webhook:alert-webhook alert_manager_notification:alert-protocol
images:
	@command -v $(ENGINE) >/dev/null || { echo "make images: no container engine '$(ENGINE)' here (set ENGINE=docker or install podman)" >&2; exit 1; }
	@case "$(TAG)" in ""|latest) echo "make images: TAG must be a version (CloudForet sorts tags as versions), not '$(TAG)'" >&2; exit 1;; esac
	for f in $(FUNCTION_DIRS); do img=$(REGISTRY)/nutanix-$$(echo $$f | tr _ -):$(TAG); \
	  $(ENGINE) build -f Containerfile --target function --build-arg FUNCTION=$$f -t $$img . || exit 1; \
	  $(if $(PUSH),$(ENGINE) push $$img || exit 1;) done
	for p in $(PLUGIN_IMAGES); do img=$(REGISTRY)/plugin-nutanix-$${p#*:}:$(TAG); \
	  $(ENGINE) build -f Containerfile --target plugin --build-arg PLUGIN_FAMILY=$${p%%:*} -t $$img . || exit 1; \
	  $(if $(PUSH),$(ENGINE) push $$img || exit 1;) done

fmt: install
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .
