"""The pure parts of metrics: catalogue, intervals, labels, alignment, the values encoding.

No process here (tests/test_metrics_e2e.py goes through gRPC); these pin the
rules a chart depends on with numbers worked out by hand.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.struct_pb2 import Struct
from hypothesis import given
from hypothesis import strategies as st

from functions.plugin.metric import encode_values, metric_data_info
from shared.errors import BadResponse, InvalidInput
from shared.metrics import catalogue, series
from shared.metrics.catalogue import METRICS

T0 = datetime(2025, 6, 21, 3, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=365)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- catalogue ------------------------------------------------------------------------------


def test_metadata_has_what_cloudforet_requires():
    meta = catalogue.metadata()
    assert meta["supported_stat"] == ["AVERAGE", "MAX", "MIN", "SUM"]
    assert meta["required_keys"] == ["data.prism_stats"]  # the inventory mapping's path
    assert meta["supported_providers"] == ["nutanix"]


def test_every_entity_type_has_the_issue_metrics():
    wanted = {"cpu_usage", "memory_usage", "storage_read_iops", "storage_write_iops",
              "storage_latency", "storage_bandwidth"}
    for entity_type in catalogue.ENTITY_TYPES:
        assert wanted <= {m.key for m in catalogue.for_entity(entity_type)}
    assert {"network_received", "network_transmitted"} <= {
        m.key for m in catalogue.for_entity("vm")}
    assert "network_received" not in {m.key for m in catalogue.for_entity("cluster")}


@pytest.mark.parametrize(("key", "raw", "expected"), [
    ("cpu_usage", 201140, 20.114),  # fixture v4-vm-stats.json: 201140 ppm = 20.114 %
    ("memory_usage", 1_000_000, 100.0),
    ("storage_latency", 282, 0.282),  # 282 us = 0.282 ms
    ("storage_bandwidth", 1704, 1704 * 1024),  # KiB/s -> B/s
    ("storage_iops", 159, 159),
    ("network_received", 133661, 4455.367),  # bytes in a 30 s sample -> B/s, 3 decimals
])
def test_units_convert_to_what_people_read(key, raw, expected):
    win = series.Window(T0, at(5), 300, int(T0.timestamp()), 1)
    assert series.align([T0], [raw], win, METRICS[key], "AVG") == [expected]


def test_units_are_stated():
    assert {m.key: m.unit for m in METRICS.values()} == {
        "cpu_usage": "Percent", "cpu_ready_time": "Percent", "memory_usage": "Percent",
        "storage_iops": "Count/Second", "storage_read_iops": "Count/Second",
        "storage_write_iops": "Count/Second", "storage_latency": "Milliseconds",
        "storage_read_latency": "Milliseconds", "storage_write_latency": "Milliseconds",
        "storage_bandwidth": "Bytes/Second", "storage_read_bandwidth": "Bytes/Second",
        "storage_write_bandwidth": "Bytes/Second", "network_received": "Bytes/Second",
        "network_transmitted": "Bytes/Second"}
    info = METRICS["cpu_usage"].info({"entity_type": "vm", "ext_id": "x"})
    assert info["unit"] == {"x": "Timestamp", "y": "Percent"}
    assert info["metric_query"] == {"entity_type": "vm", "ext_id": "x"}


def test_host_and_cluster_read_clustermgmt_names():
    assert METRICS["storage_latency"].sources == {
        "vm": "controllerAvgIoLatencyMicros", "host": "controllerAvgIoLatencyUsecs",
        "cluster": "controllerAvgIoLatencyUsecs"}
    assert METRICS["memory_usage"].sources["cluster"] == "aggregateHypervisorMemoryUsagePpm"


@pytest.mark.parametrize(("query", "problem"), [
    ({}, "data.prism_stats"),
    (None, "data.prism_stats"),
    ({"entity_type": "disk", "ext_id": "a"}, "entity_type"),
    ({"entity_type": "vm", "ext_id": ""}, "ext_id"),
    ({"entity_type": "host", "ext_id": "h"}, "cluster_ext_id"),
])
def test_bad_queries_name_the_problem(query, problem):
    with pytest.raises(InvalidInput) as caught:
        catalogue.resource(query)
    assert problem in str(caught.value)


def test_bad_metric_query_lists_every_resource():
    with pytest.raises(InvalidInput) as caught:
        catalogue.resources({"a": {"entity_type": "vm"}, "b": {"ext_id": "x"}})
    assert "metric_query.a.ext_id" in str(caught.value)
    assert "metric_query.b.entity_type" in str(caught.value)


def test_unknown_metric_and_metric_of_another_type_are_invalid():
    with pytest.raises(InvalidInput, match="unknown metric 'gpu'"):
        catalogue.metric("gpu", {"vm"})
    with pytest.raises(InvalidInput, match="not available for cluster"):
        catalogue.metric("network_received", {"vm", "cluster"})
    assert catalogue.metric("cpu_usage", {"vm", "host", "cluster"}).key == "cpu_usage"


def test_stats_map_to_prism_stat_types():
    assert [catalogue.stat(s) for s in ("AVERAGE", "MAX", "MIN", "SUM", None, "")] == \
        ["AVG", "MAX", "MIN", "SUM", "AVG", "AVG"]
    with pytest.raises(InvalidInput):
        catalogue.stat("MEDIAN")


# -- intervals and labels -------------------------------------------------------------------


@pytest.mark.parametrize(("span_s", "period", "floor_s", "expected"), [
    (3600, 300, 30, 300),  # a multiple of 30 s is kept
    (3600, 400, 30, 390),  # nearest multiple of 30 s
    (3600, 44, 30, 30),
    (3600, 45, 30, 60),  # halves round up
    (3600, 60, 120, 120),  # clusters and hosts: 120 s floor
    (3600, 10, 30, 30),
    (3600, None, 30, 60),  # no period: ~60 points of a round length
    (86400, None, 30, 1800),
    (86400, None, 120, 1800),
    (30 * 86400, 300, 30, 300),  # 8,640 points: allowed
    (30 * 86400, 60, 30, 300),  # 43,200 points: coarsened to <= 10,000
    (365 * 86400, None, 30, 604800),
])
def test_interval(span_s, period, floor_s, expected):
    assert series.interval(span_s, period, floor_s) == expected


def test_labels_are_the_epoch_multiples_inside_the_range():
    win = series.window(at(1), at(61), 300, 30, LATER)
    assert (win.step_s, win.count) == (300, 12)  # 03:05 ... 04:00
    labels = win.labels
    assert labels[0] == "2025-06-21T03:05:00.000Z"
    assert labels[-1] == "2025-06-21T04:00:00.000Z"


def test_labels_stop_at_now():
    win = series.window(at(0), at(120), 300, 30, now=at(17))
    assert win.labels == ["2025-06-21T03:00:00.000Z", "2025-06-21T03:05:00.000Z",
                            "2025-06-21T03:10:00.000Z", "2025-06-21T03:15:00.000Z"]
    assert series.window(at(0), at(60), 300, 30, now=at(-1)).count == 0


def test_start_must_be_before_end():
    with pytest.raises(InvalidInput, match="start must be before end"):
        series.window(at(10), at(10), 300, 30, LATER)


@pytest.mark.parametrize("text", ["2025-06-21T03:00:00.000Z", "2025-06-21T03:00:00Z",
                                  "2025-06-21T05:00:00+02:00", "2025-06-21T03:00:00"])
def test_times_parse_as_utc(text):
    assert series.parse_time(text, "start") == T0


@pytest.mark.parametrize("text", ["", "yesterday", None, 5])
def test_bad_times_are_invalid(text):
    with pytest.raises(InvalidInput, match="start"):
        series.parse_time(text, "start")


# -- alignment ----------------------------------------------------------------------------


def columns(points: list[tuple]) -> tuple[list, list]:
    """(time, value) pairs as `align` takes them: a column of times, one of values."""
    return [t for t, _ in points], [v for _, v in points]


def test_points_fill_their_buckets_and_gaps_stay_null():
    win = series.window(at(0), at(20), 300, 30, LATER)  # 03:00 03:05 03:10 03:15 03:20
    points = [(at(0), 100_000), (at(10), 300_000), (at(20), 500_000)]
    assert series.align(*columns(points), win, METRICS["cpu_usage"], "AVG") == \
        [10.0, None, 30.0, None, 50.0]


def test_points_outside_the_window_are_dropped():
    win = series.window(at(0), at(10), 300, 30, LATER)
    points = [(at(-60), 1), (at(5), 2), (at(600), 3)]
    assert series.align(*columns(points), win, METRICS["storage_iops"], "AVG") == [None, 2, None]


@pytest.mark.parametrize(("stat", "expected"), [
    ("AVG", 20.0), ("MAX", 30.0), ("MIN", 10.0), ("SUM", 60.0)])
def test_finer_points_are_combined_with_the_stat(stat, expected):
    """Off-grid points (03:01, 03:03, 03:05) all belong to the bucket ending 03:05."""
    win = series.window(at(0), at(5), 300, 30, LATER)
    points = [(at(1), 100_000), (at(3), 300_000), (at(5), 200_000)]
    assert series.align(*columns(points), win, METRICS["cpu_usage"], stat) == [None, expected]


@given(st.lists(st.tuples(st.integers(-7200, 7200), st.integers(0, 10**9)), max_size=50),
       st.sampled_from([30, 60, 120, 300, 390]))
def test_align_always_answers_one_value_or_null_per_label(raw, step):
    win = series.window(at(0), at(60), step, 30, LATER)
    points = [(T0 + timedelta(seconds=s), v) for s, v in raw]
    values = series.align(*columns(points), win, METRICS["storage_iops"], "MAX")
    assert len(values) == win.count == len(win.labels)
    for index, value in enumerate(values):
        inside = [v for s, v in raw
                  if math.ceil((T0.timestamp() + s - win.first_s) / step) == index]
        assert value == (max(inside) if inside else None)


# -- the values Struct, written by hand ------------------------------------------------------


@given(st.dictionaries(st.text(max_size=20), st.lists(
    st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-2**53, 2**53)),
    max_size=40), max_size=5))
def test_packed_values_encode_to_the_struct_protobuf_builds(values):
    built, parsed = Struct(), Struct()
    built.update(values)
    parsed.MergeFromString(encode_values({k: series.pack(v) for k, v in values.items()}))
    assert parsed == built


def test_metric_data_info_carries_labels_and_values():
    info = metric_data_info({"labels": ["a", "b", "c"],
                             "values": {"cs-1": series.pack([1.5, None, 2])}})
    assert list(info.labels) == ["a", "b", "c"]
    assert list(info.values["cs-1"]) == [1.5, None, 2.0]


@pytest.mark.parametrize("text", ["not base64!", "AAAA"])  # "AAAA": 3 bytes, not 8
def test_unpacking_a_bad_reply_is_bad_response(text):
    with pytest.raises(BadResponse):
        series.unpack(text)
