"""alert_ingest as Knative runs it: its own process, pushed to by the simulator, ticked by a
PingSource-shaped CloudEvent, asked by the gRPC endpoint; a local receiver plays CloudForet.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
import requests
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct

from shared import events, invoke
from shared.alerts import delivery
from shared.alerts.payloads import playbook_template
from shared.mapping.alerts import events_from_payload
from tests.processes import start_function, start_plugin
from tests.receiver import Receiver, grpc_parser
from tests.simulator import Inventory, Simulator

FIXTURES = Path(__file__).parent / "fixtures" / "nutanix"
TOKEN = "e2e-token-5f1c2a9b"
USER, PASSWORD = "prism-pusher", "e2e-pa55-word-77"
MAX_BYTES = 64 * 1024
AUTH = {"X-Webhook-Token": TOKEN}
pytestmark = pytest.mark.slow


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def playbook_body(alert_uuid: str) -> dict:
    text = playbook_template()
    for placeholder, value in {
        "{{trigger[0].alert_entity_info.uuid}}": alert_uuid,
        "{{trigger[0].alert_entity_info.name}}": "Disk space usage high",
        "{{trigger[0].source_entity_info.uuid}}": "d8787814-4fe8-4ba5-931f-e1ee31c294a6",
        "{{trigger[0].source_entity_info.name}}": "10-0-0-103",
        "{{trigger[0].creation_time}}": "2026-01-06T09:24:19.032149Z",
        "{{playbook.playbook_name}}": "Push alerts to CloudForet",
    }.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


@pytest.fixture(scope="module")
def sim():
    with Simulator(Inventory.generate(alerts=12), tls=True) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as rx:
        yield rx


def function_env(receiver: Receiver, state: Path, **extra: str) -> dict:
    return {"NTNX_WEBHOOK_TOKEN": TOKEN, "NTNX_WEBHOOK_USERNAME": USER,
            "NTNX_WEBHOOK_PASSWORD": PASSWORD, "NTNX_WEBHOOK_MAX_BYTES": str(MAX_BYTES),
            "NTNX_ALERT_FORWARD_URL": receiver.url, "NTNX_STATE_URL": f"file://{state}",
            "THREADS": "8", **extra}


@pytest.fixture(scope="module")
def pushed(receiver, tmp_path_factory):
    """alert_ingest for pushed alerts only (no Prism configured)."""
    base = tmp_path_factory.mktemp("push")
    proc = start_function("alert_ingest", function_env(receiver, base / "state"),
                          log_dir=base / "logs")
    proc.info["state"] = base / "state"
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def polling(sim, tmp_path_factory):
    """alert_ingest polling the simulator, with a receiver of its own."""
    base = tmp_path_factory.mktemp("poll")
    with Receiver() as rx:
        proc = start_function("alert_ingest", function_env(
            rx, base / "state", NTNX_PRISM_HOST="127.0.0.1", NTNX_PRISM_PORT=str(sim.port),
            NTNX_PRISM_USERNAME="admin", NTNX_PRISM_PASSWORD="Nutanix/4u",
            NTNX_PRISM_CA_PEM=sim.ca_path), log_dir=base / "logs")
        proc.info.update(state=base / "state", receiver=rx)
        yield proc
        proc.stop()


def tick(url: str, structured: bool = False) -> requests.Response:
    """What our PingSource sends: its own type, ours in `nutanixtype` (knative/README.md)."""
    attributes = {"specversion": "1.0", "type": "dev.knative.sources.ping",
                  "source": "/apis/v1/namespaces/cloudforet-nutanix/pingsources/alert-poll",
                  "id": str(uuid.uuid4()), "time": datetime.now(UTC).isoformat(),
                  "nutanixtype": "io.cloudforet.nutanix.alert.poll.v1"}
    if structured:
        body = json.dumps({**attributes, "datacontenttype": "application/json", "data": {}})
        return requests.post(url, data=body, timeout=60,
                             headers={"Content-Type": "application/cloudevents+json"})
    headers = {f"ce-{k}": v for k, v in attributes.items()}
    headers["Content-Type"] = "application/json"
    return requests.post(url, data=b"{}", headers=headers, timeout=60)


def dead_letters(proc) -> list[Path]:
    return sorted((proc.info["state"] / "alerts" / "dead").glob("*.json"))


# --- pushed alerts ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v4-alerts-list.json", "v4-events-list.json",
                                  "webhook-vm-event.json", "playbook", "v4-alert-object"])
def test_every_fixture_payload_arrives_as_its_events(name, sim, receiver, pushed):
    if name == "playbook":
        body = playbook_body(str(uuid.uuid4()))
    elif name == "v4-alert-object":
        body = dict(load("v4-alerts-list.json")["data"][0], extId=str(uuid.uuid4()))
    else:
        body = load(name)
    expected = events_from_payload(body)
    assert expected
    before = len(receiver.events)
    assert sim.post_webhook(pushed.url, body, AUTH) == 200
    assert receiver.events[before:] == expected


def test_simulator_alerts_pushed_arrive_once(sim, receiver, pushed):
    raised = [sim.raise_alert(severity=s) for s in ("CRITICAL", "WARNING", "INFO")]
    vm = sim.inventory.vms[0].ext_id
    bodies = [*raised, sim.webhook_vm_event(vm, "VM.OFF")]
    for body in bodies:
        assert sim.post_webhook(pushed.url, body, AUTH) == 200
    keys = [e["event_key"] for b in bodies for e in events_from_payload(b)]
    assert all(receiver.keys[k] == 1 for k in keys)
    assert [e["severity"] for e in receiver.events[-4:]] == [
        "CRITICAL", "WARNING", "INFO", "INFO"]


def test_basic_auth_and_bearer_are_accepted(sim, receiver, pushed):
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for headers in ({"Authorization": f"Basic {basic}"}, {"Authorization": f"Bearer {TOKEN}"}):
        body = dict(load("v4-alerts-list.json")["data"][0], extId=str(uuid.uuid4()))
        assert sim.post_webhook(pushed.url, body, headers) == 200


def _post(url: str, data, headers: dict) -> requests.Response:
    return requests.post(url, data=data, headers=headers, timeout=30)


ALERT = json.dumps(load("v4-alerts-list.json")).encode()


@pytest.mark.parametrize("data, headers, status", [
    (ALERT, {}, 401),
    (ALERT, {"X-Webhook-Token": "wrong"}, 401),
    (ALERT, {"Authorization": "Bearer " + TOKEN[:-1]}, 401),
    (ALERT, {"Authorization": "Basic " + base64.b64encode(f"{USER}:x".encode()).decode()}, 401),
    (b'{"pad": "' + b"x" * MAX_BYTES + b'"}', AUTH, 413),
    (iter([b'{"pad": "', b"x" * MAX_BYTES, b'"}']), AUTH, 413),  # chunked, no length
    (b"{not json", AUTH, 400),
    (b"", AUTH, 400),
    (b"\xff\xfe\x00", AUTH, 400),
    (b"[" * 5000 + b"]" * 5000, AUTH, 400),
    (b'{"hello": "world"}', AUTH, 422),
    (b'[{"extId": 5}, 3]', AUTH, 422),
    (b'{"format": "cloudforet-nutanix-playbook-alert/v9"}', AUTH, 422),
])
def test_refused_bodies_get_a_4xx_and_nothing_is_forwarded(data, headers, status, receiver,
                                                           pushed):
    before = receiver.posts
    resp = _post(pushed.url, data, {"Content-Type": "application/json", **headers})
    assert resp.status_code == status
    assert set(resp.json()) == {"error"}
    assert "world" not in resp.text and "xxxx" not in resp.text
    assert receiver.posts == before
    assert dead_letters(pushed) == []


def test_other_methods_and_health(pushed):
    assert requests.get(pushed.url + "/healthz", timeout=10).status_code == 200
    assert requests.put(pushed.url, data=ALERT, headers=AUTH, timeout=10).status_code == 405


def test_receiver_down_then_up_every_event_arrives_once_after_the_next_tick(sim, receiver,
                                                                              pushed):
    bodies = [sim.raise_alert() for _ in range(5)] + [playbook_body(str(uuid.uuid4()))]
    keys = [e["event_key"] for b in bodies for e in events_from_payload(b)]
    receiver.stop()
    try:
        statuses = [sim.post_webhook(pushed.url, b, AUTH) for b in bodies]
    finally:
        receiver.start()
    assert statuses == [202] * len(bodies)
    assert not any(k in receiver.keys for k in keys)
    assert dead_letters(pushed)

    resp = tick(pushed.url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "io.cloudforet.nutanix.alert.poll.result.v1"
    summary = json.loads(resp.content)
    assert summary["dead_letters"]["events"] == len(keys)
    assert [receiver.keys[k] for k in keys] == [1] * len(keys)
    assert dead_letters(pushed) == []
    assert tick(pushed.url, structured=True).status_code == 200
    assert [receiver.keys[k] for k in keys] == [1] * len(keys)


def test_secrets_stay_out_of_the_log(sim, pushed):
    sim.post_webhook(pushed.url, load("v4-alerts-list.json"), {"X-Webhook-Token": "guess"})
    text = pushed.log_text()
    for secret in (TOKEN, PASSWORD, "access-key-local", "guess"):
        assert secret not in text


# --- the CloudEvent doors: parse, verify, poll ---------------------------------------------


def test_parse_cloud_event_returns_the_forwarded_events(pushed):
    forwarded = events_from_payload(load("v4-alerts-list.json"))
    event = events.new_event(events.ALERT_PARSE, {"options": {}, "data": delivery.to_body(
        forwarded)}, source="/test")
    assert invoke.invoke(pushed.url, event, timeout_s=30) == {"results": forwarded}


def test_poll_sends_open_alerts_then_only_changes(sim, polling):
    rx = polling.info["receiver"]
    assert tick(polling.url).status_code == 200
    still_open = [a for a in sim.inventory.alerts if not a.is_resolved]
    assert len(rx.keys) == len(still_open)
    watermark = json.loads((polling.info["state"] / "alerts" / "watermark.json").read_text())

    assert json.loads(tick(polling.url).content)["sent"] == 0
    raised = sim.raise_alert(severity="CRITICAL")
    old = still_open[0]
    old.is_resolved, old.resolved_time = True, datetime.now(UTC)
    old.last_updated_time = old.resolved_time
    sim.refresh()
    assert json.loads(tick(polling.url).content)["sent"] == 2
    assert [(e["event_type"], e["additional_info"]["ext_id"]) for e in rx.events[-2:]] == [
        ("ALERT", raised["extId"]), ("RECOVERY", old.ext_id)]
    later = json.loads((polling.info["state"] / "alerts" / "watermark.json").read_text())
    assert later["since"] > watermark["since"]
    assert rx.duplicates() == {}


# --- the gRPC endpoint: both webhook families ---------------------------------------------------


@pytest.fixture(scope="module")
def monitoring(pushed, tmp_path_factory):
    proc = start_plugin("monitoring_webhook", {"NTNX_ALERT_INGEST_URL": pushed.url},
                        log_dir=tmp_path_factory.mktemp("plugin-monitoring"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def alert_manager(pushed, tmp_path_factory):
    proc = start_plugin("alert_manager_webhook", {"NTNX_ALERT_INGEST_URL": pushed.url},
                        log_dir=tmp_path_factory.mktemp("plugin-alert-manager"))
    yield proc
    proc.stop()


def struct(value: dict) -> Struct:
    out = Struct()
    out.update(value)
    return out


def stubs(proc, family: str):
    if family == "monitoring_webhook":
        from spaceone.api.monitoring.plugin import (
            event_pb2,
            event_pb2_grpc,
            webhook_pb2,
            webhook_pb2_grpc,
        )
        init_request = webhook_pb2.WebhookInitRequest
        verify_request = webhook_pb2.WebhookPluginVerifyRequest
    else:
        from spaceone.api.alert_manager.plugin import (
            event_pb2,
            event_pb2_grpc,
            webhook_pb2,
            webhook_pb2_grpc,
        )
        init_request, verify_request = webhook_pb2.InitRequest, webhook_pb2.VerifyRequest
    channel = grpc.insecure_channel(proc.url)
    return (webhook_pb2_grpc.WebhookStub(channel), event_pb2_grpc.EventStub(channel),
            init_request, verify_request, event_pb2)


@pytest.mark.parametrize("family", ["monitoring_webhook", "alert_manager_webhook"])
def test_webhook_init_and_verify(family, request):
    proc = request.getfixturevalue("monitoring" if family == "monitoring_webhook"
                                   else "alert_manager")
    webhook, _, init_request, verify_request, _ = stubs(proc, family)
    info = webhook.init(init_request(options=struct({})), timeout=30)
    schema = json_format.MessageToDict(info.metadata)["options_schema"]
    assert "prism_url" in schema["properties"]
    webhook.verify(verify_request(options=struct({"prism_url": "https://pc:9440"})), timeout=30)
    with pytest.raises(grpc.RpcError) as bad:
        webhook.verify(verify_request(options=struct({"prism_url": "not a url"})), timeout=30)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.value.details().startswith("ERROR_INVALID_ARGUMENT:")


@pytest.mark.parametrize("family", ["monitoring_webhook", "alert_manager_webhook"])
def test_event_parse_of_a_forwarded_body(family, request):
    proc = request.getfixturevalue("monitoring" if family == "monitoring_webhook"
                                   else "alert_manager")
    _, event, _, _, event_pb2 = stubs(proc, family)
    forwarded = events_from_payload(load("v4-alerts-list.json"), prism_url="https://pc:9440")
    forwarded[1]["severity"] = "NOT_AVAILABLE"
    reply = event.parse(event_pb2.ParseRequest(options=struct({}), data=struct(
        delivery.to_body(forwarded))), timeout=30)
    got = [json_format.MessageToDict(r, preserving_proto_field_name=True) for r in reply.results]
    assert [g["event_key"] for g in got] == [f["event_key"] for f in forwarded]
    if family == "monitoring_webhook":
        assert got == forwarded
    else:
        assert [g["severity"] for g in got] == [forwarded[0]["severity"], "CRITICAL"]
        assert [g["resources"] for g in got] == [[f["resource"]["name"]] for f in forwarded]
        assert all("resource" not in g and "provider" not in g for g in got)


@pytest.mark.parametrize("family", ["monitoring_webhook", "alert_manager_webhook"])
def test_event_parse_ignores_and_refuses(family, request):
    proc = request.getfixturevalue("monitoring" if family == "monitoring_webhook"
                                   else "alert_manager")
    _, event, _, _, event_pb2 = stubs(proc, family)
    ignored = dict(load("webhook-vm-event.json"), event_type="VM.SNAPSHOT")
    reply = event.parse(event_pb2.ParseRequest(data=struct(ignored)), timeout=30)
    assert list(reply.results) == []
    with pytest.raises(grpc.RpcError) as bad:
        event.parse(event_pb2.ParseRequest(data=struct({"hello": "world"})), timeout=30)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "world" not in bad.value.details()


def test_pushed_alerts_arrive_through_event_parse_like_cloudforet(sim, monitoring, tmp_path):
    """The whole chain: Prism push -> alert_ingest -> webhook URL -> Event.parse -> events."""
    with Receiver(grpc_parser(monitoring.url)) as cloudforet:
        proc = start_function("alert_ingest", function_env(cloudforet, tmp_path / "state"),
                              log_dir=tmp_path / "logs")
        try:
            bodies = [sim.raise_alert(severity="CRITICAL"), playbook_body(str(uuid.uuid4()))]
            assert [sim.post_webhook(proc.url, b, AUTH) for b in bodies] == [200, 200]
        finally:
            proc.stop()
    # protobuf drops empty strings (proto3 defaults): CloudForet never sees `rule: ""`
    expected = [{k: v for k, v in e.items() if v != ""}
                for b in bodies for e in events_from_payload(b)]
    assert cloudforet.events == expected
    assert cloudforet.parse_errors == 0
