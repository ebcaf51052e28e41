"""The fast paths of a metrics call give what the plain code they replaced gave.

A 100-VM, 30-day get_data reads 864,100 points, so the stats parser, `align`,
`pack`, the labels and the plugin's encoding each take a shortcut for the
usual answer (all ints, timestamps on the grid, in order, no gaps) and keep
the plain code for the rest. Here every shortcut and every way out of it is
compared with the plain code, kept below as the reference (`plain_*`): the
code as it was before the shortcuts.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.struct_pb2 import Struct
from hypothesis import given, settings
from hypothesis import strategies as st
from spaceone.api.monitoring.plugin import metric_pb2

from functions.plugin.metric import encode_metric_data_info, metric_data_info
from shared.metrics import series
from shared.metrics.catalogue import METRICS
from shared.prism.kinds import stats
from shared.prism.kinds._values import number, objs, timestamp
from shared.prism.models import StatSeries

FUZZ = settings(max_examples=150, deadline=None, database=None)
T0 = datetime(2025, 6, 21, 3, 0, tzinfo=UTC)


# -- the reference: the plain code ------------------------------------------------------------


def plain_series(points: dict[str, list]) -> list[StatSeries]:
    found = {metric: sorted(pairs, key=lambda p: p[0]) for metric, pairs in points.items()}
    return [StatSeries(metric=metric, times=tuple(t for t, _ in pairs),
                       values=tuple(v for _, v in pairs))
            for metric, pairs in sorted(found.items()) if pairs]


def plain_vm_stats(payload: Any) -> list[StatSeries]:
    points: dict[str, list] = {}
    for row in objs(stats._data(payload).get("stats")):
        at = timestamp(row.get("timestamp"))
        if at is None:
            continue
        for metric, raw in row.items():
            value = number(raw)
            if value is None or not stats._is_metric(metric):
                continue
            points.setdefault(metric, []).append((at, value))
    return plain_series(points)


def plain_entity_stats(payload: Any) -> list[StatSeries]:
    points: dict[str, list] = {}
    for metric, pairs in stats._data(payload).items():
        if not stats._is_metric(metric) or not isinstance(pairs, list):
            continue
        for pair in objs(pairs):
            at, value = timestamp(pair.get("timestamp")), number(pair.get("value"))
            if at is not None and value is not None:
                points.setdefault(metric, []).append((at, value))
    return plain_series(points)


def plain_align(points, win, metric, stat) -> list:
    values: list = [None] * win.count
    extra: dict[int, list] = {}
    for moment, raw in points:
        index = win.slots.get(moment)
        if index is None:
            index = math.ceil((moment.timestamp() - win.first_s) / win.step_s)
            if not 0 <= index < win.count:
                continue
        value = raw * metric.multiply / metric.divide
        if metric.digits is not None:
            value = round(value, metric.digits)
        if values[index] is None:
            values[index] = value
        else:
            extra.setdefault(index, []).append(value)
    for index, more in extra.items():
        values[index] = series._AGGREGATE[stat]([values[index], *more])
    return values


def columns(points: list[tuple]) -> tuple[list, list]:
    return [t for t, _ in points], [v for _, v in points]


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (an int is not its float)."""
    return repr(a) == repr(b)


def assert_parses_as_before(payload: Any) -> None:
    for _ in range(2):  # cold, then with every cache warm
        assert same(stats.vm_stats_from_v4(payload), plain_vm_stats(payload))
        assert same(stats.entity_stats_from_v4(payload), plain_entity_stats(payload))


def vm(*rows: Any) -> dict:
    return {"data": {"stats": list(rows)}}


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the stats parser -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, "123", "1.5", None, [], {}, float("nan"),
                                   float("inf"), -float("inf"), 10**30, -1.5, 0])
def test_a_value_is_read_as_before(value):
    """Bools and numeric strings are not numbers; NaN and infinities are dropped."""
    payload = vm({"timestamp": ts(0), "cpu": 1}, {"timestamp": ts(5), "cpu": value},
                 {"timestamp": ts(10), "cpu": 3})
    assert_parses_as_before(payload)
    assert_parses_as_before({"data": {"cpu": [{"timestamp": ts(0), "value": value}]}})


@pytest.mark.parametrize("text", [
    "garbage", "", "  ", None, 0, -5, 1_750_000_000, 1.75e12, True, [], {"a": 1},
    "2025-06-21T03:05:00.5Z", "2025-06-21T03:05:00.123456789Z", "2025-06-21T08:35:00+05:30",
    "2025-06-20T19:05:00-0800", "2025-06-21 03:05:00", "2025-06-21T03:05:00",
    "2025-02-30T00:00:00Z", " 2025-06-21T03:05:00Z ",
])
def test_a_timestamp_is_read_as_before(text):
    """Unparsable ones drop their tuple; offsets, fractions and epoch numbers are read."""
    payload = vm({"timestamp": ts(0), "cpu": 1}, {"timestamp": text, "cpu": 2},
                 {"timestamp": ts(10), "cpu": 3})
    assert_parses_as_before(payload)
    assert_parses_as_before({"data": {"cpu": [{"timestamp": ts(0), "value": 1},
                                              {"timestamp": text, "value": 2}]}})


