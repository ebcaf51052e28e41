"""Metrics end to end: gRPC stub -> plugin (family metric) -> collect function -> simulator.

Expected values are recomputed here from the simulator's documented formula
(tests/simulator/stats.py module doc), written out independently:

    sample(t) = lo + floor((hi - lo) * u(f"{ext_id}|{metric}|{t}")),
    u(key)    = first 8 bytes of sha256(key) / 2**64,

bucket T of interval S = Prism's stat over the samples at T-S+30 ... T (AVG:
integer mean, halves up), then our unit conversion. One worked example is
spelled out in numbers.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import json_format
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from spaceone.api.monitoring.plugin import (
    data_source_pb2,
    data_source_pb2_grpc,
    metric_pb2,
    metric_pb2_grpc,
)

from tests.processes import collect_behind_plugin
from tests.simulator import Inventory, Simulator
from tests.simulator.stats import sample

USERNAME, PASSWORD = "metrics-admin", "Metrics/Secret-42"
START, END = "2025-06-21T03:00:00.000Z", "2025-06-21T04:00:00.000Z"
T0 = datetime(2025, 6, 21, 3, 0, tzinfo=UTC)
VM_ROUTE = "GET vmm/stats/vms/{extId}"
HOST_ROUTE = "GET clustermgmt/stats/clusters/{clusterExtId}/hosts/{extId}"
CLUSTER_ROUTE = "GET clustermgmt/stats/clusters/{extId}"

# Prism stat -> (lo, hi) from the simulator's tables; our conversion per metric key
BOUNDS = {("vm", "hypervisorCpuUsagePpm"): (10_000, 900_000),
          ("vm", "controllerIoBandwidthKbps"): (0, 200_000),
          ("vm", "hypervisorNumReceivedBytes"): (0, 50_000_000),
          ("host", "controllerAvgIoLatencyUsecs"): (200, 3_000),
          ("cluster", "aggregateHypervisorMemoryUsagePpm"): (200_000, 900_000),
          ("cluster", "hypervisorCpuUsagePpm"): (50_000, 800_000)}
CONVERT = {"cpu_usage": lambda v: v / 10_000, "memory_usage": lambda v: v / 10_000,
           "storage_latency": lambda v: v / 1_000, "storage_bandwidth": lambda v: v * 1024,
           "network_received": lambda v: round(v / 30, 3)}
SOURCE = {("vm", "cpu_usage"): "hypervisorCpuUsagePpm",
          ("vm", "storage_bandwidth"): "controllerIoBandwidthKbps",
          ("vm", "network_received"): "hypervisorNumReceivedBytes",
          ("host", "storage_latency"): "controllerAvgIoLatencyUsecs",
          ("cluster", "memory_usage"): "aggregateHypervisorMemoryUsagePpm",
          ("cluster", "cpu_usage"): "hypervisorCpuUsagePpm"}


def u(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def bucket(entity_type: str, ext_id: str, metric_key: str, t: int, step: int,
           stat: str) -> float:
    name = SOURCE[(entity_type, metric_key)]
    lo, hi = BOUNDS[(entity_type, name)]
    samples = [lo + math.floor((hi - lo) * u(f"{ext_id}|{name}|{s}"))
               for s in range(t - step + 30, t + 1, 30)]
    value = {"AVERAGE": (2 * sum(samples) + len(samples)) // (2 * len(samples)),
             "MAX": max(samples), "MIN": min(samples), "SUM": sum(samples)}[stat]
    return CONVERT[metric_key](value)


def epoch(label: str) -> int:
    return int(datetime.fromisoformat(label).timestamp())


# -- the stack ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inventory():
    return Inventory.generate(clusters=1, hosts_per_cluster=2, vms=8, seed=7)


@pytest.fixture(scope="module")
def sim(inventory):
    with Simulator(inventory, username=USERNAME, password=PASSWORD, tls=True) as started:
        yield started


@pytest.fixture
def prism(sim):
    sim.clear_faults()
    sim.reset_counters()
    yield sim
    sim.clear_faults()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from collect_behind_plugin("metric", tmp_path_factory)


def secret_for(sim, **override) -> dict:
    return {"host": sim.host, "port": sim.port, "username": USERNAME, "password": PASSWORD,
            "ca_pem": sim.ca_pem, **override}


def query_of(record) -> dict:
    """What the inventory mapping puts at data.prism_stats."""
    if hasattr(record, "power_state"):
        return {"entity_type": "vm", "ext_id": record.ext_id,
                "cluster_ext_id": record.cluster_ext_id}
    if hasattr(record, "cvm_ip"):
        return {"entity_type": "host", "ext_id": record.ext_id,
                "cluster_ext_id": record.cluster_ext_id}
    return {"entity_type": "cluster", "ext_id": record.ext_id, "cluster_ext_id": record.ext_id}


def list_metrics(channel, sim, query: dict) -> list[dict]:
    request = json_format.ParseDict({"secret_data": secret_for(sim), "query": query},
                                    metric_pb2.MetricRequest())
    reply = metric_pb2_grpc.MetricStub(channel).list(request)
    return json_format.MessageToDict(reply, preserving_proto_field_name=True)["metrics"]


def get_data(channel, sim, metric_query: dict, metric: str = "cpu_usage", *,
             start: str = START, end: str = END, period: int | None = 300,
             stat: str | None = "AVERAGE", options: dict | None = None,
             secret: dict | None = None) -> dict:
    body = {"options": options or {}, "secret_data": secret or secret_for(sim),
            "metric_query": metric_query, "metric": metric, "start": start, "end": end}
    if period is not None:
        body["period"] = period
    if stat is not None:
        body["stat"] = stat
    reply = metric_pb2_grpc.MetricStub(channel).get_data(
        json_format.ParseDict(body, metric_pb2.MetricDataRequest()))
    out = json_format.MessageToDict(reply, preserving_proto_field_name=True)
    return {"labels": out.get("labels", []), "values": out.get("values", {})}


def on_vms(inventory) -> list:
    return [v for v in inventory.vms if v.power_state == "ON"]


# -- DataSource ------------------------------------------------------------------------------


def test_reflection_shows_exactly_the_metric_family(stack):
    channel, *_ = stack
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(stub.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answer.list_services_response.service}
    assert {"spaceone.api.monitoring.plugin.DataSource",
            "spaceone.api.monitoring.plugin.Metric"} <= names
    assert not any(".inventory." in n or ".cost_analysis." in n or "Webhook" in n
                   for n in names)


def test_init_publishes_stats_and_required_keys(stack):
    channel, *_ = stack
    info = data_source_pb2_grpc.DataSourceStub(channel).init(data_source_pb2.InitRequest())
    metadata = json_format.MessageToDict(info.metadata)
    assert metadata["supported_stat"] == ["AVERAGE", "MAX", "MIN", "SUM"]
    assert metadata["required_keys"] == ["data.prism_stats"]
    assert metadata["supported_providers"] == ["nutanix"]


def test_init_with_bad_options_is_invalid_argument(stack):
    channel, *_ = stack
    request = json_format.ParseDict({"options": {"concurrency": 0}},
                                    data_source_pb2.InitRequest())
    with pytest.raises(grpc.RpcError) as caught:
        data_source_pb2_grpc.DataSourceStub(channel).init(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("ERROR_INVALID_ARGUMENT: ")


def test_verify_accepts_good_credentials_and_refuses_bad(stack, prism):
    channel, *_ = stack
    stub = data_source_pb2_grpc.DataSourceStub(channel)
    stub.verify(json_format.ParseDict({"secret_data": secret_for(prism)},
                                      data_source_pb2.PluginVerifyRequest()))
    bad = json_format.ParseDict({"secret_data": secret_for(prism, password="wrong-password")},
                                data_source_pb2.PluginVerifyRequest())
    with pytest.raises(grpc.RpcError) as caught:
        stub.verify(bad)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


# -- Metric.list ---------------------------------------------------------------------------


def test_list_answers_the_metrics_of_each_entity_type(stack, prism, inventory):
    channel, *_ = stack
    vm, host, cluster = inventory.vms[0], inventory.hosts[0], inventory.aos_clusters[0]
    vm_metrics = list_metrics(channel, prism, query_of(vm))
    keys = {m["key"] for m in vm_metrics}
    assert {"cpu_usage", "memory_usage", "storage_read_iops", "storage_write_iops",
            "storage_latency", "storage_bandwidth", "network_received",
            "network_transmitted"} <= keys
    cpu = next(m for m in vm_metrics if m["key"] == "cpu_usage")
    assert cpu["unit"] == {"x": "Timestamp", "y": "Percent"}
    assert cpu["group"] == "CPU"
    assert cpu["metric_query"] == query_of(vm)  # comes back to get_data per cloud service
    host_keys = {m["key"] for m in list_metrics(channel, prism, query_of(host))}
    cluster_keys = {m["key"] for m in list_metrics(channel, prism, query_of(cluster))}
    assert "network_received" not in host_keys | cluster_keys
    assert {"cpu_usage", "storage_latency"} <= host_keys & cluster_keys
    assert prism.counters["requests"] == 0  # the catalogue needs no Prism call


def test_list_without_prism_stats_is_invalid_argument(stack, prism):
    channel, *_ = stack
    with pytest.raises(grpc.RpcError) as caught:
        list_metrics(channel, prism, {})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "data.prism_stats" in caught.value.details()


# -- Metric.get_data: values -------------------------------------------------------------------


@pytest.mark.parametrize(("entity_type", "name"), sorted(BOUNDS))
def test_the_hand_formula_is_the_simulators_sample(inventory, entity_type, name):
    """The expectations below are only as good as this agreement."""
    record = {"vm": inventory.vms[0], "host": inventory.hosts[1],
              "cluster": inventory.aos_clusters[0]}[entity_type]
    lo, hi = BOUNDS[(entity_type, name)]
    for t in range(int(T0.timestamp()), int(T0.timestamp()) + 600, 30):
        by_hand = lo + math.floor((hi - lo) * u(f"{record.ext_id}|{name}|{t}"))
        assert by_hand == sample(inventory, record, name, t)


def test_worked_example_cpu_usage(stack, prism, inventory):
    """VM 1d87cec3, bucket 03:05 (epoch 1750475100), S = 300: the ten 30 s samples
    474481 122989 514647 868560 755143 850322 589731 501000 167119 108227 ppm.
    AVERAGE 4952219 / 10 = 495221.9 -> 495222 ppm = 49.5222 %; MAX 86.856 %;
    MIN 10.8227 %; SUM 495.2219 %."""
    channel, *_ = stack
    vm = inventory.vms[0]
    assert vm.ext_id == "1d87cec3-1f72-46ab-b961-fd925d39d0a8"  # seed 7's first VM
    for stat, expected in (("AVERAGE", 49.5222), ("MAX", 86.856), ("MIN", 10.8227),
                           ("SUM", 495.2219)):
        answer = get_data(channel, prism, {"cs-vm": query_of(vm)}, stat=stat)
        assert answer["labels"][1] == "2025-06-21T03:05:00.000Z"
        assert answer["values"]["cs-vm"][1] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("entity_type", "metric", "stat"), [
    ("vm", "cpu_usage", "AVERAGE"), ("vm", "cpu_usage", "MAX"), ("vm", "cpu_usage", "MIN"),
    ("vm", "cpu_usage", "SUM"), ("vm", "storage_bandwidth", "MAX"),
    ("vm", "network_received", "AVERAGE"), ("host", "storage_latency", "AVERAGE"),
    ("cluster", "memory_usage", "MIN"), ("cluster", "cpu_usage", "SUM"),
])
def test_values_and_units_match_the_stats_formula(stack, prism, inventory, entity_type,
                                                  metric, stat):
    channel, *_ = stack
    record = {"vm": inventory.vms[0], "host": inventory.hosts[1],
              "cluster": inventory.aos_clusters[0]}[entity_type]
    answer = get_data(channel, prism, {"cs-1": query_of(record)}, metric, stat=stat)
    labels = answer["labels"]
    assert labels == [(T0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                      for i in range(13)]
    expected = [bucket(entity_type, record.ext_id, metric, epoch(label), 300, stat)
                for label in labels]
    assert answer["values"]["cs-1"] == pytest.approx(expected, abs=1e-9)


def test_period_is_resampled_to_the_nearest_prism_interval(stack, prism, inventory):
    channel, *_ = stack
    vm = inventory.vms[0]
    answer = get_data(channel, prism, {"cs-vm": query_of(vm)}, period=400)  # -> 390 s
    times = [epoch(label) for label in answer["labels"]]
    steps = {b - a for a, b in zip(times, times[1:], strict=False)}
    assert steps == {390}
    assert all(epoch(label) % 390 == 0 for label in answer["labels"])
    expected = [bucket("vm", vm.ext_id, "cpu_usage", epoch(label), 390, "AVERAGE")
                for label in answer["labels"]]
    assert answer["values"]["cs-vm"] == pytest.approx(expected, abs=1e-9)
    cluster = inventory.aos_clusters[0]
    fine = get_data(channel, prism, {"cs-c": query_of(cluster)}, period=30)  # floor 120 s
    assert len(fine["labels"]) == 31
    assert epoch(fine["labels"][1]) - epoch(fine["labels"][0]) == 120
    assert prism.counters["by_route"] == {VM_ROUTE: 1, CLUSTER_ROUTE: 1}


def test_without_period_a_chart_has_about_sixty_points(stack, prism, inventory):
    channel, *_ = stack
    answer = get_data(channel, prism, {"cs-vm": query_of(inventory.vms[0])}, period=None,
                      stat=None, end="2025-06-22T03:00:00.000Z")  # one day
    assert len(answer["labels"]) == 49  # 30-minute buckets, both ends included
    expected = bucket("vm", inventory.vms[0].ext_id, "cpu_usage",
                      epoch(answer["labels"][3]), 1800, "AVERAGE")
    assert answer["values"]["cs-vm"][3] == pytest.approx(expected, abs=1e-9)


def test_many_resources_one_prism_request_each_within_the_concurrency(stack, prism,
                                                                      inventory):
    channel, *_ = stack
    query = {f"cs-vm-{i}": query_of(vm) for i, vm in enumerate(inventory.vms)}
    query["cs-host"] = query_of(inventory.hosts[0])
    query["cs-cluster"] = query_of(inventory.aos_clusters[0])
    prism.set_latency(0.05)  # requests overlap: the bound shows
    answer = get_data(channel, prism, query, "storage_latency", options={"concurrency": 3})
    counters = prism.counters
    assert counters["by_route"] == {VM_ROUTE: len(inventory.vms), HOST_ROUTE: 1,
                                    CLUSTER_ROUTE: 1}
    assert counters["max_in_flight"] <= 3
    assert set(answer["values"]) == set(query)
    for i, vm in enumerate(inventory.vms):
        values = answer["values"][f"cs-vm-{i}"]
        assert len(values) == len(answer["labels"])
        if vm.power_state == "ON":
            assert None not in values
            assert all(0.1 <= v <= 5.0 for v in values)  # 100..5000 us as ms
        else:
            assert values == [None] * len(answer["labels"])  # no samples while OFF


def test_each_request_asks_prism_for_the_one_stat_only(stack, prism, inventory, monkeypatch):
    """A real Prism Central sends ~90 VM stats per point unless told ($select)."""
    channel, *_ = stack
    asked = []
    original = prism.v4.op_vm_stats

    def spy(req, kind, ext_id):
        asked.append(req.param("$select"))
        return original(req, kind=kind, ext_id=ext_id)

    monkeypatch.setattr(prism.v4, "op_vm_stats", spy)
    answer = get_data(channel, prism, {"cs-vm": query_of(inventory.vms[0])}, "storage_latency")
    assert asked == ["controllerAvgIoLatencyMicros"]
    assert None not in answer["values"]["cs-vm"]


def test_labels_stop_at_the_present(stack, prism, inventory):
    channel, *_ = stack
    now = datetime.now(UTC)
    answer = get_data(channel, prism, {"cs-vm": query_of(inventory.vms[0])},
                      start=(now - timedelta(minutes=30)).isoformat(),
                      end=(now + timedelta(hours=2)).isoformat())
    assert 5 <= len(answer["labels"]) <= 7
    assert datetime.fromisoformat(answer["labels"][-1]) <= now
    assert None not in answer["values"]["cs-vm"]


# -- Metric.get_data: errors ---------------------------------------------------------------


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(("changes", "needle"), [
    ({"metric": "gpu_usage"}, "unknown metric 'gpu_usage'"),
    ({"stat": "MEDIAN"}, "unsupported stat"),
    ({"start": "yesterday"}, "start"),
    ({"start": END, "end": START}, "start must be before end"),
    ({"metric_query": {"cs-1": {"entity_type": "vm"}}}, "metric_query.cs-1.ext_id"),
])
def test_bad_requests_are_invalid_argument(stack, prism, inventory, changes, needle):
    channel, *_ = stack
    query = changes.pop("metric_query", {"cs-1": query_of(inventory.vms[0])})
    err = rpc_error(lambda: get_data(channel, prism, query, **changes))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in err.details()
    assert prism.counters["requests"] == 0  # refused before any Prism call


def test_a_metric_the_entity_type_lacks_is_invalid_argument(stack, prism, inventory):
    channel, *_ = stack
    err = rpc_error(lambda: get_data(channel, prism, {
        "cs-c": query_of(inventory.aos_clusters[0])}, "network_received"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not available for cluster" in err.details()


def test_an_unknown_resource_alone_is_not_found(stack, prism):
    channel, *_ = stack
    missing = {"entity_type": "vm", "ext_id": "00000000-dead-beef-0000-000000000000"}
    err = rpc_error(lambda: get_data(channel, prism, {"cs-gone": missing}))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "00000000-dead-beef-0000-000000000000" in err.details()


def test_an_unknown_resource_among_others_is_left_out(stack, prism, inventory):
    channel, *_ = stack
    vm = on_vms(inventory)[1]
    answer = get_data(channel, prism, {
        "cs-gone": {"entity_type": "vm", "ext_id": "00000000-dead-beef-0000-000000000000"},
        "cs-vm": query_of(vm)})
    assert set(answer["values"]) == {"cs-vm"}
    assert answer["values"]["cs-vm"][0] == pytest.approx(
        bucket("vm", vm.ext_id, "cpu_usage", epoch(answer["labels"][0]), 300, "AVERAGE"))


def test_a_prism_central_without_v4_stats_says_so(stack, inventory):
    channel, *_ = stack
    with Simulator(inventory, username=USERNAME, password=PASSWORD, tls=True,
                   serve_v4=False) as v3_only:
        err = rpc_error(lambda: get_data(channel, v3_only, {
            "cs-vm": query_of(inventory.vms[0])}))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "does not serve the v4 stats API (vmm v4.0)" in err.details()


def test_wrong_password_is_unauthenticated_and_never_logged(stack, prism, inventory):
    channel, collect, plugin = stack
    err = rpc_error(lambda: get_data(channel, prism, {"cs-1": query_of(inventory.vms[0])},
                                     secret=secret_for(prism, password="Not-The-Password")))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    for text in (collect.log_text(), plugin.log_text()):
        assert PASSWORD not in text
        assert "Not-The-Password" not in text
