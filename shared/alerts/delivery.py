"""Forwarding alert events to CloudForet: the body, the POST, dead letters, group commit.

Owns what goes to the CloudForet webhook URL (`NTNX_ALERT_FORWARD_URL`) and
what happens when it cannot go. Not owned here: which events (payloads and
mapping), the Prism-facing HTTP edge (`ingest.py`), the poll (`poll.py`).

Forwarded body
--------------
CloudForet's webhook endpoint passes the raw JSON body, as a Struct, to our
own `Event.parse` (spec cloudforet/monitoring.md B.2-B.3). So we send the
events already mapped, wrapped so that parse returns exactly them:

    {"format": "cloudforet-nutanix-events/v1", "events": [<EventInfo dict>, ...]}

A JSON object (an array would fail CloudForet's Struct conversion), strings
and string maps only (Struct turns numbers into floats), at most `MAX_BATCH`
events (CloudForet handles the body synchronously, one event after another).

Dead letters
------------
A batch that cannot be delivered is written to the state store, one object
per batch, `alerts/dead/<UTC yyyymmddTHHMMSS.ffffff>-<8 hex>.json`:

    {"format": "cloudforet-nutanix-dead-letter/v1", "created_at": "...Z",
     "attempts": 1, "reason": "<error class>", "events": [...]}

Key order is arrival order. `redeliver` (every periodic run) re-sends them
oldest first, deletes each once delivered, and stops at the first failure
worth retrying (the receiver is down: keep the order, an ALERT before its
RECOVERY); a letter the receiver refuses for good (4xx) is kept, counted and
skipped. The URL is never stored (its path holds CloudForet's access key).

Exactly once, and harmless when not
-----------------------------------
The normal path sends each batch once. A duplicate needs an answer lost after
CloudForet processed the body (timeout, reset) or a crash between a re-send
and its delete; CloudForet then sees the same `event_key` again, which only
updates the alert's description (monitoring.md B.4).

Group commit (`Outbox`)
-----------------------
Webhook requests queue their events; one of them at a time sends whatever
has queued up as one body, so a burst costs one POST per batch, not per
alert, and each request is answered only once its events are delivered
(200) or written as a dead letter (202): nothing is acknowledged that exists
only in memory. Nothing is written to the store on the normal path.
"""

from __future__ import annotations

import http.client
import logging
import os
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from shared.errors import (
    BadResponse,
    DeliveryFailed,
    InvalidInput,
    PluginError,
    ReceiverUnavailable,
)
from shared.retry import RetryPolicy, call_with_retry
from shared.state import StateStore, dumps
from shared.validation import problems

log = logging.getLogger(__name__)

FORMAT = "cloudforet-nutanix-events/v1"
DEAD_FORMAT = "cloudforet-nutanix-dead-letter/v1"
DEAD = "alerts/dead/"
MAX_BATCH = 100  # events per POST
USER_AGENT = "cloudforet-nutanix-alert-ingest/1"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0  # CloudForet parses and stores every event before it answers

# a webhook request is waiting: try briefly, then keep the batch as a dead letter
INLINE_POLICY = RetryPolicy(attempts=3, base_s=0.1, cap_s=1.0, deadline_s=3.0)
# a periodic run: nobody waits on it
PERIODIC_POLICY = RetryPolicy(attempts=3, base_s=0.5, cap_s=4.0, deadline_s=15.0)
ONCE = RetryPolicy(attempts=1)
INLINE_DRAIN_S = 2.0  # a request re-sending older dead letters first: at most this long

SEVERITIES = ("CRITICAL", "ERROR", "WARNING", "INFO", "NOT_AVAILABLE")
_TEXT = {"type": "string"}
EVENT_SCHEMA: dict = {  # monitoring.plugin.EventInfo as we emit it (shared/mapping/alerts.py)
    "type": "object",
    "required": ["event_key", "event_type", "title"],
    "additionalProperties": False,
    "properties": {
        "event_key": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9_:.-]{1,256}$"},
        "event_type": {"type": "string", "enum": ["ALERT", "RECOVERY", "ERROR"]},
        "title": _TEXT, "description": _TEXT, "rule": _TEXT, "provider": _TEXT,
        "account": _TEXT, "image_url": _TEXT,
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "occurred_at": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
                                                     r"(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$"},
        "resource": {"type": "object", "additionalProperties": _TEXT},
        "resources": {"type": "array", "items": _TEXT},
        "additional_info": {"type": "object", "additionalProperties": _TEXT},
    },
}