def test_newest_first_and_shuffled_answers_come_out_oldest_first():
    for order in ([0, 5, 10, 15], [15, 10, 5, 0], [5, 15, 0, 10]):
        payload = vm(*({"timestamp": ts(m), "cpu": m} for m in order))
        assert_parses_as_before(payload)
        assert [t for t, _ in stats.vm_stats_from_v4(payload)[0].points] == sorted(
            T0 + timedelta(minutes=m) for m in order)


def test_duplicate_timestamps_keep_their_order():
    payload = vm({"timestamp": ts(5), "cpu": 1}, {"timestamp": ts(0), "cpu": 2},
                 {"timestamp": ts(5), "cpu": 3}, {"timestamp": "2025-06-21T08:35:00+05:30",
                                                  "cpu": 4})
    assert_parses_as_before(payload)
    assert [v for _, v in stats.vm_stats_from_v4(payload)[0].points] == [2, 1, 3, 4]


def test_tuples_with_their_own_metrics_and_rows_that_are_not_objects():
    payload = vm({"timestamp": ts(0), "$objectType": "x", "cluster": "c", "extId": 5},
                 {"timestamp": ts(5), "cpu": 1, "mem": 2.5, "links": 3, "tenantId": 4},
                 ["timestamp", "cpu"], "row", 7, None,
                 {"timestamp": ts(10), "mem": 7, 1: 2},
                 {"cpu": 9})
    assert_parses_as_before(payload)
    assert [s.metric for s in stats.vm_stats_from_v4(payload)] == ["cpu", "mem"]


def test_a_true_timestamp_is_not_the_epoch_second_one():
    """A column of text is remembered for the next answer; `True == 1` must not reuse it."""
    for column in ([1, 2], [True, 2], [1, 2], [ts(0), ts(5)], [ts(0), ts(5)], [True, 2]):
        assert_parses_as_before(vm(*({"timestamp": t, "cpu": 1} for t in column)))


def test_the_timestamp_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(stats, "MOMENTS_MAX", 3)
    monkeypatch.setattr(stats, "_moments", {})
    monkeypatch.setattr(stats, "_last", None)
    payload = vm(*({"timestamp": ts(m), "cpu": m} for m in range(0, 50, 5)))
    assert_parses_as_before(payload)
    assert 0 < len(stats._moments) <= 3


def test_answers_of_one_call_share_their_times():
    """What makes `series.align` cheap: one check of the times for all series of a call."""
    first, second = (stats.vm_stats_from_v4(vm(*({"timestamp": ts(m), "cpu": m + k}
                                                  for m in range(0, 60, 5))))[0]
                     for k in (0, 1))
    assert first.times is second.times
    assert first.values != second.values


def test_a_window_remembers_where_a_run_of_times_starts():
    times = GRID[3:9]
    assert WINDOW.run_start(times) == WINDOW.run_start(times) == 3
    assert WINDOW.run_start(GRID[3:9]) == 3  # another tuple, equal: checked again
    assert WINDOW.run_start((GRID[3], GRID[5])) is None  # a gap
    assert WINDOW.run_start(()) is None


TIMES = st.one_of(
    st.integers(-3, 30).map(lambda m: ts(5 * m)),
    st.sampled_from(["2025-06-21T08:35:00+05:30", "2025-06-21T03:05:00.25Z", "bad", "",
                     None, 0, 1_750_000_000, True, 1.5e15]),
)
VALUES = st.one_of(st.integers(-(2**63), 2**63), st.floats(), st.booleans(), st.none(),
                   st.sampled_from(["1", "x", [], {}]))


@FUZZ
@given(st.lists(st.fixed_dictionaries(
    {"timestamp": TIMES}, optional={"cpu": VALUES, "mem": VALUES, "$objectType": VALUES}),
    max_size=30), st.booleans())
def test_random_vm_answers_parse_as_before(rows, with_junk):
    assert_parses_as_before(vm(*rows, *(["x", 3] if with_junk else [])))


@FUZZ
@given(st.dictionaries(st.sampled_from(["cpu", "mem", "extId", "$reserved"]), st.lists(
    st.fixed_dictionaries({"timestamp": TIMES, "value": VALUES}), max_size=20)))
def test_random_entity_answers_parse_as_before(data):
    assert_parses_as_before({"data": data})


