"""Every function and endpoint starts from a clean virtualenv holding only requirements.txt.

No container engine exists on the development machine, so instead of building
images this proves what an image needs: a fresh venv (no system site
packages) with `pip install -r requirements.txt` and nothing else, from which
each function answers a real CloudEvent with its own error reply (so the whole
import chain ran) and each plugin family serves its services by reflection.
The twelve processes start at once; a start failure is reported by its test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import requests
from cloudevents.conversion import to_binary
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from spaceone.api.core.v1 import server_info_pb2_grpc

from functions.plugin.server import FAMILIES
from functions.plugin.version import VERSION
from shared import events
from tests.processes import FUNCTIONS, ROOT, Proc, start_function, start_plugin

pytestmark = pytest.mark.slow

# A verify event each function refuses in its handler, not in the envelope schema:
# the reply proves the function's own modules imported and ran.
VERIFY = {
    "collect": (events.COLLECT_VERIFY, {"options": {}, "secret_data": {}}),
    "cost": (events.COST_VERIFY, {"options": {}, "secret_data": {}}),
    "alert_ingest": (events.ALERT_VERIFY, {"options": {"prism_url": "not a url"},
                                           "secret_data": {}}),
    "notify": (events.NOTIFY_VERIFY, {"options": {"channel": "email"}, "secret_data": {}}),
}
COMMON_SERVICES = {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                   "spaceone.api.core.v1.ServerInfo"}
_BOUND = {  # what CloudForet binds by short name, per family: (API package, services)
    "inventory": ("inventory", {"Collector", "Job"}),
    "cost": ("cost_analysis", {"Cost", "DataSource", "Job"}),
    "metric": ("monitoring", {"DataSource", "Metric"}),
    "account": ("identity", {"AccountCollector"}),
    "monitoring_webhook": ("monitoring", {"Event", "Webhook"}),
    "alert_manager_webhook": ("alert_manager", {"Event", "Webhook"}),
    "notification": ("notification", {"Notification", "Protocol"}),
    "alert_manager_notification": ("alert_manager", {"Notification", "Protocol"}),
}
SERVICES = {family: {f"spaceone.api.{package}.plugin.{name}" for name in names}
            for family, (package, names) in _BOUND.items()}
# Always test-only, whatever requirements-dev.txt says (the list).
TEST_ONLY = {"pytest", "moto", "hypothesis", "aiosmtpd", "trustme", "ruff",
             "kubernetes-validate", "jsonschema"}
PIP_TIMEOUT_S = 240  # pytest-timeout (300 s) covers this fixture too


def _names(requirements: str) -> set[str]:
    """Distribution names pinned in a requirements file (no -r, extras dropped)."""
    names = set()
    for line in (ROOT / requirements).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_normal(re.split(r"[\[=<>!~;\s]", line, maxsplit=1)[0]))
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


DEV_ONLY = {*TEST_ONLY, *(_names("requirements-dev.txt") - _names("requirements.txt"))}
# Run inside the clean venv: every installed distribution -> the names it requires.
_REQUIRES = """
import json, re
from importlib.metadata import distributions
print(json.dumps({d.metadata["Name"]: [re.split(r"[\\[=<>!~;( ]", r, maxsplit=1)[0]
                  for r in (d.requires or []) if "extra ==" not in r]
                  for d in distributions()}))
"""


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory) -> str:
    """A venv with requirements.txt only; pip's cache makes it quick after `make install`."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    try:
        done = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "-r", str(ROOT / "requirements.txt")],
                              capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip install -r requirements.txt took over {PIP_TIMEOUT_S}s: is the "
                    "package registry reachable from here? (CI needs it)")
    if done.returncode != 0:
        pytest.fail("pip could not install requirements.txt into a clean venv: is the package "
                    f"registry reachable from here? (CI needs it)\n{done.stderr[-2000:]}")
    return python


@pytest.fixture(scope="module")
def running(runtime_python, tmp_path_factory) -> dict[str, Proc | Exception]:
    """Every function and family from the clean venv, started in parallel."""
    logs = tmp_path_factory.mktemp("logs")
    state = f"file://{tmp_path_factory.mktemp('state')}"
    starts = {
        **{fn: lambda fn=fn: start_function(fn, {"NTNX_STATE_URL": state}, log_dir=logs,
                                            python=runtime_python, timeout_s=60)
           for fn in FUNCTIONS},
        **{f"plugin-{fam}": lambda fam=fam: start_plugin(fam, {"NTNX_STATE_URL": state},
                                                         log_dir=logs, python=runtime_python,
                                                         timeout_s=60)
           for fam in FAMILIES},
    }
    with ThreadPoolExecutor(len(starts)) as pool:
        futures = {name: pool.submit(start) for name, start in starts.items()}
    procs = {name: future.exception() or future.result() for name, future in futures.items()}
    yield procs
    started = [proc for proc in procs.values() if isinstance(proc, Proc)]
    for proc in started:  # all at once: the plugins take a grace period each
        proc.process.terminate()
    for proc in started:
        proc.stop()


def _proc(running: dict, name: str) -> Proc:
    proc = running[name]
    if isinstance(proc, Exception):
        pytest.fail(f"{name} did not start from the clean venv: {proc}")
    return proc


def test_the_clean_venv_holds_no_test_only_package(runtime_python):
    frozen = subprocess.run([runtime_python, "-m", "pip", "freeze"], capture_output=True,
                            text=True, check=True).stdout
    installed = {_normal(line.split("==")[0]) for line in frozen.splitlines() if "==" in line}
    assert _names("requirements.txt") <= installed, "pip freeze is missing runtime packages"
    requires = json.loads(subprocess.run([runtime_python, "-c", _REQUIRES], capture_output=True,
                                         text=True, check=True).stdout)
    pulled = {_normal(dep) for name, deps in requires.items() if _normal(name) not in DEV_ONLY
              for dep in deps}
    assert installed & DEV_ONLY - pulled == set(), "a test-only package is in the runtime venv"


def test_the_clean_venv_cannot_import_test_tools(runtime_python):
    """The checks below really ran without the dev dependencies."""
    for module in ("pytest", "moto", "hypothesis", "jsonschema"):
        done = subprocess.run([runtime_python, "-c", f"import {module}"], capture_output=True)
        assert done.returncode != 0, module


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_refuses_an_empty_verify_with_its_own_error(function, running):
    proc = _proc(running, function)
    assert requests.get(proc.url + "/healthz", timeout=10).status_code == 200
    event_type, data = VERIFY[function]
    event = events.new_event(event_type, data, source="/tests/clean-venv")
    headers, body = to_binary(event, data_marshaller=events.encode)
    answer = requests.post(proc.url, data=body, headers=headers, timeout=60)
    assert answer.status_code == 200, proc.log_text()[-2000:]
    assert answer.headers.get("ce-type") == events.ERROR, answer.text
    reply = answer.json()
    assert reply["code"] == "INVALID_ARGUMENT" and reply["retryable"] is False, reply
    assert not reply["message"].startswith("invalid " + event_type), "refused by the envelope"


@pytest.mark.parametrize("family", FAMILIES)
def test_each_plugin_family_serves_by_reflection(family, running):
    proc = _proc(running, f"plugin-{family}")
    with grpc.insecure_channel(proc.url) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answer = next(stub.ServerReflectionInfo(iter([
            reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10)
        version = server_info_pb2_grpc.ServerInfoStub(channel).get_version(
            empty_pb2.Empty(), timeout=10)
    names = {s.name for s in answer.list_services_response.service}
    assert names == COMMON_SERVICES | SERVICES[family]
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert version.version == VERSION
