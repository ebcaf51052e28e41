"""Every CloudEvent type of the project, its data schema and its reply: the contract.

Owns the type names (reverse-DNS, versioned by name: a breaking change is a
new `.v2` type), which function serves each, the minimal schema of each
request's data, the reply type (`X.v1` -> `X.result.v1`, or `ERROR` for any
request), and the claim-check: a reply whose JSON is larger than the limit is
written to the state store and travels as a `dataref` (CloudEvents extension).
It does not own HTTP (adapter.py receives, invoke.py sends) nor what a job
puts in its data beyond the keys checked here.

Request events carry secret_data, so they are never stored; a reply body is
checked before it leaves: a top-level or nested `secret_data` key is dropped,
and a reply that would carry a credential of the request is withheld.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cloudevents.http import CloudEvent

from shared import fastjson
from shared.errors import BadResponse, InvalidInput, PluginError
from shared.state import StateStore, dumps, read_dataref, store_for_dataref
from shared.validation import problems

log = logging.getLogger(__name__)

PREFIX = "io.cloudforet.nutanix."
SOURCE_PREFIX = "/cloudforet/nutanix/"
CONTENT_TYPE = "application/json"
REPLIES = "replies"  # state-store folder of claim-checked replies: replies/<date>/<id>.json

# collect
COLLECT_VERIFY = PREFIX + "collect.verify.v1"
COLLECT_PLAN = PREFIX + "collect.plan.v1"
COLLECT = PREFIX + "collect.v1"
METRIC_LIST = PREFIX + "metric.list.v1"
METRIC_DATA = PREFIX + "metric.data.v1"
ACCOUNT_SYNC = PREFIX + "account.sync.v1"
SNAPSHOT = PREFIX + "snapshot.v1"
# cost
COST_VERIFY = PREFIX + "cost.verify.v1"
COST_RECORD = PREFIX + "cost.record.v1"
COST_TASKS = PREFIX + "cost.tasks.v1"
COST_ACCOUNTS = PREFIX + "cost.accounts.v1"
COST_COMPUTE = PREFIX + "cost.compute.v1"
COST_EXPORT = PREFIX + "cost.export.v1"
# alert_ingest (Prism webhooks arrive as plain HTTP, not as CloudEvents)
ALERT_VERIFY = PREFIX + "alert.verify.v1"
ALERT_PARSE = PREFIX + "alert.parse.v1"
ALERT_POLL = PREFIX + "alert.poll.v1"
# notify
NOTIFY_VERIFY = PREFIX + "notify.verify.v1"
NOTIFY_DISPATCH = PREFIX + "notify.dispatch.v1"
# any function, instead of the result type: data {code, message, retryable}
ERROR = PREFIX + "error.v1"

_OBJECT = {"type": "object"}


def _request(*required: str, **properties: dict) -> dict:
    """A permissive object schema: required top-level keys and their types only."""
    return {"type": "object", "required": list(required),
            "properties": {"options": _OBJECT, "secret_data": _OBJECT, **properties}}


_CREDENTIALED = ("options", "secret_data")
TASK_SCHEMA: dict = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "minLength": 1},
        "pages": {"type": "array", "items": {"type": "integer", "minimum": 0},
                  "minItems": 2},  # [first, last]
        "page_size": {"type": "integer", "minimum": 1},
        "api": {"type": "string"},
    },
}
ERROR_SCHEMA: dict = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "retryable": {"type": "boolean"}},
}


def reply_type(event_type: str) -> str:
    """`X.vN` -> `X.result.vN`: distinct from the request, so a Trigger cannot loop."""
    base, _, version = event_type.rpartition(".")
    if not base or not re.fullmatch(r"v\d+", version):
        raise InvalidInput("event type must end with a version such as .v1")
    return f"{base}.result.{version}"


@dataclass(frozen=True)
class EventType:
    type: str
    function: str  # collect, cost, alert_ingest, notify
    schema: dict

    @property
    def reply(self) -> str:
        return reply_type(self.type)


def _types(function: str, schemas: dict[str, dict]) -> dict[str, EventType]:
    return {name: EventType(name, function, schema) for name, schema in schemas.items()}


EVENT_TYPES: dict[str, EventType] = {
    **_types("collect", {
        COLLECT_VERIFY: _request(*_CREDENTIALED),
        COLLECT_PLAN: _request(*_CREDENTIALED, task_options=_OBJECT),
        COLLECT: _request(*_CREDENTIALED, "task", task=TASK_SCHEMA, context=_OBJECT),
        METRIC_LIST: _request(*_CREDENTIALED),
        METRIC_DATA: _request(*_CREDENTIALED),
        ACCOUNT_SYNC: _request(*_CREDENTIALED),
        SNAPSHOT: _request(),  # periodic: credentials from the environment
    }),
    **_types("cost", {
        COST_VERIFY: _request(*_CREDENTIALED),
        COST_RECORD: _request(),  # periodic: credentials from the environment
        COST_TASKS: _request(*_CREDENTIALED),
        COST_ACCOUNTS: _request(*_CREDENTIALED),
        COST_COMPUTE: _request(*_CREDENTIALED, task=_OBJECT),
        COST_EXPORT: _request(),
    }),
    **_types("alert_ingest", {
        ALERT_VERIFY: _request("options"),
        ALERT_PARSE: _request("data", data=_OBJECT),
        ALERT_POLL: _request(),  # periodic: credentials from the environment
    }),
    **_types("notify", {
        NOTIFY_VERIFY: _request("options"),
        NOTIFY_DISPATCH: _request("message", message=_OBJECT, channel_data=_OBJECT,
                                  notification_type={"type": "string"}),
    }),
}
REPLY_TYPES: frozenset[str] = frozenset(spec.reply for spec in EVENT_TYPES.values())


def encode(data: Any) -> bytes | None:
    """The data marshaller for `to_binary`: compact JSON; bytes are already encoded."""
    if data is None or isinstance(data, (bytes, bytearray)):
        return data
    return dumps(data)


def types_for(function: str) -> frozenset[str]:
    """The request types one function serves (its `adapter.handle(types=...)`)."""
    return frozenset(t for t, spec in EVENT_TYPES.items() if spec.function == function)


def source_for(sender: str) -> str:
    return SOURCE_PREFIX + sender


def new_event(event_type: str, data: Any, *, source: str,
              subject: str | None = None) -> CloudEvent:
    """A fresh event (new id, time) of a known type, JSON data, binary-mode ready."""
    if event_type not in EVENT_TYPES and event_type not in REPLY_TYPES and event_type != ERROR:
        raise ValueError(f"not a project event type: {event_type}")  # a bug, not input
    attributes = {"type": event_type, "source": source, "id": str(uuid.uuid4()),
                  "datacontenttype": CONTENT_TYPE,
                  "time": dt.datetime.now(dt.UTC).isoformat()}
    if subject:
        attributes["subject"] = subject
    return CloudEvent(attributes, data)


def validate(event: CloudEvent) -> dict:
    """The request's data, checked against its type's schema (every problem at once)."""
    spec = EVENT_TYPES.get(event["type"])
    if spec is None:
        raise InvalidInput("unknown event type")
    data = event.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{spec.type} data must be a JSON object")
    found = problems(spec.schema, data)
    if found:
        raise InvalidInput(f"invalid {spec.type} data", found)
    return data


def _reply_source(request: CloudEvent) -> str:
    spec = EVENT_TYPES.get(request["type"])
    return source_for(spec.function if spec else "function")


# keys of secret_data whose string values must never leave in a reply
_SECRET_KEY = re.compile(r"pass|secret|token|key|credential|private|webhook|url", re.I)
_MIN_SECRET = 8  # shorter values match innocent text too often to be checked


def _secret_values(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _secret_values(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _secret_values(v, key)
    elif isinstance(value, str) and len(value) >= _MIN_SECRET and _SECRET_KEY.search(key):
        yield json.dumps(value, ensure_ascii=False)[1:-1]  # as it would appear in JSON


def _without_secret_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secret_data(v) for k, v in value.items() if k != "secret_data"}
    if isinstance(value, list):
        return [_without_secret_data(v) for v in value]
    return value


def _safe_body(request: CloudEvent, data: Any) -> bytes:
    """The reply JSON, with no secret_data key and no credential of the request."""
    body = dumps(data)
    if b'"secret_data"' in body:
        log.warning("reply carried a secret_data key: dropped")
        body = dumps(_without_secret_data(data))
    request_data = request.data if isinstance(request.data, dict) else {}
    for secret in _secret_values(request_data.get("secret_data")):
        if secret.encode() in body:
            log.error("reply withheld: it contained a credential of the request")
            raise PluginError("reply withheld: it would contain a credential")
    return body


def claim_key(event_id: str, day: dt.date) -> str:
    """`replies/<yyyy-mm-dd>/<id>.json`; an id unsafe as a key is hashed (retries reuse it)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", event_id):
        event_id = hashlib.sha256(event_id.encode()).hexdigest()[:40]
    return f"{REPLIES}/{day.isoformat()}/{event_id}.json"


