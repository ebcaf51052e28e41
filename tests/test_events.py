"""The CloudEvent contract: types, schemas, replies, the claim-check, no secret leaves."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_http

from shared import errors, events
from shared.errors import BadResponse, InvalidInput, PluginError, Unavailable
from shared.invoke import _unmarshal
from shared.state.local import LocalStore

PASSWORD = "Nutanix/4u-s3cr3t"
SECRET = {"host": "pc.example.com", "username": "admin", "password": PASSWORD,
          "api_key": "key-0123456789abcdef"}
LISTED = {
    "collect": ["collect.verify", "collect.plan", "collect", "metric.list", "metric.data",
                "account.sync", "snapshot"],
    "cost": ["cost.verify", "cost.record", "cost.tasks", "cost.accounts", "cost.compute",
             "cost.export"],
    "alert_ingest": ["alert.verify", "alert.parse", "alert.poll"],
    "notify": ["notify.verify", "notify.dispatch"],
}


def request(event_type=events.COLLECT, data=None, **attrs) -> CloudEvent:
    if data is None:
        data = {"options": {}, "secret_data": SECRET, "task": {"kind": "vms"}}
    event = events.new_event(event_type, data, source=events.source_for("plugin"))
    for name, value in attrs.items():
        event[name] = value
    return event


def test_every_listed_type_exists_for_its_function():
    for function, names in LISTED.items():
        expected = {f"io.cloudforet.nutanix.{n}.v1" for n in names}
        assert events.types_for(function) == expected
    assert len(events.EVENT_TYPES) == sum(map(len, LISTED.values()))


def test_reply_types_never_match_a_request_type():
    for name, spec in events.EVENT_TYPES.items():
        assert re.fullmatch(r"io\.cloudforet\.nutanix(\.[a-z]+)+\.v1", name)
        assert spec.reply == name[: -len(".v1")] + ".result.v1"
        assert spec.reply not in events.EVENT_TYPES
    assert events.ERROR not in events.EVENT_TYPES
    with pytest.raises(InvalidInput):
        events.reply_type("io.cloudforet.nutanix.collect")


def test_new_event_is_ready_for_binary_mode():
    event = request()
    assert event["datacontenttype"] == "application/json"
    assert event["source"] == "/cloudforet/nutanix/plugin"
    uuid.UUID(event["id"])
    assert event.get("subject") is None
    with pytest.raises(ValueError):
        events.new_event("com.example.other.v1", {}, source="/x")


def test_validate_reports_every_problem_at_once():
    bad = {"options": [], "task": {"kind": 3, "pages": ["a", 2], "page_size": 0}}
    with pytest.raises(InvalidInput) as info:
        events.validate(request(data=bad))
    text = str(info.value)
    for fragment in ("secret_data: is required", "options: must be object",
                     "task.kind: must be string", "task.pages[0]: must be integer",
                     "task.page_size: must be >= 1"):
        assert fragment in text
    assert len(info.value.problems) == 5


def test_validate_never_echoes_values():
    data = {"options": {}, "secret_data": PASSWORD, "task": {"kind": "vms"}}
    with pytest.raises(InvalidInput) as info:
        events.validate(request(data=data))
    assert PASSWORD not in str(info.value)


def test_validate_accepts_minimal_data():
    assert events.validate(request()) == {"options": {}, "secret_data": SECRET,
                                          "task": {"kind": "vms"}}
    assert events.validate(request(events.COST_RECORD, data={})) == {}
    periodic = events.new_event(events.ALERT_POLL, None, source="/apis/v1/pingsources/x")
    assert events.validate(periodic) == {}


def test_validate_refuses_non_objects_and_unknown_types():
    with pytest.raises(InvalidInput, match="JSON object"):
        events.validate(request(data=[1, 2]))
    unknown = CloudEvent({"type": "com.example.x.v1", "source": "/x"}, {})
    with pytest.raises(InvalidInput, match="unknown event type"):
        events.validate(unknown)


def test_small_reply_travels_inline(tmp_path):
    store = LocalStore(tmp_path)
    req = request(subject="cluster-1")
    reply = events.build_reply(req, {"resources": [1, 2, 3]}, store=store, limit_bytes=1000)
    assert reply["type"] == "io.cloudforet.nutanix.collect.result.v1"
    assert reply["source"] == "/cloudforet/nutanix/collect"
    assert reply["subject"] == "cluster-1"
    assert reply["id"] != req["id"]
    assert "dataref" not in reply
    assert events.reply_data(reply) == {"resources": [1, 2, 3]}
    assert list(store.list()) == []


def test_large_reply_goes_to_the_store_and_only_the_reply(tmp_path):
    store = LocalStore(tmp_path)
    data = {"resources": [{"name": f"vm-{i}", "note": "é"} for i in range(500)]}
    req = request()
    reply = events.build_reply(req, data, store=store, limit_bytes=1000)
    assert reply.data is None
    today = dt.datetime.now(dt.UTC).date().isoformat()
    key = f"replies/{today}/{req['id']}.json"
    assert reply["dataref"] == store.url(key)
    assert int(reply["datasize"]) == len(store.get(key))
    assert list(store.list()) == [key]  # the request (secret_data) is never stored
    assert PASSWORD.encode() not in store.get(key)
    assert events.reply_data(reply, store) == data
    assert events.reply_data(reply) == data  # the dataref's own folder


def test_claim_check_survives_the_wire(tmp_path):
    store = LocalStore(tmp_path)
    data = {"blob": "x" * 5000}
    reply = events.build_reply(request(), data, store=store, limit_bytes=100)
    headers, body = to_binary(reply, data_marshaller=events.encode)
    assert not body
    assert headers["ce-dataref"].startswith("file:///")
    assert headers["ce-datasize"] == str(len(b'{"blob":""}') + 5000)
    back = from_http(headers, body or b"")
    assert events.reply_data(back, store) == data
    inline = events.build_reply(request(), {"a": 1}, store=store, limit_bytes=100)
    headers, body = to_binary(inline, data_marshaller=events.encode)
    assert body == b'{"a":1}'
    assert events.reply_data(from_http(headers, body)) == {"a": 1}


def test_unsafe_event_ids_become_safe_keys(tmp_path):
    store = LocalStore(tmp_path)
    reply = events.build_reply(request(id="../../etc/passwd"), {"b": "x" * 200}, store=store,
                               limit_bytes=10)
    key = store.key_for(reply["dataref"])
    assert re.fullmatch(r"replies/\d{4}-\d\d-\d\d/[0-9a-f]{40}\.json", key)
    assert list(tmp_path.rglob("passwd*")) == []


def test_reply_never_carries_secret_data():
    req = request()
    reply = events.build_reply(req, {"copy": req.data, "nested": [{"secret_data": 1}]},
                               store=None, limit_bytes=10)
    body = bytes(reply.data)
    assert b"secret_data" not in body
    assert PASSWORD.encode() not in body
    assert events.reply_data(reply) == {"copy": {"options": {}, "task": {"kind": "vms"}},
                                        "nested": [{}]}


@pytest.mark.parametrize("leak", [PASSWORD, SECRET["api_key"]])
def test_reply_with_a_credential_is_withheld(leak):
    with pytest.raises(PluginError, match="withheld") as info:
        events.build_reply(request(), {"note": f"logged in with {leak}"}, store=None,
                           limit_bytes=10)
    assert leak not in str(info.value)
    # host and user name are not secrets: replies may show them
    fine = events.build_reply(request(), {"url": "https://pc.example.com", "user": "admin"},
                              store=None, limit_bytes=10)
    assert events.reply_data(fine)["user"] == "admin"


def test_error_reply_round_trips_through_errors_from_dict():
    reply = events.error_reply(request(), Unavailable("Prism Central is unavailable"))
    assert reply["type"] == events.ERROR
    assert reply.data == {"code": "UNAVAILABLE", "message": "Prism Central is unavailable",
                          "retryable": True}
    err = errors.from_dict(reply.data)
    assert isinstance(err, Unavailable)
    assert err.retryable
    assert events.error_reply(None, PluginError("x"))["source"] == "/cloudforet/nutanix/function"


def test_reply_data_refuses_bad_replies(tmp_path):
    store = LocalStore(tmp_path / "store")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    outside = CloudEvent({"type": "t", "source": "/s", "dataref": elsewhere.as_uri()})
    with pytest.raises(BadResponse, match="outside"):
        events.reply_data(outside, store)
    with pytest.raises(BadResponse, match="object"):
        events.reply_data(CloudEvent({"type": "t", "source": "/s"}, [1]))
    with pytest.raises(BadResponse, match="not JSON"):
        events.reply_data(CloudEvent({"type": "t", "source": "/s"}, b"\xff"))
    assert events.reply_data(CloudEvent({"type": "t", "source": "/s"}, None)) is None


@pytest.mark.parametrize("body", [b'{"n": [18446744073709551615, -9223372036854775808]}',
                                  b'[NaN, 1, 1e16]',
                                  '{"s": "é"}'.encode("utf-16"), b"not json", b'{"a": 1}'])
def test_reply_data_reads_as_the_standard_library_does(body):
    from cloudevents.conversion import _json_or_string

    assert repr(_unmarshal(body)) == repr(_json_or_string(body))
