"""Family `metric`: monitoring.plugin.DataSource + monitoring.plugin.Metric.

init answers locally (cheap, side-effect free: the catalogue's metadata,
`required_keys` = the path the inventory collector fills); verify goes to
the collect function as `collect.verify.v1`, Metric.list and
Metric.get_data as `metric.list.v1` / `metric.data.v1` (one event per call:
the function bounds its own Prism concurrency).

get_data's values arrive packed (`shared.metrics.series.pack`: float64,
NaN for null) and the `values` Struct is written in protobuf's wire format
from those bytes, then parsed once: `Struct.update` builds a Python object
per value (~1.2 us; a 30-day, 5-minute chart of 100 VMs is 864,000 values),
the encoding below is a few slice copies per resource.
`tests/test_metrics.py` checks the bytes parse to the message
`Struct.update` builds.
"""

from __future__ import annotations

import sys
from array import array

from google.protobuf import empty_pb2, json_format
from spaceone.api.monitoring.plugin import (
    data_source_pb2,
    data_source_pb2_grpc,
    metric_pb2,
    metric_pb2_grpc,
)

from functions.plugin.calls import Functions
from functions.plugin.structs import credentialed, to_dict, to_struct
from shared import events, options
from shared.metrics import catalogue, series

_NUMBER_HEAD = b"\x0a\x09\x11"  # ListValue.values (1), 9 bytes: Value.number_value (2, double)
_NULL = b"\x0a\x02\x08\x00"  # ListValue.values (1), 2 bytes: Value.null_value (1) = 0


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _numbers(raw: bytes) -> bytes:
    """Little-endian doubles as ListValue items, 11 bytes each, laid out by slices."""
    count = len(raw) // 8
    out = bytearray(11 * count)
    for offset, byte in enumerate(_NUMBER_HEAD):
        out[offset::11] = bytes([byte]) * count
    for k in range(8):
        out[3 + k::11] = raw[k::8]
    return bytes(out)


def encode_list(raw: bytes) -> bytes:
    """A ListValue from `series.pack`'s bytes: runs of numbers together, NaN as null."""
    doubles = array("d", raw)
    if sys.byteorder != "little":
        doubles.byteswap()
    parts, start = [], 0
    for index in [i for i, v in enumerate(doubles) if v != v]:  # NaN: no value
        if start < index:
            parts.append(_numbers(raw[8 * start:8 * index]))
        parts.append(_NULL)
        start = index + 1
    if start < len(doubles):
        parts.append(_numbers(raw[8 * start:]))
    return b"".join(parts)


def encode_values(values: dict[str, str]) -> bytes:
    """`MetricDataInfo.values`: a Struct {cloud service id: list of numbers and nulls}."""
    entries = []
    for key, packed in values.items():
        value = _field(6, encode_list(series.unpack(packed)))  # Value.list_value (6)
        entries.append(_field(1, _field(1, key.encode()) + _field(2, value)))
    return b"".join(entries)


def metric_data_info(reply: dict) -> metric_pb2.MetricDataInfo:
    info = metric_pb2.MetricDataInfo()
    info.labels.extend(reply.get("labels") or [])
    info.values.MergeFromString(encode_values(reply.get("values") or {}))
    return info


def _check_options(request) -> dict:
    opts = to_dict(request.options)
    if opts:
        options.check(catalogue.OPTIONS_SCHEMA, opts, "options")
    return opts


class DataSource(data_source_pb2_grpc.DataSourceServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def init(self, request, context):
        _check_options(request)
        return data_source_pb2.PluginInfo(metadata=to_struct(catalogue.metadata()))

    def verify(self, request, context):
        _check_options(request)
        self.functions.call("collect", events.COLLECT_VERIFY, credentialed(request))
        return empty_pb2.Empty()


class Metric(metric_pb2_grpc.MetricServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def list(self, request, context):
        data = {**credentialed(request), "query": to_dict(request.query)}
        reply = self.functions.call("collect", events.METRIC_LIST, data) or {}
        return json_format.ParseDict(reply, metric_pb2.MetricsInfo(),
                                     ignore_unknown_fields=True)

    def get_data(self, request, context):
        data = {**credentialed(request), "metric": request.metric,
                "metric_query": to_dict(request.metric_query),
                "start": request.start, "end": request.end}
        if request.period:  # proto3: 0 means absent
            data["period"] = request.period
        if request.stat:
            data["stat"] = request.stat
        return metric_data_info(self.functions.call("collect", events.METRIC_DATA, data) or {})


def register(server, functions: Functions) -> list[str]:
    data_source_pb2_grpc.add_DataSourceServicer_to_server(DataSource(functions), server)
    metric_pb2_grpc.add_MetricServicer_to_server(Metric(functions), server)
    return [data_source_pb2.DESCRIPTOR.services_by_name["DataSource"].full_name,
            metric_pb2.DESCRIPTOR.services_by_name["Metric"].full_name]
