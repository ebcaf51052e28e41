"""Pushed alert bodies -> CloudForet events: fixtures, the Playbook template, any input."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest
from google.protobuf.json_format import ParseDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spaceone.api.monitoring.plugin import event_pb2

from shared.alerts import payloads
from shared.errors import InvalidInput
from shared.mapping.alerts import event_key, events_from_payload, to_events

FIXTURES = Path(__file__).parent / "fixtures" / "nutanix"
PRISM = "https://pc.example.com:9440"
SEVERITIES = {"CRITICAL", "ERROR", "WARNING", "INFO", "NOT_AVAILABLE"}


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def key_of(ext_id: str) -> str:
    return hashlib.sha256(f"nutanix:{ext_id}".encode()).hexdigest()


def check_event(event: dict) -> None:
    """What CloudForet's monitoring service accepts (spec cloudforet/monitoring.md B.4)."""
    ParseDict(event, event_pb2.EventInfo())  # every field exists with its proto type
    assert event["event_type"] in ("ALERT", "RECOVERY")
    assert event["severity"] in SEVERITIES
    assert len(event["event_key"]) == 64
    assert isinstance(event["title"], str) and event["title"]
    assert all(isinstance(v, str) for v in event["additional_info"].values())
    if "occurred_at" in event:
        assert event["occurred_at"].endswith("Z")
        assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None
    if "resource" in event:
        assert all(isinstance(v, str) for v in event["resource"].values())


def alert_item(index: int = 0) -> dict:
    return copy.deepcopy(load("v4-alerts-list.json")["data"][index])


def filled_template(values: dict[str, str]) -> dict:
    text = payloads.playbook_template()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


SAMPLE = {
    "{{trigger[0].alert_entity_info.uuid}}": "ebf72745-2c84-4e5a-a94e-7bec727a206c",
    "{{trigger[0].alert_entity_info.name}}": "Disk space usage high",
    "{{trigger[0].source_entity_info.uuid}}": "d8787814-4fe8-4ba5-931f-e1ee31c294a6",
    "{{trigger[0].source_entity_info.name}}": "10-0-0-103-aws-us-east-1a",
    "{{trigger[0].creation_time}}": "2026-01-06T09:24:19.032149Z",
    "{{playbook.playbook_name}}": "Push alerts to CloudForet",
}


# --- fixtures --------------------------------------------------------------------


def test_v4_alert_list_fixture_maps_each_alert():
    events = events_from_payload(load("v4-alerts-list.json"), prism_url=PRISM + "/")
    for event in events:
        check_event(event)
    first, second = events
    assert first == {
        "event_key": key_of("c17420bd-d048-4a3a-ba02-fb485cae2aaf"),
        "event_type": "ALERT",
        "title": "Degraded VM Recovery Point.",
        "description": "Recovery Point for VM ubuntu-vm failed to capture associated policies "
                       "and categories because Management plane is not available to get the "
                       "configuration.",
        "severity": "INFO",
        "rule": "A130172",
        "provider": "nutanix",
        "resource": {"resource_id": "7b9d5b24-b99a-4c62-516c-0fe0c20411dd",
                     "name": "ubuntu-vm", "resource_type": "inventory.CloudService"},
        "occurred_at": "2026-01-13T11:06:27.166178Z",
        "additional_info": {
            "ext_id": "c17420bd-d048-4a3a-ba02-fb485cae2aaf",
            "alert_type": "A130172",
            "cluster_ext_id": "00064715-c043-5d8f-ee4b-176ec875554d",
            "classifications": "DR",
            "source_entity_type": "vm",
            "source_entity_ext_id": "7b9d5b24-b99a-4c62-516c-0fe0c20411dd",
            "affected_entities": "ubuntu-vm (vm 7b9d5b24-b99a-4c62-516c-0fe0c20411dd)",
            "acknowledged": "false",
            "resolved": "false",
            "created_at": "2026-01-13T11:06:27.166178Z",
            "prism_link": PRISM + "/console/#page/alert_explorer",
        },
    }
    assert second["event_key"] == key_of("ebf72745-2c84-4e5a-a94e-7bec727a206c")
    assert second["title"] == "Disk space usage high for /var/log on Controller VM 10.0.0.108"
    assert second["description"] == (
        "Disk space usage for /var/log on Controller VM 10.0.0.108 has exceeded 75%.")
    assert (second["severity"], second["rule"]) == ("WARNING", "A1031")
    assert second["resource"] == {"resource_id": "d8787814-4fe8-4ba5-931f-e1ee31c294a6",
                                  "name": "10-0-0-103-aws-us-east-1a",
                                  "resource_type": "inventory.CloudService"}
    assert second["occurred_at"] == "2026-01-06T09:24:19.032149Z"
    assert second["additional_info"]["classifications"] == "Storage"
    assert second["additional_info"]["source_entity_type"] == "node"


