"""adapter.handle and invoke() against a real functions-framework process.

The echo function (tests/functions_echo/main.py) is served exactly like the
real four; `options.mode` picks what its `run` does. The store is a local
folder, or S3 on a real moto server for the claim-check through S3.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cloudevents.conversion import to_binary, to_structured

from shared import events
from shared.errors import (
    BadResponse,
    DeliveryFailed,
    InvalidInput,
    NotFound,
    PluginError,
    RateLimited,
    Unavailable,
)
from shared.invoke import invoke, shared_session
from shared.state import open_store
from shared.state.local import LocalStore
from tests.processes import ROOT, base_env, free_port
from tests.test_state import BUCKET, CREDENTIALS, start_moto

PASSWORD = "Nutanix/4u-s3cr3t"
SECRET = {"host": "pc.example.com", "username": "admin", "password": PASSWORD}
LIMIT = 2048
TIMEOUT = 30


@dataclass
class Echo:
    url: str
    log: Path
    process: subprocess.Popen

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()
                if line.startswith("{")]


def start_echo(env: dict, log: Path) -> Echo:
    port = free_port()
    args = [sys.executable, "-m", "functions_framework", "--target", "main",
            "--source", str(ROOT / "tests" / "functions_echo" / "main.py"),
            "--host", "127.0.0.1", "--port", str(port)]
    out = log.open("wb")
    process = subprocess.Popen(args, cwd=ROOT, env=base_env(env), stdout=out,
                               stderr=subprocess.STDOUT)
    out.close()
    echo = Echo(f"http://127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"echo exited early:\n{log.read_text()[-2000:]}")
        try:
            requests.get(echo.url + "/healthz", timeout=1)
            return echo
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("echo did not answer")


def stop(process: subprocess.Popen) -> None:
    shared_session().close()  # idle keep-alive connections would hold gunicorn's shutdown
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def echo(state_dir, tmp_path_factory):
    env = {"NTNX_STATE_URL": state_dir.as_uri(), "NTNX_REPLY_LIMIT_BYTES": str(LIMIT)}
    proc = start_echo(env, tmp_path_factory.mktemp("logs") / "echo.log")
    yield proc
    stop(proc.process)


@pytest.fixture(scope="module")
def store(state_dir) -> LocalStore:
    return LocalStore(state_dir)


def event(mode: str = "echo", event_type: str = events.COLLECT_VERIFY, **options):
    data = {"options": {"mode": mode, **options}, "secret_data": SECRET}
    if event_type == events.COLLECT:
        data["task"] = {"kind": "vms", "pages": [0, 3]}
    return events.new_event(event_type, data, source=events.source_for("plugin"))


def post(url: str, ev) -> requests.Response:
    headers, body = to_binary(ev, data_marshaller=events.encode)
    return requests.post(url, data=body, headers=headers, timeout=TIMEOUT)


def test_reply_carries_the_result(echo, store):
    ev = event(payload={"hello": "world"})
    reply = invoke(echo.url, ev, timeout_s=TIMEOUT, store=store)
    assert reply == {"type": events.COLLECT_VERIFY, "event_id": ev["id"],
                     "source": "/cloudforet/nutanix/plugin", "payload": {"hello": "world"},
                     "boto3_loaded": False}
    raw = post(echo.url, event())
    assert raw.status_code == 200
    assert raw.headers["Content-Type"] == "application/json"
    assert raw.headers["ce-type"] == "io.cloudforet.nutanix.collect.verify.result.v1"
    assert raw.headers["ce-source"] == "/cloudforet/nutanix/collect"


def test_structured_mode_requests_are_served_too(echo):
    headers, body = to_structured(event(payload=1))
    raw = requests.post(echo.url, data=body, headers=headers, timeout=TIMEOUT)
    assert raw.status_code == 200
    assert json.loads(raw.content)["payload"] == 1


def test_large_reply_comes_back_identical_through_the_local_store(echo, store):
    payload = [{"name": f"vm-{i}", "note": "ü" * 10} for i in range(200)]
    ev = event(payload=payload)
    assert invoke(echo.url, ev, timeout_s=TIMEOUT, store=store)["payload"] == payload
    raw = post(echo.url, ev)
    assert raw.status_code == 200
    assert raw.content == b""
    assert raw.headers["ce-dataref"].startswith(store.url("") + "replies/")
    assert int(raw.headers["ce-datasize"]) > LIMIT
    key = store.key_for(raw.headers["ce-dataref"])
    assert key.endswith(f"/{ev['id']}.json")
    assert json.loads(store.get(key))["payload"] == payload


def test_no_result_is_202_with_an_empty_body(echo):
    assert invoke(echo.url, event("none"), timeout_s=TIMEOUT) is None
    raw = post(echo.url, event("none"))
    assert (raw.status_code, raw.content) == (202, b"")


def test_invalid_input_is_an_error_reply_not_retried(echo):
    with pytest.raises(InvalidInput) as info:
        invoke(echo.url, event("invalid"), timeout_s=TIMEOUT)
    assert not info.value.retryable
    assert "options.mode: is not served; options.x: nope" in str(info.value)
    raw = post(echo.url, event("invalid"))
    assert raw.status_code == 200
    assert raw.headers["ce-type"] == events.ERROR


def test_schema_problems_are_listed_in_the_error_reply(echo):
    bad = events.new_event(events.COLLECT, {"options": {}, "task": {"pages": "0-3"}},
                           source="/cloudforet/nutanix/plugin")
    with pytest.raises(InvalidInput) as info:
        invoke(echo.url, bad, timeout_s=TIMEOUT)
    for problem in ("secret_data: is required", "task.kind: is required",
                    "task.pages: must be array"):
        assert problem in str(info.value)


def test_retryable_error_is_503_and_comes_back_retryable(echo):
    with pytest.raises(Unavailable) as info:
        invoke(echo.url, event("unavailable"), timeout_s=TIMEOUT)
    assert info.value.retryable
    assert str(info.value) == "Prism Central is unavailable"
    assert post(echo.url, event("unavailable")).status_code == 503


def test_unexpected_exception_is_internal_with_the_traceback_only_in_the_log(echo):
    ev = event("crash")
    with pytest.raises(PluginError) as info:
        invoke(echo.url, ev, timeout_s=TIMEOUT)
    assert info.value.grpc_code == "INTERNAL"
    assert str(info.value) == f"internal error, event {ev['id']}"
    raw = post(echo.url, ev)
    assert raw.status_code == 500
    assert b"boom" not in raw.content
    assert b"Traceback" not in raw.content
    crash = [line for line in echo.log_lines() if line.get("event_id") == ev["id"]
             and "exc" in line]
    assert crash
    assert "RuntimeError: boom" in crash[0]["exc"]


def test_a_plain_post_is_400_never_500(echo):
    for response in (requests.post(echo.url, json={"hello": 1}, timeout=TIMEOUT),
                     requests.post(echo.url, data=b"\xff\x00", timeout=TIMEOUT)):
        assert response.status_code == 400
        assert response.json() == {"error": "not a CloudEvent"}


def test_get_is_the_health_check(echo):
    response = requests.get(echo.url + "/healthz", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def ping(extension: dict) -> requests.Response:
    """A PingSource tick exactly as knative/README.md says it arrives."""
    headers = {"ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping",
               "ce-source": "/apis/v1/namespaces/cloudforet-nutanix/pingsources/cost-record",
               "ce-id": "tick-1", "content-type": "application/json",
               **{f"ce-{k}": v for k, v in extension.items()}}
    return headers


def test_a_ping_tick_runs_the_type_named_by_its_extension(echo):
    response = requests.post(echo.url, data=b"{}", timeout=TIMEOUT,
                             headers=ping({"nutanixtype": events.COST_RECORD}))
    assert response.status_code == 200
    assert response.headers["ce-type"] == events.reply_type(events.COST_RECORD)
    assert json.loads(response.content)["type"] == events.COST_RECORD


def test_a_ping_tick_without_our_extension_is_400(echo):
    for extension in ({}, {"nutanixtype": "io.example.unknown.v1"}):
        response = requests.post(echo.url, data=b"{}", timeout=TIMEOUT,
                                 headers=ping(extension))
        assert response.status_code == 400


def test_a_type_this_function_does_not_serve_is_400(echo):
    other = events.new_event(events.ALERT_PARSE, {"data": {}}, source="/x")
    assert post(echo.url, other).status_code == 400
    with pytest.raises(InvalidInput, match="HTTP 400"):
        invoke(echo.url, other, timeout_s=TIMEOUT)
    foreign = events.new_event(events.COLLECT_VERIFY, {}, source="/x")
    foreign["type"] = "com.example.thing.v1"
    assert post(echo.url, foreign).status_code == 400


def test_a_periodic_event_without_credentials_is_served(echo):
    ev = events.new_event(events.COST_RECORD, None, source="/apis/v1/pingsources/cost")
    assert invoke(echo.url, ev, timeout_s=TIMEOUT)["type"] == events.COST_RECORD


def test_the_store_opens_lazily_from_settings(echo, store):
    reply = invoke(echo.url, event("store"), timeout_s=TIMEOUT)
    key = store.key_for(reply["url"])
    assert store.get_json(key) == {"stored": True}


def test_replies_never_carry_secret_data(echo, store):
    raw = post(echo.url, event("leak", payload="x" * 5000))
    assert raw.status_code == 200
    stored = store.get(store.key_for(raw.headers["ce-dataref"]))
    for body in (raw.content, stored):
        assert b"secret_data" not in body
        assert PASSWORD.encode() not in body
    with pytest.raises(PluginError, match="withheld"):
        invoke(echo.url, event("leak_value"), timeout_s=TIMEOUT)


def test_concurrent_invokes_share_one_pool(echo, store):
    def one(i):
        return invoke(echo.url, event(payload=i), timeout_s=TIMEOUT, store=store)["payload"]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(32))) == list(range(32))


def test_logs_have_one_line_per_event_and_no_secret(echo):
    ev = event(payload="logged?")
    invoke(echo.url, ev, timeout_s=TIMEOUT)
    with pytest.raises(PluginError):
        invoke(echo.url, event("crash"), timeout_s=TIMEOUT)
    lines = [line for line in echo.log_lines() if line.get("event_id") == ev["id"]]
    assert len(lines) == 1
    assert lines[0]["status"] == 200
    assert isinstance(lines[0]["elapsed_ms"], int)
    assert events.COLLECT_VERIFY in lines[0]["msg"]
    text = echo.log.read_text()
    assert PASSWORD not in text
    assert "logged?" not in text  # data is never logged


# --- invoke() against answers the echo never gives -----------------------------------

class Odd(BaseHTTPRequestHandler):
    """Answers by path: what a broken or overloaded receiver might send."""

    ANSWERS = {
        "/ok-text": (200, {"Content-Type": "text/html"}, b"OK"),
        "/empty": (204, {}, b""),
        "/busy": (503, {"Content-Type": "text/plain"}, b"upstream connect error"),
        "/slow-down": (429, {"Retry-After": "7"}, b""),
        "/forbidden": (403, {}, b"no"),
        "/broken-event": (200, {"ce-specversion": "1.0", "Content-Type": "application/json"},
                          b"{}"),
        "/wrong-type": (200, {"ce-specversion": "1.0", "ce-id": "r1", "ce-source": "/x",
                              "ce-type": "io.cloudforet.nutanix.cost.verify.result.v1",
                              "Content-Type": "application/json"}, b"{}"),
        "/error-event": (500, {"ce-specversion": "1.0", "ce-id": "r2", "ce-source": "/x",
                               "ce-type": events.ERROR, "Content-Type": "application/json"},
                         b'{"code": "NOT_FOUND", "message": "no such cluster"}'),
        "/bad-error": (200, {"ce-specversion": "1.0", "ce-id": "r3", "ce-source": "/x",
                             "ce-type": events.ERROR, "Content-Type": "application/json"},
                       b'{"message": 3}'),
    }

    hang_ups: dict = {}  # path -> connections still to drop before answering
    seen: dict = {}  # path -> requests received

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen[self.path] = self.seen.get(self.path, 0) + 1
        if self.path == "/stall":  # an answer begun, then nothing: not a stale connection
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"a')
            self.wfile.flush()
            time.sleep(1.5)
            self.close_connection = True
            return
        if self.hang_ups.get(self.path, 0) > 0:
            self.hang_ups[self.path] -= 1
            self.close_connection = True  # a stale keep-alive: gone before any answer byte
            return
        if self.path == "/sleep":
            time.sleep(2)
        status, headers, body = self.ANSWERS.get(self.path, (200, {}, b""))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def odd():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "error", "retryable"), [
    ("/ok-text", BadResponse, False),
    ("/busy", Unavailable, True),
    ("/slow-down", RateLimited, True),
    ("/forbidden", DeliveryFailed, False),
    ("/broken-event", BadResponse, False),
    ("/wrong-type", BadResponse, False),
    ("/bad-error", BadResponse, False),
])
def test_invoke_maps_each_answer_to_one_error(odd, path, error, retryable):
    with pytest.raises(error) as info:
        invoke(odd + path, event(), timeout_s=TIMEOUT)
    assert info.value.retryable is retryable
    assert PASSWORD not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_invoke_raises_the_error_an_error_reply_names(odd):
    with pytest.raises(NotFound, match="no such cluster") as info:
        invoke(odd + "/error-event", event(), timeout_s=TIMEOUT)
    assert not info.value.retryable


def test_invoke_honours_retry_after_and_empty_2xx(odd):
    with pytest.raises(RateLimited) as info:
        invoke(odd + "/slow-down", event(), timeout_s=TIMEOUT)
    assert info.value.retry_after == 7.0
    assert invoke(odd + "/empty", event(), timeout_s=TIMEOUT) is None


def test_invoke_timeout_and_refused_connection_are_unavailable(odd):
    with pytest.raises(Unavailable, match="timed out"):
        invoke(odd + "/sleep", event(), timeout_s=0.5)
    with pytest.raises(Unavailable, match="unreachable") as info:
        invoke(f"http://127.0.0.1:{free_port()}", event(), timeout_s=TIMEOUT)
    assert info.value.retryable


# --- the claim-check through S3 ------------------------------------------------------

@pytest.fixture(scope="module")
def echo_s3(tmp_path_factory):
    moto, endpoint = start_moto()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        store = open_store(f"s3://{BUCKET}/echo", endpoint_url=endpoint, region="us-east-1")
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=BUCKET)
        env = {**CREDENTIALS, "NTNX_STATE_URL": f"s3://{BUCKET}/echo",
               "NTNX_S3_ENDPOINT_URL": endpoint, "NTNX_S3_REGION": "us-east-1",
               "NTNX_REPLY_LIMIT_BYTES": str(LIMIT)}
        proc = start_echo(env, tmp_path_factory.mktemp("logs") / "echo-s3.log")
        try:
            yield proc, store
        finally:
            stop(proc.process)
            stop(moto)


def test_large_reply_comes_back_identical_through_s3(echo_s3):
    echo_proc, store = echo_s3
    payload = [{"name": f"vm-{i}", "ip": f"10.0.0.{i % 250}"} for i in range(300)]
    ev = event(payload=payload)
    reply = invoke(echo_proc.url, ev, timeout_s=TIMEOUT, store=store)
    assert reply["payload"] == payload
    raw = post(echo_proc.url, ev)
    assert raw.headers["ce-dataref"].startswith(f"s3://{BUCKET}/echo/replies/")
    assert list(store.list("replies/")) == [store.key_for(raw.headers["ce-dataref"])]
    small = invoke(echo_proc.url, event(payload=1), timeout_s=TIMEOUT, store=store)
    assert small["payload"] == 1
    assert small["boto3_loaded"] is True  # the S3 store is open in that process


def test_a_connection_dropped_before_the_answer_is_tried_once_more(odd):
    Odd.hang_ups["/empty"] = 1
    assert invoke(odd + "/empty", event(), timeout_s=TIMEOUT) is None
    assert Odd.hang_ups["/empty"] == 0


def test_a_connection_dropped_twice_is_unavailable(odd):
    Odd.hang_ups["/empty"] = 2
    with pytest.raises(Unavailable, match="unreachable") as info:
        invoke(odd + "/empty", event(), timeout_s=TIMEOUT)
    assert info.value.retryable
    Odd.hang_ups["/empty"] = 0


def test_an_answer_stalled_after_its_first_bytes_is_not_sent_again(odd):
    """requests reports a body read timeout as a ConnectionError: it must not count as stale."""
    with pytest.raises(Unavailable, match="timed out") as info:
        invoke(odd + "/stall", event(), timeout_s=0.5)
    assert info.value.retryable
    assert Odd.seen["/stall"] == 1