def build_reply(request: CloudEvent, data: Any, *, store: StateStore | None,
                limit_bytes: int) -> CloudEvent:
    """The reply to `request`; above `limit_bytes` its JSON goes to `store` (dataref).

    The reply's data is the encoded JSON (bytes) so that it is encoded once;
    read it with `reply_data`. Without a store every reply travels inline.
    """
    body = _safe_body(request, data)
    reply = new_event(reply_type(request["type"]), body, source=_reply_source(request),
                      subject=request.get("subject"))
    if store is None or len(body) <= limit_bytes:
        return reply
    key = claim_key(str(request["id"]), dt.datetime.now(dt.UTC).date())
    store.put(key, body)
    attributes = dict(reply.get_attributes())
    attributes.update(dataref=store.url(key), datasize=str(len(body)))
    return CloudEvent(attributes, None)


def error_reply(request: CloudEvent | None, err: PluginError) -> CloudEvent:
    """`ERROR` with `{code, message, retryable}`; the message is already safe to show."""
    source = _reply_source(request) if request is not None else source_for("function")
    subject = request.get("subject") if request is not None else None
    return new_event(ERROR, err.to_dict(), source=source, subject=subject)


def reply_data(event: CloudEvent, store: StateStore | None = None) -> dict | None:
    """The reply's data, following a dataref (into `store` when given).

    Without a store, the dataref's own folder is opened: fine for file:// and
    AWS S3; pass a store for an S3 endpoint of its own (MinIO, Objects).
    """
    dataref = event.get("dataref")
    if dataref:
        raw: Any = read_dataref(dataref, store or store_for_dataref(dataref))
    else:
        raw = event.data
    if raw is None:
        return None
    if isinstance(raw, (bytes, bytearray)):
        try:  # a claim-checked reply is megabytes (a month of metrics of 100 VMs: ~9 MB)
            raw = fastjson.loads(raw)
        except ValueError as exc:
            raise BadResponse("reply data is not JSON") from exc
    if not isinstance(raw, dict):
        raise BadResponse("reply data is not a JSON object")
    return raw
