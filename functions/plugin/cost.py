"""Family `cost`: cost_analysis.plugin.DataSource + Job + Cost.

init answers locally (cheap, side-effect free); verify, get_tasks,
get_linked_accounts and every compute window go to the cost function.
get_data fans one CloudForet task (month, cluster) out as day windows and
streams each reply as `CostsInfo` messages of at most `BATCH` rows.

A month of 20,000 VMs is ~2 million CostInfo. Building each as a protobuf
object and serializing it costs ~6 us; writing the wire format directly
from per-VM prefixes (provider, region, resource, tags and additional_info
encoded once per VM) costs ~2 us. So get_data yields encoded `CostsInfo`
bytes and the Cost service is registered with a serializer that passes
bytes through; `tests/test_cost_endpoint.py` checks the bytes parse to the
messages the protobuf library builds.
"""

from __future__ import annotations

import calendar
import logging
import struct
from collections.abc import Iterator

import grpc
from google.protobuf import empty_pb2, json_format
from spaceone.api.cost_analysis.plugin import (
    cost_pb2,
    data_source_pb2,
    data_source_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)

from functions.plugin import wire
from functions.plugin.calls import Functions
from functions.plugin.structs import credentialed, to_dict, to_struct
from shared import events
from shared.cost import ratecard
from shared.cost import reply as columns
from shared.cost.reply import WIDTH
from shared.errors import InvalidInput

log = logging.getLogger(__name__)

WINDOW_ATTEMPTS = 3  # a compute window that failed for now (UNAVAILABLE, 429) is sent again
BATCH = 5000  # rows per CostsInfo: Azure's page size (spec cost_analysis.md section 4)
COST_SERVICE = cost_pb2.DESCRIPTOR.services_by_name["Cost"].full_name
ADDITIONAL_INFO = {
    "VM Name": {"name": "VM Name", "visible": True},
    "Project UUID": {"name": "Project UUID", "visible": False},
    "Estimated": {"name": "Estimated (no snapshot that day)", "visible": True},
}
ACCOUNT_MATCH_KEY = {"cluster": "region_code", "project": "additional_info.Project UUID"}


def metadata(opts: dict) -> dict:
    currency = opts.get("currency") or "USD"
    meta = {
        "currency": currency,
        "supported_secret_types": ["MANUAL", "USE_SERVICE_ACCOUNT_SECRET"],
        "data_source_rules": [],
        "options_schema": ratecard.OPTIONS_SCHEMA,
        "cost_info": {"name": "Showback", "unit": currency},
        "additional_info": ADDITIONAL_INFO,
        "use_account_routing": bool(opts.get("use_account_routing")),
    }
    if meta["use_account_routing"]:
        meta["account_match_key"] = ACCOUNT_MATCH_KEY[opts.get("account_by") or "cluster"]
    return meta


# -- CostInfo wire format (protobuf encoding, field numbers of cost.proto) ---------------


_VARINTS, _varint, _field = wire.VARINTS, wire.varint, wire.field


def _text(number: int, text: str) -> bytes:
    return _field(number, text.encode()) if text else b""


_HEAD = [b"\n" + v for v in _VARINTS]  # CostsInfo.results (field 1) + length
_NUMBERS = struct.Struct("<BdBd").pack  # cost (1, double), usage_quantity (2, double)
# CostInfo: usage_unit 3, provider 4, region_code 5, product 6, usage_type 7, resource 8,
# tags 12, additional_info 13, billed_date 21


