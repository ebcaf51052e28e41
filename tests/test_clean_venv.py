"""Every function and endpoint starts from a clean virtualenv holding only requirements.txt.

No container engine exists on the development machine, so instead of building
images this proves what an image needs: a fresh venv (no system site
packages) with `pip install -r requirements.txt` and nothing else, from which
each function answers a real CloudEvent and each plugin family serves its
services by reflection.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import grpc
import pytest
import requests
from cloudevents.conversion import to_binary
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from functions.plugin.server import FAMILIES
from shared import events
from tests.processes import ROOT, start_function, start_plugin

VERIFY = {"collect": events.COLLECT_VERIFY, "cost": events.COST_VERIFY,
          "alert_ingest": events.ALERT_VERIFY, "notify": events.NOTIFY_VERIFY}
TEST_ONLY = {"pytest", "moto", "hypothesis", "aiosmtpd", "trustme", "ruff",
             "kubernetes-validate"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory) -> str:
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "-r", str(ROOT / "requirements.txt")],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail("pip could not install requirements.txt into a clean venv (is the "
                    f"package registry reachable?):\n{done.stderr[-2000:]}")
    return python


def test_the_clean_venv_holds_no_test_only_package(runtime_python):
    frozen = subprocess.run([runtime_python, "-m", "pip", "freeze"], capture_output=True,
                            text=True, check=True).stdout.lower()
    names = {line.split("==")[0].strip() for line in frozen.splitlines()}
    assert not names & TEST_ONLY


@pytest.mark.parametrize("function", sorted(VERIFY))
def test_each_function_answers_a_cloudevent(function, runtime_python, tmp_path):
    proc = start_function(function, {"NTNX_STATE_URL": f"file://{tmp_path / 'state'}"},
                          log_dir=tmp_path, python=runtime_python, timeout_s=60)
    try:
        assert requests.get(proc.url + "/healthz", timeout=10).status_code == 200
        event = events.new_event(VERIFY[function], {"options": {}, "secret_data": {}},
                                 source="/tests/clean-venv")
        headers, body = to_binary(event, data_marshaller=events.encode)
        answer = requests.post(proc.url, data=body, headers=headers, timeout=60)
        assert answer.status_code < 500, proc.log_text()[-2000:]
        assert answer.headers.get("ce-type") in (events.reply_type(VERIFY[function]),
                                                 events.ERROR)
    finally:
        proc.stop()


def _served(name: str) -> bool:
    return importlib.util.find_spec(FAMILIES[name]) is not None


@pytest.mark.parametrize("family", sorted(name for name in FAMILIES if _served(name)))
def test_each_plugin_family_serves_by_reflection(family, runtime_python, tmp_path):
    proc = start_plugin(family, log_dir=tmp_path, python=runtime_python, timeout_s=60)
    try:
        with grpc.insecure_channel(proc.url) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            answer = next(stub.ServerReflectionInfo(iter([
                reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in answer.list_services_response.service}
        assert "grpc.health.v1.Health" in names
        assert any(n.startswith("spaceone.api.") and ".plugin." in n for n in names), names
    finally:
        proc.stop()


def test_the_clean_venv_cannot_import_test_tools(runtime_python):
    """The functions above really ran without the dev dependencies."""
    for module in ("pytest", "moto", "hypothesis"):
        done = subprocess.run([runtime_python, "-c", f"import {module}"], capture_output=True)
        assert done.returncode != 0, module