# --- the forwarded body ----------------------------------------------------------------


def to_body(events: list[dict]) -> dict:
    return {"format": FORMAT, "events": list(events)}


def is_forwarded(body: object) -> bool:
    return isinstance(body, dict) and body.get("format") == FORMAT


def events_in(body: dict) -> list[dict]:
    """The events of a forwarded body, checked; InvalidInput naming every problem."""
    events = body.get("events")
    if not isinstance(events, list):
        raise InvalidInput(f"{FORMAT} body needs an 'events' array")
    found: list[str] = []
    for index, event in enumerate(events):
        found += problems(EVENT_SCHEMA, event, f"events[{index}]")
    if found:
        raise InvalidInput(f"{FORMAT} body not accepted", found[:20])
    return events


def batches(events: list[dict], size: int = MAX_BATCH) -> Iterator[list[dict]]:
    for start in range(0, len(events), size):
        yield events[start:start + size]


# --- one POST, with retries ---------------------------------------------------------------


def host_of(url: str) -> str:
    """The only part of the forward URL that may be shown: its path holds an access key."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Forwarder:
    """POSTs forwarded bodies to one CloudForet webhook URL; thread-safe.

    Plain `http.client` with kept-alive connections: a webhook burst makes
    one POST per batch on the request path, and `requests` costs about three
    times the CPU per POST (most of it re-reading proxy settings). Proxies
    are not supported; TLS is verified against the system CAs, or the bundle
    named by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE. Redirects are not followed
    (a 3xx is a refusal: configure the final URL).
    """

    def __init__(self, url: str, *, timeout_s: float = READ_TIMEOUT_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.host = host_of(url)
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._target: tuple[str, str, int, str] | None = None
        try:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.hostname:
                port = parts.port or (443 if parts.scheme == "https" else 80)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                self._target = (parts.scheme, parts.hostname, port, path)
        except ValueError:
            self._target = None
        self._tls: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"Forwarder(host={self.host!r})"

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def send(self, events: list[dict], policy: RetryPolicy = INLINE_POLICY) -> int:
        """Deliver `events` as one body (retrying what is worth it); returns the attempts."""
        if not self.url:
            raise ReceiverUnavailable("NTNX_ALERT_FORWARD_URL is not set: events are kept")
        if self._target is None:
            raise DeliveryFailed("NTNX_ALERT_FORWARD_URL is not a usable http(s) URL")
        body = dumps(to_body(events))
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            self._post(body)

        call_with_retry(attempt, policy, sleep=self._sleep)
        return attempts

    def _connection(self, *, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """(a connection, whether it was kept alive from an earlier POST)."""
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop(), True
        scheme, host, port, _ = self._target
        if scheme == "https":
            if self._tls is None:
                cafile = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                          or None)  # what shared/prism/transport.py honours too
                self._tls = ssl.create_default_context(cafile=cafile)
            return http.client.HTTPSConnection(host, port, timeout=CONNECT_TIMEOUT_S,
                                               context=self._tls), False
        return http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT_S), False

    def _exchange(self, conn: http.client.HTTPConnection, body: bytes) -> tuple[int, str]:
        if conn.sock is None:
            conn.connect()
            conn.sock.settimeout(self.timeout_s)
        conn.request("POST", self._target[3], body=body, headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT})
        resp = conn.getresponse()
        resp.read()
        if resp.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.append(conn)
        return resp.status, resp.getheader("Retry-After") or ""

    def _post(self, body: bytes) -> None:
        conn, reused = self._connection()
        try:
            try:
                status, retry_after = self._exchange(conn, body)
            except _STALE:
                if not reused:
                    raise
                conn.close()  # the receiver closed a kept-alive connection: once more, fresh
                conn, _ = self._connection(fresh=True)
                status, retry_after = self._exchange(conn, body)
        except TimeoutError:
            conn.close()
            raise ReceiverUnavailable(f"CloudForet webhook at {self.host} timed out") from None
        except ssl.SSLCertVerificationError:
            conn.close()
            raise DeliveryFailed(f"TLS verification of CloudForet webhook at {self.host} "
                                 "failed") from None
        except (OSError, http.client.HTTPException):
            conn.close()
            raise ReceiverUnavailable(f"could not reach CloudForet webhook at "
                                      f"{self.host}") from None
        if 200 <= status < 300:
            return
        what = f"CloudForet webhook at {self.host} answered HTTP {status}"
        if status >= 500 or status in (404, 408, 409, 429):
            wait = float(retry_after) if retry_after.strip().isdigit() else None
            raise ReceiverUnavailable(what, retry_after=wait)
        raise DeliveryFailed(what)


# --- dead letters ------------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def store_dead(store: StateStore, events: list[dict], reason: str, *,
               attempts: int = 1) -> str:
    """Keep `events` for a later re-send; returns the key. Raises if the store fails."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    key = f"{DEAD}{stamp}-{uuid.uuid4().hex[:8]}.json"
    store.put_json(key, {"format": DEAD_FORMAT, "created_at": _now_iso(),
                         "attempts": attempts, "reason": reason, "events": events})
    log.warning("events kept as a dead letter", extra={"count": len(events), "path": key})
    return key