def _struct(data: dict) -> bytes:
    """A Struct's encoding; string-only dicts (all our labels) by hand, ~5x faster."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        return to_struct(data).SerializeToString()
    out = []
    for key, value in data.items():  # Struct.fields (1): entry {key (1), Value (2)}
        raw_key, raw_value = key.encode(), value.encode()
        wrapped = b"\x1a" + _varint(len(raw_value)) + raw_value  # Value.string_value (3)
        entry = (b"\x0a" + _varint(len(raw_key)) + raw_key
                 + b"\x12" + _varint(len(wrapped)) + wrapped)
        out.append(b"\x0a" + _varint(len(entry)) + entry)
    return b"".join(out)


def encode_messages(reply: dict, batch: int = BATCH) -> Iterator[bytes]:
    """A compute reply as serialized `CostsInfo` messages of at most `batch` rows."""
    common = (_text(4, reply["provider"]) + _text(5, reply["cluster"])
              + _text(6, reply["product"]))
    types = [_text(3, unit) + _text(7, usage_type) for usage_type, unit in reply["types"]]
    estimated = set(reply["estimated"])
    extra = reply.get("estimated_info") or {}
    tag_sets = [_field(12, _struct(tags)) for tags in reply["tags"]]
    vms = []
    for ext_id, tags_i, info in reply["vms"]:
        base = common + _text(8, ext_id) + tag_sets[tags_i]
        normal = base + _field(13, _struct(info))
        marked = base + _field(13, _struct({**info, **extra})) if estimated else normal
        vms.append((normal, marked))
    days = [(_text(21, day), i in estimated) for i, day in enumerate(reply["days"])]
    pairs, values = columns.unpack(reply["columns"])
    parts: list[bytes] = []
    append = parts.append
    count = 0
    for n in range(len(pairs) // 2):
        day, marked = days[pairs[2 * n + 1]]
        prefix = vms[pairs[2 * n]][marked] + day  # field order is free in protobuf
        at = n * WIDTH
        for t, head in enumerate(types):
            qty = values[at + 2 * t]
            if qty > 0:
                body = prefix + head + _NUMBERS(9, values[at + 2 * t + 1], 17, qty)
                size = len(body)
                append(_HEAD[size] if size < 16384 else b"\n" + _varint(size))
                append(body)
                count += 1
                if count == batch:
                    yield b"".join(parts)
                    parts.clear()
                    count = 0
    if parts:
        yield b"".join(parts)


# -- servicers ---------------------------------------------------------------------------


class DataSource(data_source_pb2_grpc.DataSourceServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def init(self, request, context):
        opts = to_dict(request.options)
        if opts:
            opts = ratecard.check(opts)
        return data_source_pb2.PluginInfo(metadata=to_struct(metadata(opts)))

    def verify(self, request, context):
        self.functions.call("cost", events.COST_VERIFY, credentialed(request))
        return empty_pb2.Empty()


class Job(job_pb2_grpc.JobServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def get_tasks(self, request, context):
        data = {**credentialed(request), "start": request.start,
                "last_synchronized_at": request.last_synchronized_at,
                "linked_accounts": [to_dict(a) for a in request.linked_accounts]}
        reply = self.functions.call("cost", events.COST_TASKS, data) or {}
        return json_format.ParseDict(reply, job_pb2.TasksInfo(), ignore_unknown_fields=True)


class Cost:
    """Registered by hand (see `register`): get_data yields encoded bytes."""

    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def get_linked_accounts(self, request, context):
        reply = self.functions.call("cost", events.COST_ACCOUNTS, credentialed(request)) or {}
        return json_format.ParseDict(reply, cost_pb2.AccountsInfo(),
                                     ignore_unknown_fields=True)

    def get_data(self, request, context):
        """Stream the task's windows as they return; a window that fails for now is retried.

        Computing is read-only, so a window is safe to send again; one that
        still fails fails the task, and CloudForet rolls the job back rather
        than keep a partial month.
        """
        base = credentialed(request)
        task = to_dict(request.task_options) if request.HasField("task_options") else {}
        pending = [{**base, "task": w} for w in self._windows(task)]
        for attempt in range(WINDOW_ATTEMPTS):
            failed = []
            for outcome in self.functions.fan_out("cost", events.COST_COMPUTE, pending):
                if outcome.error is not None:
                    if not outcome.error.retryable or attempt + 1 == WINDOW_ATTEMPTS:
                        raise outcome.error
                    failed.append(outcome.data)
                elif outcome.reply:
                    yield from encode_messages(outcome.reply)
            if not failed:
                return
            log.info("retrying compute windows", extra={"count": len(failed),
                                                        "attempt": attempt + 1})
            pending = failed

    @staticmethod
    def _windows(task: dict) -> Iterator[dict]:
        """Day windows of a (month, cluster) task, `days_per_call` days each."""
        month, cluster = task.get("month"), task.get("cluster")
        if not isinstance(month, str) or not isinstance(cluster, str) or not cluster:
            raise InvalidInput("task_options need month (YYYY-MM) and cluster")
        try:
            dim = calendar.monthrange(int(month[:4]), int(month[5:7]))[1]
        except (ValueError, calendar.IllegalMonthError):
            raise InvalidInput("task_options month must be YYYY-MM") from None
        step = task.get("days_per_call") or dim
        if not isinstance(step, int) or step < 1:
            raise InvalidInput("task_options days_per_call must be a positive integer")
        for first in range(1, dim + 1, step):
            yield {"month": month, "cluster": cluster,
                   "cluster_name": task.get("cluster_name", ""),
                   "days": [first, min(first + step - 1, dim)]}


def register(server, functions: Functions) -> list[str]:
    data_source_pb2_grpc.add_DataSourceServicer_to_server(DataSource(functions), server)
    job_pb2_grpc.add_JobServicer_to_server(Job(functions), server)
    cost = Cost(functions)
    handlers = {
        "get_linked_accounts": grpc.unary_unary_rpc_method_handler(
            cost.get_linked_accounts,
            request_deserializer=cost_pb2.GetLinkedAccountsRequest.FromString,
            response_serializer=cost_pb2.AccountsInfo.SerializeToString),
        "get_data": grpc.unary_stream_rpc_method_handler(
            cost.get_data,
            request_deserializer=cost_pb2.GetDataRequest.FromString,
            response_serializer=wire.serialize),
    }
    wire.add_handlers(server, COST_SERVICE, handlers)
    return [data_source_pb2.DESCRIPTOR.services_by_name["DataSource"].full_name,
            job_pb2.DESCRIPTOR.services_by_name["Job"].full_name, COST_SERVICE]
