"""The Prism-facing HTTP edge of alert_ingest: routing, auth, size, parse, hand-over.

Owns what a plain HTTP request to alert_ingest gets: GET is a health check;
a CloudEvent goes to `shared.adapter` (a Knative PingSource tick that names
no project type becomes the poll); any other POST is a pushed alert (Prism Element
webhook, the Playbook body, v4 alerts: `shared/alerts/payloads.py`), which is
checked here and handed to the delivery `Outbox`. Not owned: the body formats
(payloads), the CloudForet shapes (mapping), forwarding (delivery).

Answers to a pushed alert (JSON bodies; never the payload echoed):

    200 {"received": n, "delivered": n}   forwarded to CloudForet (n may be 0: ignored)
    202 {"received": n, "queued": n}      kept as a dead letter, re-sent by the next poll
    400 not JSON / not UTF-8               401 no or wrong credentials
    405 not GET/POST                       413 larger than NTNX_WEBHOOK_MAX_BYTES
    422 JSON, but no body this project accepts
    503 neither forwarded nor kept (the sender should retry)

Authentication: `X-Webhook-Token: <NTNX_WEBHOOK_TOKEN>` or
`Authorization: Bearer <token>`, or Basic auth with NTNX_WEBHOOK_USERNAME /
NTNX_WEBHOOK_PASSWORD (Prism's Playbook REST action has user name and
password fields). Compared in constant time. With neither configured every
push is refused: an open endpoint would let anyone raise alerts.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import threading
import time
from typing import Any

from shared import logs
from shared.alerts import delivery
from shared.config import Settings
from shared.errors import InvalidInput, PluginError
from shared.mapping.alerts import events_from_payload

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Webhook-Token"  # noqa: S105 - a header name, not a secret
JSON = {"Content-Type": "application/json"}
_READ_CHUNK = 64 * 1024


class _Refused(Exception):
    def __init__(self, status: int, reason: str, headers: dict | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


# --- routing -----------------------------------------------------------------------------


def is_cloud_event(request: Any) -> bool:
    """Binary mode has ce-specversion; structured mode its own content type."""
    if request.method != "POST":
        return False
    content_type = (request.headers.get("Content-Type") or "").lower()
    return ("ce-specversion" in request.headers
            or content_type.startswith("application/cloudevents"))


# --- authentication ------------------------------------------------------------------------


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def authenticated(headers: Any, settings: Settings) -> bool:
    """Token (header or Bearer) or Basic credentials, in constant time; False if none set."""
    authorization = (headers.get("Authorization") or "").strip()
    scheme, _, credentials = authorization.partition(" ")
    if settings.webhook_token:
        token = headers.get(TOKEN_HEADER)
        if token is None and scheme.lower() == "bearer":
            token = credentials.strip()
        if token is not None and _same(token, settings.webhook_token):
            return True
    if settings.webhook_username and settings.webhook_password and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        user_ok = _same(user, settings.webhook_username)
        password_ok = _same(password, settings.webhook_password)  # both compared, always
        return bool(sep) and user_ok and password_ok
    return False


# --- the body ----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_body(request: Any, limit: int) -> bytes:
    """At most `limit` bytes, whether or not the sender declared a Content-Length."""
    length = request.content_length
    if length is not None and length > limit:
        raise _Refused(413, f"body larger than {limit} bytes")
    stream = request.stream
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _Refused(413, f"body larger than {limit} bytes")
    return b"".join(chunks)


def decode(raw: bytes) -> Any:
    """JSON from the wire; 400 for anything that is not (including NaN and deep nesting)."""
    if not raw.strip():
        raise _Refused(400, "empty body: expected JSON")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise _Refused(400, "body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise _Refused(400, "body is not valid JSON") from None


def to_events(body: Any, prism_url: str) -> list[dict]:
    """Accepted body -> events; 422 for one this project does not accept."""
    try:
        return events_from_payload(body, prism_url=prism_url)
    except InvalidInput as err:
        raise _Refused(422, str(err)) from None
    except RecursionError:
        raise _Refused(422, "webhook body is nested too deeply") from None
    except Exception:  # a parser bug must still not answer a malformed body with a 500
        log.exception("webhook body could not be parsed")
        raise _Refused(422, "webhook body could not be parsed") from None


# --- the endpoint -------------------------------------------------------------------------


def prism_url(settings: Settings) -> str:
    """Prism Central's address for links in pushed alerts ("" when not configured)."""
    host = settings.prism.host.strip().rstrip("/")
    if not host or "://" in host:
        return host
    return f"https://{host}:{settings.prism.port}"


class Webhook:
    """The pushed-alert endpoint of one process; nothing is opened before the first push."""

    def __init__(self, settings: Settings, *, outbox: delivery.Outbox | None = None) -> None:
        self.settings = settings
        self._outbox = outbox
        self._lock = threading.Lock()
        logs.setup(settings.log_level)
        self.prism_url = prism_url(settings)
        if not (settings.webhook_token or (settings.webhook_username
                                           and settings.webhook_password)):
            log.warning("no NTNX_WEBHOOK_TOKEN nor NTNX_WEBHOOK_USERNAME/PASSWORD: "
                        "every pushed alert is refused")

    @property
    def outbox(self) -> delivery.Outbox:
        if self._outbox is None:
            with self._lock:
                if self._outbox is None:
                    from shared import state

                    store = state.lazy(lambda: state.from_settings(self.settings))
                    forwarder = delivery.Forwarder(self.settings.alert_forward_url)
                    self._outbox = delivery.Outbox(forwarder, store)
        return self._outbox

    def handle(self, request: Any) -> tuple:
        """One plain HTTP request, as a flask response tuple."""
        if request.method in ("GET", "HEAD"):
            return json.dumps({"status": "ok"}), 200, JSON
        if request.method == "OPTIONS":
            return "", 204, {"Allow": "GET, HEAD, POST, OPTIONS"}
        token = logs.event_id.set(os.urandom(8).hex())
        started = time.monotonic()
        try:
            try:
                status, body, headers = self._push(request)
            except _Refused as refused:
                status, body, headers = refused.status, {"error": refused.reason}, refused.headers
            # accepted pushes are logged per batch by delivery (a line per request
            # costs a quarter of the throughput); refusals one by one
            log.log(logging.DEBUG if status < 400 else logging.WARNING, "webhook answered %s",
                    status, extra={"status": status, "count": body.get("received", 0),
                                   "elapsed_ms": round((time.monotonic() - started) * 1000)})
        finally:
            logs.event_id.reset(token)
        return json.dumps(body), status, {**JSON, **headers}

    def _push(self, request: Any) -> tuple[int, dict, dict]:
        if request.method != "POST":
            raise _Refused(405, "use POST", {"Allow": "GET, HEAD, POST, OPTIONS"})
        if not authenticated(request.headers, self.settings):
            raise _Refused(401, "missing or wrong webhook credentials",
                           {"WWW-Authenticate": 'Basic realm="alert_ingest"'})
        raw = read_body(request, self.settings.webhook_max_bytes)
        found = to_events(decode(raw), self.prism_url)
        if not found:
            return 200, {"received": 0, "delivered": 0}, {}
        try:
            outcome = self.outbox.submit(found)
        except PluginError as err:
            raise _Refused(503, str(err), {"Retry-After": "30"}) from None
        if outcome == delivery.DELIVERED:
            return 200, {"received": len(found), "delivered": len(found)}, {}
        return 202, {"received": len(found), "queued": len(found)}, {}