def test_v4_event_list_fixture_maps_to_info_events_on_the_cluster():
    events = events_from_payload(load("v4-events-list.json"), prism_url=PRISM)
    for event in events:
        check_event(event)
    assert [(e["title"], e["rule"], e["severity"]) for e in events] == [
        ("Ultimate license applied to cluster", "LicenseAudit", "INFO"),
        ("Password changed for user admin", "PasswordAudit", "INFO"),
    ]
    assert events[1]["event_key"] == key_of("1f4d5f21-8bdd-4b15-8886-d232b5d030d8")
    assert events[1]["occurred_at"] == "2025-10-14T11:47:59.305178Z"
    assert events[1]["resource"]["resource_id"] == "0006411c-0286-bc71-9f02-191e334d457b"
    assert events[1]["additional_info"]["classifications"] == "UserAction"


def test_prism_element_vm_webhook_fixture_maps_to_an_info_event():
    (event,) = events_from_payload(load("webhook-vm-event.json"), prism_url=PRISM)
    check_event(event)
    ext_id = "vm:addfa04e-751f-456d-b35b-4550238a7389:VM.ON:2019-04-08T06:29:45Z"
    assert event["event_key"] == key_of(ext_id)
    assert (event["event_type"], event["severity"], event["rule"]) == ("ALERT", "INFO", "VM.ON")
    assert event["title"] == "VM example powered on"
    assert event["description"] == (
        "Prism reported VM.ON for VM example (addfa04e-751f-456d-b35b-4550238a7389). "
        "Host: 10.10.10.101. Cluster: ntnx-ahv-cluster. Power state: ON.")
    assert event["resource"] == {"resource_id": "addfa04e-751f-456d-b35b-4550238a7389",
                                 "name": "example", "resource_type": "inventory.CloudService"}
    assert event["occurred_at"] == "2019-04-08T06:29:45Z"
    assert event["additional_info"]["cluster_ext_id"] == "00057f6b-7d3b-efcc-0000-000000025225"
    assert event["additional_info"]["affected_entities"] == (
        "10.10.10.101 (host 041ceddb-ad28-4fa2-88ee-9236c2378366); "
        "ntnx-ahv-cluster (cluster 00057f6b-7d3b-efcc-0000-000000025225)")


def test_vm_delete_is_a_warning_and_unknown_webhook_events_are_ignored():
    body = load("webhook-vm-event.json")
    body["event_type"] = "VM.DELETE"
    del body["data"]  # a deleted VM may come without its intent
    (event,) = events_from_payload(body)
    assert (event["severity"], event["title"]) == (
        "WARNING", "VM addfa04e-751f-456d-b35b-4550238a7389 deleted")
    assert "occurred_at" not in event
    body["event_type"] = "VM.SNAPSHOT"
    assert events_from_payload(body) == []


def test_redelivered_webhook_event_keeps_its_key_and_a_later_change_gets_a_new_one():
    body = load("webhook-vm-event.json")
    (first,) = events_from_payload(body)
    (again,) = events_from_payload(copy.deepcopy(body))
    body["data"]["metadata"]["metadata"]["last_update_time"] = "2019-04-08T07:00:00Z"
    (later,) = events_from_payload(body)
    assert first["event_key"] == again["event_key"] != later["event_key"]


# --- resolution ------------------------------------------------------------------


@pytest.mark.parametrize("flags", [
    {"isResolved": True},
    {"isAutoResolved": True},
    {"isResolved": True, "isAutoResolved": True},
])
def test_resolved_alert_is_recovery_with_the_key_of_its_alert(flags):
    item = alert_item(1)
    (alert_event,) = events_from_payload(item)
    item.update(flags, resolvedTime="2026-01-15T11:48:10.613952Z")
    (recovery,) = events_from_payload(item)
    check_event(recovery)
    assert alert_event["event_type"] == "ALERT"
    assert recovery["event_type"] == "RECOVERY"
    assert recovery["event_key"] == alert_event["event_key"]
    assert recovery["occurred_at"] == "2026-01-15T11:48:10.613952Z"
    assert recovery["description"].endswith("Resolved at 2026-01-15T11:48:10.613952Z.")