# -- align, pack, labels ----------------------------------------------------------------------


WINDOW = series.window(T0, T0 + timedelta(hours=2), 300, 30, T0 + timedelta(days=1))
GRID = WINDOW.times  # 25 buckets, 03:00 .. 05:00


@pytest.mark.parametrize("key", ["cpu_usage", "storage_bandwidth", "network_received",
                                 "storage_iops"])
@pytest.mark.parametrize("indexes", [
    range(25), range(3, 10), range(24, 25), range(0),  # consecutive: one copy
    range(20, 30), [0, 2, 3], [5, 4, 3], [1, 1, 2],  # past the end, a gap, reversed, twice
])
def test_align_as_before(key, indexes):
    """Each metric's unit conversion (x 1,024, / 30 with rounding, ...) on both paths."""
    times = [T0 + timedelta(minutes=5 * i) for i in indexes]
    for raws in ([123_457 + i for i in indexes], [1.5 * i - 3 for i in indexes]):
        points = list(zip(times, raws, strict=True))
        for stat in ("AVG", "MAX", "SUM"):
            assert same(series.align(times, raws, WINDOW, METRICS[key], stat),
                        plain_align(points, WINDOW, METRICS[key], stat))


def test_align_off_the_grid_and_naive_times_as_before():
    points = [(GRID[2], 1), (GRID[3] + timedelta(seconds=1), 2), (GRID[4], 3)]
    assert same(series.align(*columns(points), WINDOW, METRICS["storage_iops"], "AVG"),
                plain_align(points, WINDOW, METRICS["storage_iops"], "AVG"))


@FUZZ
@given(st.lists(st.tuples(st.integers(-3, 28), st.integers(-(10**9), 10**9) | st.floats(
    -1e12, 1e12)), max_size=40), st.sampled_from(sorted(METRICS)), st.booleans())
def test_random_points_align_as_before(raw, key, on_consecutive_buckets):
    if on_consecutive_buckets:  # the shortcut's case, from a random first bucket
        raw = [(raw[0][0] + i, value) for i, (_, value) in enumerate(raw)] if raw else []
    points = [(T0 + timedelta(minutes=5 * i), v) for i, v in raw]
    assert same(series.align(*columns(points), WINDOW, METRICS[key], "MAX"),
                plain_align(points, WINDOW, METRICS[key], "MAX"))


@pytest.mark.parametrize("values", [[], [1.5, 2, 3], [None], [1.5, None, 2], [None, None],
                                    [float("inf"), -0.0, 0]])
def test_pack_as_before(values):
    plain = series.base64.b64encode(series.array(
        "d", [series._NAN if v is None else v for v in values]).tobytes()).decode()
    assert series.pack(values) == series.pack(tuple(values)) == plain


@pytest.mark.parametrize(("start", "end", "period"), [
    ("2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z", 300),
    ("0001-01-01T00:00:00Z", "2026-02-01T00:00:00Z", None),  # years of 1 to 4 digits
    ("0999-12-31T00:00:00Z", "1000-01-02T00:00:00Z", 3600),
])
def test_labels_as_before(start, end, period):
    win = series.window(series.parse_time(start, "start"), series.parse_time(end, "end"),
                        period, 30, datetime(2030, 1, 1, tzinfo=UTC))
    assert win.labels == [t.strftime(series.LABEL_FORMAT) for t in win.times]


# -- the plugin's MetricDataInfo bytes --------------------------------------------------------


def built(reply: dict) -> metric_pb2.MetricDataInfo:
    """What the plugin answered before: the message built by the protobuf library."""
    info = metric_pb2.MetricDataInfo()
    info.labels.extend(reply.get("labels") or [])
    values = Struct()
    values.update({k: [None if v != v else v for v in series.array("d", series.unpack(p))]
                   for k, p in (reply.get("values") or {}).items()})
    info.values.CopyFrom(values)
    return info


@pytest.mark.parametrize("reply", [
    {}, {"labels": []}, {"labels": [], "values": {}}, {"labels": ["a"], "values": {}},
    {"labels": ["é" * 100, "", "x" * 300], "values": {"cs-1": series.pack([])}},
    {"labels": ["a", "b"], "values": {"cs-1": series.pack([1.5, 2]),
                                      "cs-2": series.pack([None, float("inf")]),
                                      "cs-3": series.pack([float("inf"), -float("inf")])}},
])
def test_metric_data_info_bytes_are_the_message_protobuf_builds(reply):
    encoded = encode_metric_data_info(reply)
    assert metric_pb2.MetricDataInfo.FromString(encoded) == built(reply) == \
        metric_data_info(reply)
    if len(reply.get("values") or {}) <= 1:  # one map entry: no order to differ in
        assert encoded == built(reply).SerializeToString()
