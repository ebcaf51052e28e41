"""The sender's edge: POST one CloudEvent to a function, turn its answer into data or an error.

Used by the gRPC plugin endpoint and by functions that call others. Owns the
HTTP exchange (binary mode, one pooled session for every thread), reading the
reply (following a dataref) and mapping each kind of answer to the project's
errors. Messages name the function's host and the HTTP status only: the event
carries secret_data, so neither it nor the response body goes into one.

    202 (any body), or 2xx with an empty body      -> None
    2xx + reply CloudEvent                          -> its data (dataref followed)
    any status + ERROR CloudEvent                   -> shared.errors.from_dict(data)
    2xx + anything else                             -> BadResponse
    429                                             -> RateLimited (retryable)
    404, 408, 409, 5xx, connection error, timeout   -> Unavailable (retryable)
    400                                             -> InvalidInput
    other 4xx                                       -> DeliveryFailed
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http
from requests.adapters import HTTPAdapter

from shared import errors, events, fastjson
from shared.errors import (
    BadResponse,
    DeliveryFailed,
    InvalidInput,
    PluginError,
    RateLimited,
    Unavailable,
)
from shared.state import StateStore
from shared.validation import problems

log = logging.getLogger(__name__)

POOL_SIZE = 64  # connections kept per function host: above any fan-out window we use
CONNECT_TIMEOUT_S = 10.0
_RETRIED = frozenset({404, 408, 409})  # Knative's data plane retries these too

_session: requests.Session | None = None
_session_lock = threading.Lock()


def shared_session() -> requests.Session:
    """One pooled session per process; requests' pool is safe across threads."""
    global _session
    with _session_lock:
        if _session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=8, pool_maxsize=POOL_SIZE, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _session = session
    return _session


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _status_error(resp: requests.Response, host: str) -> PluginError:
    status = resp.status_code
    what = f"function at {host} answered HTTP {status}"
    if status == 429:
        return RateLimited(what, status=status, retry_after=_retry_after(resp))
    if status >= 500 or status in _RETRIED:
        return Unavailable(what, status=status, retry_after=_retry_after(resp))
    if status == 400:
        return InvalidInput(f"function at {host} refused the event (HTTP 400)")
    return DeliveryFailed(what)


def _unmarshal(content: Any) -> Any:
    """cloudevents' own data reader (JSON, else the content as is), fast.

    A collect shard's reply is megabytes of JSON: `fastjson` reads it several
    times faster than the standard library, with the same answers.
    """
    if content is None:
        return None
    try:
        return fastjson.loads(content)
    except (ValueError, TypeError, UnicodeDecodeError):
        return content


def _as_cloudevent(resp: requests.Response, host: str) -> CloudEvent | None:
    """The CloudEvent in the response (binary or structured), None when there is none."""
    content_type = resp.headers.get("Content-Type", "").lower()
    if "ce-specversion" not in resp.headers and not content_type.startswith(
            "application/cloudevents"):
        return None
    try:
        return from_http(dict(resp.headers), resp.content, data_unmarshaller=_unmarshal)
    except GenericException as exc:
        raise BadResponse(f"function at {host} answered a malformed CloudEvent") from exc


def _read_timed_out(exc: requests.ConnectionError) -> bool:
    """requests raises a read timeout *inside the body* as a ConnectionError."""
    return any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args)


def invoke(url: str, event: CloudEvent, *, timeout_s: float,
           store: StateStore | None = None,
           session: requests.Session | None = None) -> dict | None:
    """Send `event` and return the reply's data (None: accepted without a reply).

    `store` is where a claim-checked reply is read from; without one the
    dataref's own folder is opened (see `events.reply_data`).
    """
    event["datacontenttype"] = events.CONTENT_TYPE
    headers, body = to_binary(event, data_marshaller=events.encode)
    headers["Prefer"] = "reply"
    host = urlsplit(url).hostname or "?"
    started = time.monotonic()
    timeouts = (min(CONNECT_TIMEOUT_S, timeout_s), timeout_s)
    for attempt in (1, 2):
        try:
            resp = (session or shared_session()).post(url, data=body, headers=headers,
                                                      timeout=timeouts)
            break
        except requests.Timeout as exc:
            raise Unavailable(f"function at {host} timed out after {timeout_s:g} s") from exc
        except requests.ConnectionError as exc:
            if _read_timed_out(exc):  # the answer had begun: not a stale connection
                raise Unavailable(f"function at {host} timed out after {timeout_s:g} s") \
                    from exc
            # A pooled keep-alive the server already closed (gunicorn drops idle ones
            # after ~2 s) fails before any answer: send once more on a fresh
            # connection. Events are idempotent by design, so a repeat is harmless.
            if attempt == 2:
                raise Unavailable(f"function at {host} is unreachable") from exc
        except requests.RequestException as exc:
            raise Unavailable(f"function at {host} is unreachable") from exc
    log.debug("invoked %s", event["type"], extra={
        "status": resp.status_code, "url_host": host,
        "elapsed_ms": round((time.monotonic() - started) * 1000)})
    if resp.status_code == 202:  # accepted, and a 202 body is never a reply
        return None
    reply = _as_cloudevent(resp, host)
    if reply is not None and reply["type"] == events.ERROR:
        return _raise_error(reply, host)
    if not 200 <= resp.status_code < 300:
        raise _status_error(resp, host)
    if reply is None:
        if resp.content:
            raise BadResponse(f"function at {host} answered HTTP {resp.status_code} "
                              "without a CloudEvent")
        return None
    if reply["type"] != events.reply_type(event["type"]):
        raise BadResponse(f"function at {host} replied with a type other than "
                          f"{events.reply_type(event['type'])}")
    return events.reply_data(reply, store)


def _raise_error(reply: CloudEvent, host: str) -> None:
    data = reply.data
    if not isinstance(data, dict) or problems(events.ERROR_SCHEMA, data):
        raise BadResponse(f"function at {host} answered a malformed error reply")
    raise errors.from_dict(data)
