"""alert_ingest's parts in one process: auth, the parser edge, forwarding, dead letters, poll.

Real HTTP throughout: a `Receiver` plays CloudForet's webhook URL, the
simulator plays Prism Central, the state store is a folder. The processes
and gRPC doors are in test_alert_ingest_e2e.py.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.alerts import delivery, ingest, poll
from shared.alerts.run import parse_body
from shared.config import Settings
from shared.errors import DeliveryFailed, InvalidInput, PluginError, ReceiverUnavailable
from shared.mapping.alerts import events_from_payload
from shared.prism.models import Alert
from shared.retry import RetryPolicy
from shared.state import open_store
from tests.receiver import Receiver
from tests.simulator import Inventory, Simulator

FIXTURES = Path(__file__).parent / "fixtures" / "nutanix"
PUSHED = ("v4-alerts-list.json", "v4-events-list.json", "webhook-vm-event.json")
PRISM = "https://pc.example.com:9440"
QUICK = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02, deadline_s=1.0)


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def fixture_events() -> list[dict]:
    return [e for name in PUSHED for e in events_from_payload(load(name), prism_url=PRISM)]


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


@pytest.fixture
def store(tmp_path):
    return open_store(f"file://{tmp_path}/state")


# --- authentication ------------------------------------------------------------------


class Headers(dict):
    """Request headers as flask gives them: case-insensitive `get`."""

    def get(self, key, default=None):
        return next((v for k, v in self.items() if k.lower() == key.lower()), default)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH = Settings(webhook_token="t0ken-0123456789", webhook_username="prism",
                webhook_password="pa:ss-word")


@pytest.mark.parametrize("headers", [
    {"X-Webhook-Token": "t0ken-0123456789"},
    {"x-webhook-token": "t0ken-0123456789"},
    {"Authorization": "Bearer t0ken-0123456789"},
    {"Authorization": basic("prism", "pa:ss-word")},
])
def test_token_header_bearer_and_basic_are_accepted(headers):
    assert ingest.authenticated(Headers(headers), AUTH)


@pytest.mark.parametrize("headers", [
    {},
    {"X-Webhook-Token": "t0ken-012345678"},
    {"X-Webhook-Token": "t0ken-0123456789x"},
    {"X-Webhook-Token": ""},
    {"Authorization": "Bearer wrong"},
    {"Authorization": "Bearer"},
    {"Authorization": basic("prism", "wrong")},
    {"Authorization": basic("other", "pa:ss-word")},
    {"Authorization": basic("prism", "")},
    {"Authorization": "Basic not-base64!"},
    {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
    {"Authorization": "Basic " + base64.b64encode(b"prism").decode()},
    {"Authorization": "Digest t0ken-0123456789"},
    {"X-Webhook-Token": "t0ken-0123456789é"},
])
def test_wrong_or_missing_credentials_are_refused(headers):
    assert not ingest.authenticated(Headers(headers), AUTH)


def test_without_configured_credentials_every_push_is_refused():
    for headers in ({}, {"X-Webhook-Token": ""}, {"Authorization": basic("", "")}):
        assert not ingest.authenticated(Headers(headers), Settings())


def test_basic_auth_alone_does_not_accept_a_token():
    only_basic = Settings(webhook_username="prism", webhook_password="pa:ss-word")
    assert not ingest.authenticated(Headers({"X-Webhook-Token": ""}), only_basic)
    assert ingest.authenticated(Headers({"Authorization": basic("prism", "pa:ss-word")}),
                                only_basic)


# --- the parser edge: decode, map, parse ---------------------------------------------


def test_forwarded_body_parses_to_exactly_its_events():
    events = fixture_events()
    body = json.loads(json.dumps(delivery.to_body(events)))  # the wire
    assert parse_body(body) == events


def test_parse_body_accepts_what_prism_pushes_directly():
    for name in PUSHED:
        assert parse_body(load(name), prism_url=PRISM) == events_from_payload(
            load(name), prism_url=PRISM)


@pytest.mark.parametrize("mutate", [
    lambda e: e.update(event_type="RESOLVED"),
    lambda e: e.update(severity="FATAL"),
    lambda e: e.update(event_key=""),
    lambda e: e.update(event_key="key with spaces"),
    lambda e: e.update(occurred_at="yesterday"),
    lambda e: e.update(additional_info={"n": 1}),
    lambda e: e.update(unknown="x"),
    lambda e: e.pop("title"),
])
def test_forged_forwarded_events_are_refused(mutate):
    events = fixture_events()
    mutate(events[0])
    with pytest.raises(InvalidInput):
        parse_body(delivery.to_body(events))


@pytest.mark.parametrize("raw, status", [
    (b"", 400), (b"   ", 400), (b"{", 400), (b"\xff\xfe{}", 400), (b"NaN", 400),
    (b'{"a": Infinity}', 400), (b"[" * 100_000 + b"]" * 100_000, 400),
    (b"1" * 5000, 400),
])
def test_bodies_that_are_not_json_are_400(raw, status):
    with pytest.raises(ingest._Refused) as refused:
        ingest.decode(raw)
    assert refused.value.status == status


@pytest.mark.parametrize("body", [
    {}, [], {"a": 1}, [1, 2], "text", 7, None, {"data": 5}, {"event_type": "VM.ON"},
    [{"extId": "x"}] * 3, json.loads("[" * 60 + "{}" + "]" * 60),
])
def test_json_that_is_no_accepted_body_is_422_or_ignored(body):
    try:
        events = ingest.to_events(body, PRISM)
    except ingest._Refused as refused:
        assert refused.status == 422
        assert "{" not in refused.reason  # never the payload echoed
    else:
        assert events == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner,
                                                                  max_size=6),
    max_leaves=30)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _mutated(draw, base):
    body = copy.deepcopy(base)
    paths = [p for p in _paths(body) if p]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(JSON)
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
    return body


BASES = [load(name) for name in PUSHED] + [delivery.to_body(fixture_events()[:3])]


@st.composite
def mutated_payloads(draw):
    return _mutated(draw, draw(st.sampled_from(BASES)))


def _parse_or_invalid(body) -> None:
    try:
        result = parse_body(body, prism_url=PRISM)
    except InvalidInput:
        return
    assert isinstance(result, list)
    for event in result:
        assert delivery.problems(delivery.EVENT_SCHEMA, event) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_parses_to_events_or_invalid_input(body):
    _parse_or_invalid(body)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads())
def test_mutated_payloads_parse_to_events_or_invalid_input(body):
    _parse_or_invalid(body)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_at_the_edge_give_events_or_a_4xx(raw):
    try:
        events = ingest.to_events(ingest.decode(raw), PRISM)
    except ingest._Refused as refused:
        assert refused.status in (400, 422)
    else:
        assert isinstance(events, list)


# --- forwarding and dead letters -------------------------------------------------------


def test_forward_errors_name_the_host_only(receiver):
    receiver.fail_with(403)
    forwarder = delivery.Forwarder(receiver.url)
    with pytest.raises(DeliveryFailed) as refused:
        forwarder.send(fixture_events()[:1], QUICK)
    receiver.fail_with(503)
    with pytest.raises(ReceiverUnavailable) as unavailable:
        forwarder.send(fixture_events()[:1], QUICK)
    for err in (refused.value, unavailable.value):
        assert "127.0.0.1" in str(err)
        assert "access-key" not in str(err) and "webhook-local" not in str(err)


def test_a_kept_alive_connection_the_receiver_dropped_is_replaced(receiver):
    forwarder = delivery.Forwarder(receiver.url)
    events = fixture_events()
    forwarder.send(events[:1], delivery.ONCE)
    receiver.stop()
    receiver.start()  # same port; the kept-alive connection is gone
    assert forwarder.send(events[1:], delivery.ONCE) == 1
    assert receiver.events == events


def test_tls_is_verified_and_a_ca_bundle_is_honoured(monkeypatch):
    with Simulator(Inventory.generate(alerts=1), tls=True) as https:
        url = f"https://127.0.0.1:{https.port}/monitoring/v1/webhook/w/k/events"
        with pytest.raises(DeliveryFailed, match="TLS verification"):
            delivery.Forwarder(url).send(fixture_events()[:1], QUICK)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", https.ca_path)
        with pytest.raises(PluginError, match="answered HTTP"):  # TLS fine: Prism says no
            delivery.Forwarder(url).send(fixture_events()[:1], QUICK)


def test_outbox_delivers_once_without_touching_the_store(receiver, store):
    outbox = delivery.Outbox(delivery.Forwarder(receiver.url), store, policy=QUICK)
    events = fixture_events()
    assert outbox.submit(events) == delivery.DELIVERED
    assert receiver.events == events
    assert list(store.list()) == []


def test_concurrent_requests_are_each_delivered_once(receiver, store):
    outbox = delivery.Outbox(delivery.Forwarder(receiver.url), store, policy=QUICK)
    template = fixture_events()[0]
    batches = [[dict(template, event_key=f"k{t}-{i}") for i in range(t % 3 + 1)]
               for t in range(40)]
    outcomes: list[str] = []

    def push(events):
        outcomes.append(outbox.submit(events))

    threads = [threading.Thread(target=push, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == [delivery.DELIVERED] * len(batches)
    assert sorted(receiver.keys) == sorted(e["event_key"] for b in batches for e in b)
    assert receiver.duplicates() == {}
    assert receiver.posts <= len(batches)


def test_receiver_down_keeps_dead_letters_that_redeliver_once(receiver, store):
    events = fixture_events()
    outbox = delivery.Outbox(delivery.Forwarder(receiver.url), store, policy=QUICK)
    receiver.stop()
    assert outbox.submit(events[:2]) == delivery.STORED
    assert outbox.submit(events[2:]) == delivery.STORED  # cooldown: straight to the store
    letters = delivery.dead_letters(store)
    assert len(letters) == 2
    stored = [store.get_json(k) for k in letters]
    assert [e for letter in stored for e in letter["events"]] == events
    assert all(letter["format"] == delivery.DEAD_FORMAT for letter in stored)
    assert "access-key" not in json.dumps(stored)

    blocked = delivery.redeliver(store, delivery.Forwarder(receiver.url), policy=QUICK)
    assert blocked.blocked and blocked.left == 2 and blocked.delivered == 0

    receiver.start()
    drained = delivery.redeliver(store, delivery.Forwarder(receiver.url), policy=QUICK)
    assert drained.as_dict() == {"delivered": 2, "events": len(events), "refused": 0,
                                 "left": 0, "blocked": False}
    assert receiver.events == events  # in order
    assert delivery.dead_letters(store) == []
    assert delivery.redeliver(store, delivery.Forwarder(receiver.url)).delivered == 0


def test_backlog_is_sent_before_new_events(receiver, store):
    events = fixture_events()
    outbox = delivery.Outbox(delivery.Forwarder(receiver.url), store, policy=QUICK,
                             cooldown_s=0.0)
    receiver.fail_with(503)
    assert outbox.submit(events[:1]) == delivery.STORED
    receiver.fail_with(200)
    assert outbox.submit(events[1:]) == delivery.DELIVERED
    assert receiver.events == events
    assert delivery.dead_letters(store) == []


def test_a_refused_letter_is_kept_and_does_not_block_the_others(receiver, store):
    events = fixture_events()
    for event in events:
        delivery.store_dead(store, [event], "test")
    receiver.fail_with(403)
    drain = delivery.redeliver(store, delivery.Forwarder(receiver.url), policy=QUICK)
    assert (drain.refused, drain.left, drain.blocked) == (len(events), len(events), False)
    first = store.get_json(delivery.dead_letters(store)[0])
    assert first["attempts"] == 2 and first["reason"] == "DeliveryFailed"
    receiver.fail_with(200)
    assert delivery.redeliver(store, delivery.Forwarder(receiver.url)).delivered == len(events)
    assert receiver.events == events


def test_a_corrupt_letter_is_skipped_not_fatal(receiver, store):
    store.put(delivery.DEAD + "00000000T000000.000000-corrupt.json", b"{not json")
    delivery.store_dead(store, fixture_events(), "test")
    drain = delivery.redeliver(store, delivery.Forwarder(receiver.url), policy=QUICK)
    assert (drain.delivered, drain.refused, drain.finished) == (1, 1, True)
    assert receiver.events == fixture_events()


def test_without_a_forward_url_events_are_kept(store):
    outbox = delivery.Outbox(delivery.Forwarder(""), store)
    assert outbox.submit(fixture_events()) == delivery.STORED
    assert len(delivery.dead_letters(store)) == 1


def test_neither_delivered_nor_stored_raises(receiver, tmp_path):
    (tmp_path / "file").write_text("x")
    blocked_store = open_store(f"file://{tmp_path}/file")  # its root is a file: writes fail
    outbox = delivery.Outbox(delivery.Forwarder(receiver.url), blocked_store, policy=QUICK)
    receiver.stop()
    with pytest.raises(ReceiverUnavailable):
        outbox.submit(fixture_events())


# --- poll ------------------------------------------------------------------------------


def test_batches_never_split_one_change_time():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0, t0, t0 + timedelta(seconds=1), t0 + timedelta(seconds=1),
             t0 + timedelta(seconds=1), t0 + timedelta(seconds=2)]
    alerts = [Alert(ext_id=str(i), title="", message="", severity="INFO", last_updated_at=t)
              for i, t in enumerate(times)]
    got = list(poll.group_batches(alerts, size=3))
    assert [[a.ext_id for a in batch] for batch, _ in got] == [["0", "1", "2", "3", "4"], ["5"]]
    assert [latest for _, latest in got] == [times[4], times[5]]


@pytest.fixture
def sim():
    with Simulator(Inventory.generate(alerts=12), tls=True) as simulator:
        yield simulator


def poll_settings(sim: Simulator, receiver: Receiver, tmp_path) -> Settings:
    return Settings.from_env({
        "NTNX_PRISM_HOST": "127.0.0.1", "NTNX_PRISM_PORT": str(sim.port),
        "NTNX_PRISM_USERNAME": "admin", "NTNX_PRISM_PASSWORD": "Nutanix/4u",
        "NTNX_PRISM_CA_PEM": sim.ca_path, "NTNX_ALERT_FORWARD_URL": receiver.url,
        "NTNX_STATE_URL": f"file://{tmp_path}/state"})


def resolve(sim: Simulator, alert) -> None:
    alert.is_resolved = True
    alert.resolved_time = alert.last_updated_time = datetime.now(UTC)
    sim.refresh()


def test_poll_sends_open_alerts_then_changes_and_keeps_a_watermark(sim, receiver, tmp_path):
    cfg = poll_settings(sim, receiver, tmp_path)
    store = open_store(cfg.state_url)
    still_open = {a.ext_id for a in sim.inventory.alerts if not a.is_resolved}

    first = poll.run(cfg, store)
    assert first["polled"] == 12 and first["sent"] == len(still_open)
    assert {e["event_type"] for e in receiver.events} == {"ALERT"}
    assert len(receiver.keys) == len(still_open)
    newest = max(a.last_updated_time for a in sim.inventory.alerts)
    assert poll.read_watermark(store) == newest

    assert poll.run(cfg, store)["sent"] == 0  # nothing changed

    raised = sim.raise_alert(severity="WARNING")
    old = next(a for a in sim.inventory.alerts if a.ext_id in still_open)
    resolve(sim, old)
    third = poll.run(cfg, store)
    assert third["sent"] == 2
    assert [(e["event_type"], e["additional_info"]["ext_id"]) for e in receiver.events[-2:]] \
        == [("ALERT", raised["extId"]), ("RECOVERY", old.ext_id)]
    assert poll.read_watermark(store) == old.resolved_time
    assert receiver.duplicates() == {}


def test_poll_resends_open_alerts_before_cloudforet_forgets_them(sim, receiver, tmp_path):
    cfg = poll_settings(sim, receiver, tmp_path)
    store = open_store(cfg.state_url)
    now = time.time()
    poll.run(cfg, store, clock=lambda: now)
    opened = set(receiver.keys)
    assert poll.run(cfg, store, clock=lambda: now + 60)["reemitted"] == 0
    later = poll.run(cfg, store, clock=lambda: now + poll.REEMIT_S)
    assert later["reemitted"] == len(opened)
    assert set(receiver.keys) == opened and set(receiver.keys.values()) == {2}
    resolve(sim, next(a for a in sim.inventory.alerts if not a.is_resolved))
    poll.run(cfg, store, clock=lambda: now + poll.REEMIT_S + 1)
    assert len(poll.OpenAlerts(store).alerts) == len(opened) - 1


def test_poll_keeps_its_watermark_while_the_receiver_is_down(sim, receiver, tmp_path):
    cfg = poll_settings(sim, receiver, tmp_path)
    store = open_store(cfg.state_url)
    poll.run(cfg, store)
    mark = poll.read_watermark(store)
    sim.raise_alert()
    receiver.fail_with(503)
    failed = poll.run(cfg, store, forwarder=delivery.Forwarder(receiver.url))
    assert "error" in failed and poll.read_watermark(store) == mark
    receiver.fail_with(200)
    assert poll.run(cfg, store)["sent"] == 1
    assert poll.read_watermark(store) > mark
    assert receiver.duplicates() == {}


def test_poll_without_prism_only_redelivers(receiver, tmp_path):
    cfg = Settings.from_env({"NTNX_ALERT_FORWARD_URL": receiver.url,
                             "NTNX_STATE_URL": f"file://{tmp_path}/state"})
    store = open_store(cfg.state_url)
    delivery.store_dead(store, fixture_events(), "test")
    result = poll.run(cfg, store)
    assert result["dead_letters"]["events"] == len(fixture_events())
    assert "NTNX_PRISM_HOST" in result["skipped"]
    assert receiver.events == fixture_events()