def test_recovery_without_resolved_time_falls_back_to_last_update():
    item = alert_item(1)
    item["isResolved"] = True
    (recovery,) = events_from_payload(item)
    assert recovery["occurred_at"] == "2026-01-15T11:48:10.613952Z"  # lastUpdatedTime


# --- v4 shapes -------------------------------------------------------------------


def test_v4_envelope_single_object_list_and_data_object_all_map():
    envelope = load("v4-alerts-list.json")
    keys = [e["event_key"] for e in events_from_payload(envelope)]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert [e["event_key"] for e in events_from_payload(envelope["data"])] == keys
    assert [e["event_key"] for e in events_from_payload(envelope["data"][1])] == keys[1:]
    assert [e["event_key"] for e in events_from_payload({"data": envelope["data"][0]})] == keys[:1]


def test_object_type_on_the_first_item_only_still_maps_the_rest():
    items = load("v4-alerts-list.json")["data"]
    for item in items[1:]:
        del item["$objectType"]
    assert len(events_from_payload({"data": items})) == 2


def test_empty_v4_results_and_audits_give_no_events():
    assert events_from_payload([]) == []
    assert events_from_payload({"data": []}) == []
    assert events_from_payload({"$objectType": "monitoring.v4.serviceability."
                                "ListAlertsApiResponse", "metadata": {}}) == []
    audit = {"$objectType": "monitoring.v4.serviceability.Audit", "extId": "a-1"}
    assert events_from_payload({"data": [audit]}) == []


def test_to_events_uses_the_cluster_when_there_is_no_source_entity():
    item = alert_item(1)
    del item["sourceEntity"]
    alert = payloads.parse(item)[0]
    (event,) = to_events(alert, prism_url="")
    assert event["resource"]["resource_id"] == "00064715-c043-5d8f-ee4b-176ec875554d"
    assert "prism_link" not in event["additional_info"]
    assert event["event_key"] == event_key(alert)


# --- the shipped Playbook body -----------------------------------------------------


def test_playbook_template_uses_only_parameters_seen_in_sources():
    text = payloads.playbook_template()
    body = json.loads(text)  # valid JSON before Prism fills it in
    assert body["format"] == payloads.PLAYBOOK_FORMAT
    used = {v for v in body.values() if "{{" in v}
    assert used == set(SAMPLE)


def test_filled_playbook_template_parses_and_matches_the_polled_alert_key():
    (event,) = events_from_payload(filled_template(SAMPLE), prism_url=PRISM)
    check_event(event)
    (polled,) = events_from_payload(alert_item(1))
    assert event["event_key"] == polled["event_key"]
    assert (event["event_type"], event["severity"]) == ("ALERT", "WARNING")
    assert event["title"] == "Disk space usage high"
    assert event["resource"] == {"resource_id": "d8787814-4fe8-4ba5-931f-e1ee31c294a6",
                                 "name": "10-0-0-103-aws-us-east-1a",
                                 "resource_type": "inventory.CloudService"}
    assert event["occurred_at"] == "2026-01-06T09:24:19.032149Z"


def test_playbook_values_prism_left_unfilled_count_as_absent():
    values = dict(SAMPLE)
    del values["{{trigger[0].creation_time}}"]
    del values["{{trigger[0].alert_entity_info.uuid}}"]
    (event,) = events_from_payload(filled_template(values))
    (again,) = events_from_payload(filled_template(values))
    assert "occurred_at" not in event
    assert event["event_key"] == again["event_key"]  # derived id is stable
    assert event["event_key"] != key_of(SAMPLE["{{trigger[0].alert_entity_info.uuid}}"])


def test_playbook_epoch_creation_time_severity_case_and_resolution():
    body = filled_template(SAMPLE)
    body.update({"creation_time": "1767691459032149", "severity": "critical", "resolved": "true"})
    (event,) = events_from_payload(body)
    assert event["occurred_at"] == "2026-01-06T09:24:19.032149Z"
    assert (event["severity"], event["event_type"]) == ("CRITICAL", "RECOVERY")
    body.update({"severity": "{{trigger[0].severity}}", "resolved": False})
    (event,) = events_from_payload(body)
    assert (event["severity"], event["event_type"]) == ("NOT_AVAILABLE", "ALERT")