def dead_letters(store: StateStore) -> list[str]:
    return [key for key in store.list(DEAD) if key.endswith(".json")]


@dataclass
class Drain:
    delivered: int = 0  # letters
    events: int = 0
    refused: int = 0  # letters the receiver refused for good, kept
    left: int = 0
    blocked: bool = False  # stopped at a retryable failure: the receiver is down

    @property
    def finished(self) -> bool:
        """Nothing left but letters the receiver refused for good."""
        return not self.blocked and self.left == self.refused

    def as_dict(self) -> dict:
        return {"delivered": self.delivered, "events": self.events, "refused": self.refused,
                "left": self.left, "blocked": self.blocked}


_DRAIN_LOCK = threading.Lock()  # one drain or inline send at a time per process: order kept


def redeliver(store: StateStore, forwarder: Forwarder, *, policy: RetryPolicy = PERIODIC_POLICY,
              budget_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> Drain:
    """Re-send dead letters oldest first; see the module docstring for what stops it."""
    with _DRAIN_LOCK:
        return _redeliver(store, forwarder, policy, budget_s, clock)


def _redeliver(store: StateStore, forwarder: Forwarder, policy: RetryPolicy, budget_s: float,
               clock: Callable[[], float]) -> Drain:
    drain = Drain()
    keys = dead_letters(store)
    give_up_at = clock() + budget_s
    for index, key in enumerate(keys):
        if clock() > give_up_at:
            drain.left += len(keys) - index
            break
        try:
            letter = store.get_json(key)
        except BadResponse:
            letter = {}
        if letter is None:  # another run delivered it meanwhile
            continue
        events = letter.get("events") if isinstance(letter, dict) else None
        if not isinstance(events, list):
            log.error("unreadable dead letter skipped", extra={"path": key})
            drain.refused += 1
            drain.left += 1
            continue
        try:
            for chunk in batches(events):
                forwarder.send(chunk, policy)
        except PluginError as err:
            attempts = letter.get("attempts")
            letter["attempts"] = (attempts if isinstance(attempts, int) else 0) + 1
            letter["reason"] = type(err).__name__
            store.put_json(key, letter)
            drain.left += 1
            if err.retryable:
                drain.left += len(keys) - index - 1
                drain.blocked = True
                log.info("dead letters wait: %s", err, extra={"count": drain.left})
                break
            drain.refused += 1
            log.warning("dead letter refused: %s", err, extra={"path": key})
            continue
        store.delete(key)
        drain.delivered += 1
        drain.events += len(events)
    if drain.delivered:
        log.info("dead letters delivered", extra={"count": drain.events})
    return drain


# --- group commit for webhook requests --------------------------------------------------------


DELIVERED, STORED, FAILED = "delivered", "stored", "failed"
_RANK = {DELIVERED: 0, STORED: 1, FAILED: 2}


@dataclass(eq=False)
class _Pending:
    events: list[dict]
    done: bool = False
    outcome: str = FAILED


class Outbox:
    """Group commit: waiting requests' events go out together, one batch at a time.

    Leader/follower, no thread of its own: a request that finds no batch in
    flight takes everything queued (its own events included, oldest first,
    up to `max_batch`) and sends it; the others wait and are woken with
    their outcome. A burst thus costs one POST per batch, batches grow with
    the load, and nothing runs between requests (no thread to lose in
    gunicorn's fork, or when Knative freezes an idle container).

    While the receiver is known to be down (`cooldown_s` after a failed
    batch) batches go straight to the store, so requests are not held up by
    retries that cannot succeed; once it is up again, this process's dead
    letters are re-sent before new events, to keep their order. A request
    still waiting after `wait_s` (a slow receiver) keeps its events itself:
    taken out of the queue if not yet sent, else as a copy, which at worst
    delivers them twice.
    """

    def __init__(self, forwarder: Forwarder, store: StateStore, *, max_batch: int = MAX_BATCH,
                 wait_s: float = 10.0, cooldown_s: float = 5.0,
                 policy: RetryPolicy = INLINE_POLICY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.forwarder = forwarder
        self.store = store
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.cooldown_s = cooldown_s
        self.policy = policy
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._sending = False
        self._down_until = 0.0
        self._backlog = False  # this process wrote dead letters not yet re-sent

    def submit(self, events: list[dict]) -> str:
        """DELIVERED or STORED once that is true; raises ReceiverUnavailable for neither."""
        if not events:
            return DELIVERED
        pending = _Pending(list(events))
        give_up_at = time.monotonic() + self.wait_s
        with self._cond:
            self._queue.append(pending)
        while True:
            batch: list[_Pending] = []
            with self._cond:
                while not pending.done and self._sending:
                    left = give_up_at - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if pending.done:
                    outcome = pending.outcome
                    break
                if not self._sending:
                    self._sending = True
                    batch = self._take()
                elif pending in self._queue:  # waited too long on a slow receiver
                    self._queue.remove(pending)
            if batch:
                self._lead(batch)
                continue
            outcome = self._store(pending.events, "slow receiver")
            break
        if outcome == FAILED:
            raise ReceiverUnavailable("alerts could be neither delivered nor stored")
        return outcome

    def _take(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        count = len(batch[0].events)
        while self._queue and count + len(self._queue[0].events) <= self.max_batch:
            count += len(self._queue[0].events)
            batch.append(self._queue.popleft())
        return batch

    def _lead(self, batch: list[_Pending]) -> None:
        try:
            outcome = self._process([event for p in batch for event in p.events])
        except Exception:  # noqa: BLE001 - the waiters must be answered whatever happens
            log.exception("alert batch failed")
            outcome = FAILED
        with self._cond:
            for pending in batch:
                pending.outcome, pending.done = outcome, True
            self._sending = False
            self._cond.notify_all()

    def _process(self, events: list[dict]) -> str:
        outcome = DELIVERED
        for chunk in batches(events, self.max_batch):
            result = self._deliver_or_store(chunk)
            if _RANK[result] > _RANK[outcome]:
                outcome = result
        return outcome

    def _deliver_or_store(self, events: list[dict]) -> str:
        if not self.forwarder.configured:
            log.error("NTNX_ALERT_FORWARD_URL is not set: events kept as dead letters")
            return self._store(events, "not configured")
        if self._clock() < self._down_until:
            return self._store(events, "receiver down")
        with _DRAIN_LOCK:
            if self._backlog:
                drain = _redeliver(self.store, self.forwarder, ONCE, INLINE_DRAIN_S,
                                   self._clock)
                if drain.blocked:
                    self._down_until = self._clock() + self.cooldown_s
                if not drain.finished:  # behind older letters, to keep their order
                    return self._store(events, "behind dead letters")
                self._backlog = False
            started = self._clock()
            try:
                attempts = self.forwarder.send(events, self.policy)
            except PluginError as err:
                if err.retryable:
                    self._down_until = self._clock() + self.cooldown_s
                log.warning("alert events not delivered: %s", err,
                            extra={"count": len(events), "url_host": self.forwarder.host})
                return self._store(events, type(err).__name__)
        log.info("alert events delivered", extra={
            "count": len(events), "attempt": attempts,
            "elapsed_ms": round((self._clock() - started) * 1000)})
        return DELIVERED

    def _store(self, events: list[dict], reason: str) -> str:
        try:
            store_dead(self.store, events, reason)
        except Exception:  # noqa: BLE001 - any store failure means: not kept
            log.exception("dead letter could not be written")
            return FAILED
        self._backlog = True
        return STORED
