"""The edge of all four functions: HTTP request in, reply CloudEvent (or 202) out.

`handle` owns what every function does the same way: `from_http`, the type
and schema check, the event-id log context, the claim-check reply in binary
mode, and error replies. The status codes follow Knative's data plane, which
retries 5xx, 404, 408, 409 and 429 and never 400:

    not a CloudEvent, or a type this function does not serve   400 JSON, no event
    data breaks the type's schema (InvalidInput)                200 + ERROR reply
    PluginError, not retryable / retryable                      200 / 503 + ERROR reply
    any other exception: INTERNAL "internal error, event <id>"  500 + ERROR reply
    run returned None                                           202, empty body
    run returned data                                           200 + result reply

It does not own the work: `run(event_type, data, ctx)` lives in shared/<job>.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cloudevents.conversion import to_binary
from cloudevents.http import from_http

from shared import events, logs, state
from shared.config import Settings
from shared.errors import PluginError
from shared.state import StateStore

log = logging.getLogger(__name__)

MAX_ID_IN_LOGS = 128  # the id comes from the sender: keep a hostile one short

# Knative PingSource cannot set `type`; our manifests put the project type in
# this extension instead (knative/README.md, "What a PingSource tick carries").
PING_TYPE = "dev.knative.sources.ping"
PING_EXTENSION = "nutanixtype"
HEALTH = (json.dumps({"status": "ok"}), 200, {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Context:
    """What a run may need besides its data; the store opens on first use."""

    settings: Settings
    event_id: str
    attributes: Mapping[str, Any]  # the request's CloudEvent attributes, read-only
    store: StateStore


Run = Callable[[str, dict, Context], "dict | None"]

_logging_ready = False
_logging_lock = threading.Lock()


def _setup_logging(settings: Settings) -> None:
    """JSON logs once per process: the functions' main.py only builds Settings."""
    global _logging_ready
    if not _logging_ready:
        with _logging_lock:
            if not _logging_ready:
                logs.setup(settings.log_level)
                _logging_ready = True


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _refuse(reason: str, started: float) -> tuple:
    """400 with a short JSON body: the sender's mistake, never worth a retry."""
    log.warning("refused: %s", reason, extra={"status": 400, "elapsed_ms": _elapsed_ms(started)})
    return json.dumps({"error": reason}), 400, {"Content-Type": "application/json"}


def handle(request: Any, run: Run, settings: Settings, *, store: StateStore | None = None,
           types: Collection[str] | None = None) -> tuple:
    """Serve one HTTP request as a flask response tuple `(body, status[, headers])`.

    `types` are the request types this function serves (default: every
    project type); `store` replaces the one opened lazily from `settings`.
    """
    started = time.monotonic()
    _setup_logging(settings)
    if request.method in ("GET", "HEAD"):
        return HEALTH  # readiness probes and `make run`'s wait
    try:
        event = from_http(request.headers, request.get_data())
    except Exception:  # any parse failure is the sender's: 400, not a retried 500
        return _refuse("not a CloudEvent", started)
    if event["type"] == PING_TYPE:
        event["type"] = str(event.get(PING_EXTENSION) or PING_TYPE)
    token = logs.event_id.set(str(event["id"])[:MAX_ID_IN_LOGS])
    try:
        event_type = event["type"]
        if event_type not in events.EVENT_TYPES or (types is not None
                                                    and event_type not in types):
            return _refuse("event type not served by this function", started)
        return _serve(event, run, settings, store, started)
    finally:
        logs.event_id.reset(token)


def _serve(event, run: Run, settings: Settings, store: StateStore | None,
           started: float) -> tuple:
    event_type, event_id = event["type"], str(event["id"])
    ctx = Context(settings=settings, event_id=event_id,
                  attributes=MappingProxyType(dict(event.get_attributes())),
                  store=store if store is not None else state.lazy(
                      lambda: state.from_settings(settings)))
    outcome = "result"
    try:
        data = events.validate(event)
        result = run(event_type, data, ctx)
        if result is None:
            status, reply, outcome = 202, None, "no reply"
        else:
            status = 200
            reply = events.build_reply(event, result, store=ctx.store,
                                       limit_bytes=settings.reply_limit_bytes)
            if "dataref" in reply:
                outcome = "result by dataref"
    except PluginError as err:
        status = 503 if err.retryable else 200
        outcome = f"error {err.grpc_code}"
        reply = events.error_reply(event, err)
    except Exception:
        log.exception("unexpected error handling %s", event_type)
        status, outcome = 500, "error INTERNAL"
        err = PluginError(f"internal error, event {event_id[:MAX_ID_IN_LOGS]}")
        reply = events.error_reply(event, err)
    log.info("%s: %s", event_type, outcome,
             extra={"status": status, "elapsed_ms": _elapsed_ms(started)})
    if reply is None:
        return "", 202
    headers, body = to_binary(reply, data_marshaller=events.encode)
    return body or b"", status, headers