def test_playbook_without_alert_uuid_or_name_is_invalid():
    body = filled_template(SAMPLE)
    del body["alert_uuid"]
    body["alert_name"] = "{{trigger[0].alert_entity_info.name}}"
    with pytest.raises(InvalidInput, match="neither alert_uuid nor alert_name"):
        events_from_payload(body)


def test_struct_floats_render_as_ints():
    """Bodies relayed by CloudForet's Event.parse are Structs: every number a float."""
    struct_body = json.loads(json.dumps(alert_item(1)), parse_int=float)
    (event,) = events_from_payload(struct_body)
    assert event["description"] == (
        "Disk space usage for /var/log on Controller VM 10.0.0.108 has exceeded 75%.")


# --- anything else -----------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "hunter2", 5, None, True, {}, {"password": "hunter2"}, [1], [{"extId": "x"}],
    {"data": 5}, {"data": ["hunter2"]}, {"format": "cloudforet-nutanix-playbook-alert/v9"},
    {"event_type": "VM.ON", "entity_reference": {"kind": "vm"}},
    {"$objectType": "monitoring.v4.serviceability.Alert", "title": "no id"},
])
def test_unrecognised_bodies_are_invalid_input_without_echoing_them(body):
    with pytest.raises(InvalidInput) as caught:
        events_from_payload(body)
    assert "hunter2" not in str(caught.value)


def test_too_deep_a_body_is_invalid_input():
    body: list = []
    for _ in range(200):
        body = [body]
    with pytest.raises(InvalidInput, match="nested deeper"):
        events_from_payload(body)


def test_a_list_reports_every_bad_item():
    good = alert_item(0)
    with pytest.raises(InvalidInput) as caught:
        events_from_payload([good, 7, {"x": 1}])
    assert caught.value.problems == [
        "item 1 is not a JSON object",
        "item 2: unrecognised webhook body: " + payloads._EXPECTED,
    ]


# --- any input: events or InvalidInput, nothing else ---------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=20,
)
FIXTURE_BODIES = [load("v4-alerts-list.json"), load("v4-events-list.json"),
                  load("webhook-vm-event.json"), filled_template(SAMPLE), alert_item(1)]
# keys the parsers read, so mutations hit them often
KEYS = ["extId", "title", "message", "severity", "parameters", "paramValue", "paramName",
        "stringValue", "intValue", "sourceEntity", "affectedEntities", "creationTime",
        "lastUpdatedTime", "isResolved", "isAutoResolved", "resolvedTime", "classifications",
        "clusterUUID", "$objectType", "data", "event_type", "entity_reference", "uuid",
        "metadata", "status", "spec", "name", "last_update_time", "spec_version", "format",
        "alert_uuid", "alert_name", "creation_time", "resolved", "eventType"]


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def set_at(body, path, value):
    if not path:
        return value
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


@st.composite
def mutated_fixtures(draw):
    body = copy.deepcopy(draw(st.sampled_from(FIXTURE_BODIES)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(list(paths(body))))
        action = draw(st.sampled_from(["drop", "replace", "wrap", "set_key"]))
        if action == "drop" and where:
            parent = body
            for step in where[:-1]:
                parent = parent[step]
            del parent[where[-1]]
        elif action == "replace":
            body = set_at(body, where, draw(JSON))
        elif action == "wrap":
            target = body
            for step in where:
                target = target[step]
            body = set_at(body, where, [copy.deepcopy(target)])
        elif action == "set_key":
            target = body
            for step in where:
                target = target[step]
            if isinstance(target, dict):
                target[draw(st.sampled_from(KEYS))] = draw(JSON)
    return body


def events_or_invalid(body) -> None:
    try:
        events = events_from_payload(body, prism_url=PRISM)
    except InvalidInput as err:
        assert str(err)
        return
    assert isinstance(events, list)
    for event in events:
        check_event(event)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_value_gives_events_or_invalid_input(body):
    events_or_invalid(body)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fixtures())
def test_mutated_fixtures_give_events_or_invalid_input(body):
    events_or_invalid(body)
