"""What the notify function runs: Protocol.verify and Notification.dispatch, per channel kind.

Which channel. CloudForet registers one protocol plugin per channel kind and
a plugin cannot tell which registration it serves: only `options` differ
(spec cloudforet/README.md). So `options.channel` names the kind, one of
webhook, slack, teams, email, sns; empty options mean `webhook`, which is
also what the console gets when it calls init with empty options. Register
the same image once per kind, e.g. `plugin_info.options = {"channel": "slack"}`.

    options            default  meaning
    channel            webhook  the channel kind this protocol delivers to
    timeout_s          10       per delivery attempt (connect, each read)
    retry_deadline_s   60       retry transient failures until then (0: no retry)
    dedup_window_s     600      a repeat of a delivered dispatch is not sent again
                                within this window (0: off)

`init_metadata(options)` is what Protocol.init answers: CloudForet reads
`data_type` and `data.schema` (spec cloudforet/notification.md section 2);
`channel`, `options_schema` and `secret_data_schema` are for the operator
writing the protocol's options and secret. The plugin endpoint computes it
locally, since CloudForet calls init before every single dispatch.

Idempotency. CloudForet may dispatch one notification up to three times
(DESIGN fact 5). Channels with a key de-duplicate by the message's own key
(webhook Idempotency-Key, SNS FIFO, e-mail Message-ID); on top of that, a
delivered dispatch leaves a record in the state store,
`notify/delivered/<yyyy-mm-dd>/<hash>.json`, the hash covering the channel,
secret_data, channel_data and message key (one message to two channels is
two deliveries). A repeat within `dedup_window_s` is answered as delivered
without sending: that makes Slack and Teams, which have no key, idempotent
too. The record is best effort: a store that fails never stops a delivery.
A deliberate re-notification with identical content inside the window is
dropped as well; lower the window (or 0) where that matters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable

from shared import events, options
from shared.errors import InvalidInput, PluginError
from shared.notify import dispatch as delivery
from shared.notify import schema
from shared.notify.message import Message, parse_message
from shared.retry import RetryPolicy
from shared.state import StateStore

log = logging.getLogger(__name__)

TYPES = events.types_for("notify")
DEFAULT_CHANNEL = "webhook"
DELIVERED = "notify/delivered"
PRUNE_DAYS = range(2, 9)  # day folders no window reaches (windows end within one day)

OPTIONS_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "channel": {"type": "string", "enum": list(schema.CHANNELS),
                    "default": DEFAULT_CHANNEL, "title": "Channel kind",
                    "description": "What this protocol delivers to: webhook, slack, teams, "
                                   "email or sns"},
        "timeout_s": {"type": "integer", "minimum": 1, "maximum": 30, "default": 10,
                      "title": "Timeout per attempt (s)"},
        "retry_deadline_s": {"type": "integer", "minimum": 0, "maximum": 90, "default": 60,
                             "title": "Retry transient failures for (s)",
                             "description": "Timeouts, HTTP 429/5xx, SMTP 4xx; 0 disables"},
        "dedup_window_s": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 600,
                           "title": "Repeat suppression window (s)",
                           "description": "CloudForet may dispatch one notification up to "
                                          "three times; 0 disables"},
    },
}


def read_options(value: dict | None) -> dict:
    """Protocol options with defaults, or InvalidInput naming every problem."""
    return options.check(OPTIONS_SCHEMA, value, "options")


def init_metadata(value: dict | None) -> dict:
    """Protocol.init metadata for the channel `options.channel` names (webhook if none)."""
    channel = read_options(value)["channel"]
    return {**schema.init_metadata(channel), "channel": channel,
            "options_schema": OPTIONS_SCHEMA,
            "secret_data_schema": schema.SECRET_DATA_SCHEMAS[channel]}


def _policy(opts: dict) -> RetryPolicy:
    base = delivery.NOTIFY_POLICY
    return RetryPolicy(attempts=base.attempts, base_s=base.base_s, cap_s=base.cap_s,
                       deadline_s=float(opts["retry_deadline_s"]))


def verify(data: dict) -> dict:
    """Protocol.verify: secret_data (CloudForet sends no channel_data); `ping` for tools."""
    opts = read_options(data.get("options"))
    return delivery.verify(opts["channel"], data.get("secret_data"), data.get("channel_data"),
                           options={"ping": data.get("ping") is True}, policy=_policy(opts),
                           timeout_s=float(opts["timeout_s"]))


def delivery_key(channel: str, secret_data: object, channel_data: object, msg: Message) -> str:
    """One hash per (destination, message): no secret can be read back from it."""
    blob = json.dumps([channel, secret_data, channel_data, msg.idempotency_key],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:40]


def _day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def _record_key(day: str, key: str) -> str:
    return f"{DELIVERED}/{day}/{key}.json"


def _delivered(store: StateStore, key: str, now: float, window: int) -> dict | None:
    """The record of an earlier delivery inside the window, None if none (or unreadable)."""
    try:
        for day in sorted({_day(now - window), _day(now)}, reverse=True):
            record = store.get_json(_record_key(day, key))
            if isinstance(record, dict) and now - float(record.get("delivered_at", 0)) <= window:
                return record
    except (PluginError, TypeError, ValueError):
        log.warning("delivery records unreadable: sending without the repeat check")
    return None


_pruned: set[str] = set()
_prune_lock = threading.Lock()


def _remember(store: StateStore, key: str, now: float, result: dict) -> None:
    try:
        store.put_json(_record_key(_day(now), key), {
            "delivered_at": now, "channel": result["channel"],
            "receiver": result.get("receiver", ""), "attempts": result.get("attempts", 0)})
        _prune(store, now)
    except PluginError:
        log.warning("delivery record not written: a repeat would be sent again")


def _prune(store: StateStore, now: float) -> None:
    """Once per process and day, drop day folders no window reaches (a week back)."""
    today = _day(now)
    with _prune_lock:
        if today in _pruned:
            return
        _pruned.add(today)
    count = 0
    for back in PRUNE_DAYS:
        for old in list(store.list(f"{DELIVERED}/{_day(now - back * 86400)}/")):
            store.delete(old)
            count += 1
    if count:
        log.info("pruned old delivery records", extra={"count": count})


def deliver(data: dict, store: StateStore | None, *,
            now: Callable[[], float] = time.time) -> dict:
    """Notification.dispatch: deliver once per destination and message within the window."""
    opts = read_options(data.get("options"))
    channel = opts["channel"]
    msg = parse_message(data.get("message"), data.get("notification_type"))
    secret_data, channel_data = data.get("secret_data"), data.get("channel_data") or {}
    window = int(opts["dedup_window_s"])
    key = delivery_key(channel, secret_data, channel_data, msg) if window and store else ""
    if key:
        earlier = _delivered(store, key, now(), window)
        if earlier is not None:
            log.info("repeated dispatch: delivered before, not sent again",
                     extra={"channel": channel})
            return {"channel": channel, "idempotency_key": msg.idempotency_key,
                    "duplicate": True, "delivered_at": earlier.get("delivered_at")}
    result = delivery.dispatch(channel, secret_data, channel_data, msg, policy=_policy(opts),
                               timeout_s=float(opts["timeout_s"]))
    if key:
        _remember(store, key, now(), result)
    return result


def run(event_type: str, data: dict, ctx) -> dict | None:
    """The `shared.adapter.handle` callback of the notify function."""
    if event_type == events.NOTIFY_VERIFY:
        return verify(data)
    if event_type == events.NOTIFY_DISPATCH:
        return deliver(data, ctx.store)
    raise InvalidInput("event type not served by notify")
