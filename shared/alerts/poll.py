"""The periodic alert run: re-send dead letters, poll Prism, keep open alerts matchable.

Each tick (a Knative PingSource, every minute by default):

1. Dead letters are re-sent (`delivery.redeliver`). If the receiver is still
   down, the run stops there: polling would only pile up more.
2. Alerts changed since the watermark are listed (`PrismClient.iter_alerts`:
   v4.2 filters on the server, older APIs client-side), mapped, and sent in
   batches; the watermark advances after each delivered batch, never before,
   so a failure means the next run reads the same alerts again. A batch
   never splits alerts with the same change time: the watermark is a strict
   "changed after", so a split would skip the rest of that instant.
3. CloudForet resolves an alert only if an ALERT with the same event_key
   came within the last 10 minutes (spec cloudforet/monitoring.md B.4), and
   Prism reports an alert once when raised and once when resolved. So the
   ALERT events of alerts still open are re-sent every `REEMIT_S`, the way
   Prometheus Alertmanager re-sends firing alerts.

State (in the state store): `alerts/watermark.json` `{"since": "<RFC 3339>",
"updated_at": ...}` and `alerts/open.json` `{"alerts": {event_key: {"event":
{...}, "sent_at": <unix s>}}}`. The first run (no watermark) sends only
alerts still open: a RECOVERY without a recent ALERT is dropped by CloudForet.

Without NTNX_ALERT_FORWARD_URL nothing is sent; without NTNX_PRISM_HOST only
dead letters are re-sent (a push-only site). Two overlapping runs in one
process do not both poll; across replicas they may, which at worst sends an
event twice (harmless by event_key).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from shared.alerts import delivery
from shared.config import Settings
from shared.errors import BadResponse, PluginError
from shared.mapping.alerts import to_events
from shared.prism.models import Alert
from shared.state import StateStore

log = logging.getLogger(__name__)

WATERMARK = "alerts/watermark.json"
OPEN = "alerts/open.json"
REEMIT_S = 300.0  # well inside CloudForet's 600 s window, even with a missed tick
MAX_OPEN = 10_000  # open alerts tracked for re-sending; the oldest sent drop out first

_RUNNING = threading.Lock()


def _change_time(alert: Alert) -> datetime | None:
    """What the client's filter compares (`lastUpdatedTime`, else creation)."""
    when = alert.last_updated_at or alert.created_at
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_watermark(store: StateStore) -> datetime | None:
    value = store.get_json(WATERMARK)
    if value is None:
        return None
    try:
        since = datetime.fromisoformat(value["since"])
    except (TypeError, KeyError, ValueError):
        raise BadResponse(f"state object {WATERMARK} is not a watermark") from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def write_watermark(store: StateStore, since: datetime) -> None:
    store.put_json(WATERMARK, {"since": _iso(since),
                               "updated_at": _iso(datetime.now(UTC))})


def group_batches(alerts: Iterable[Alert], size: int = delivery.MAX_BATCH
                  ) -> Iterator[tuple[list[Alert], datetime | None]]:
    """Batches of about `size` alerts, never splitting one change time; with their max."""
    batch: list[Alert] = []
    latest: datetime | None = None
    for alert in alerts:
        when = _change_time(alert)
        if len(batch) >= size and when != latest:
            yield batch, latest
            batch = []
        batch.append(alert)
        if when is not None and (latest is None or when > latest):
            latest = when
    if batch:
        yield batch, latest


class OpenAlerts:
    """ALERT events still open in Prism, with when each was last sent."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        value = store.get_json(OPEN) or {}
        alerts = value.get("alerts") if isinstance(value, dict) else None
        self.alerts: dict[str, dict] = alerts if isinstance(alerts, dict) else {}
        self.changed = False

    def record(self, events: list[dict], now: float) -> None:
        for event in events:
            key = event["event_key"]
            if event["event_type"] == "RECOVERY":
                self.changed |= self.alerts.pop(key, None) is not None
            else:
                self.alerts[key] = {"event": event, "sent_at": now}
                self.changed = True

    def due(self, now: float) -> list[dict]:
        return [entry["event"] for entry in self.alerts.values()
                if now - float(entry.get("sent_at") or 0) >= REEMIT_S]

    def save(self) -> None:
        if len(self.alerts) > MAX_OPEN:
            newest = sorted(self.alerts.items(), key=lambda kv: kv[1].get("sent_at") or 0)
            self.alerts = dict(newest[-MAX_OPEN:])
        if self.changed:
            self.store.put_json(OPEN, {"alerts": self.alerts})
            self.changed = False


def _open_client(settings: Settings):
    from shared.prism import Connection, PrismClient

    conn = Connection.from_secret(settings.prism.as_secret_data())
    return PrismClient(conn), conn.base_url


def run(settings: Settings, store: StateStore, *,
        forwarder: delivery.Forwarder | None = None,
        open_client: Callable[[Settings], tuple[Any, str]] = _open_client,
        clock: Callable[[], float] = time.time) -> dict:
    """One tick; a summary for the log and the (discarded) reply. Failures are reported.

    A failing receiver or Prism is an answer here, not an exception: the
    PingSource would only retry at once, and the next tick comes anyway.
    """
    if not _RUNNING.acquire(blocking=False):
        return {"skipped": "a poll is already running in this process"}
    try:
        return _run(settings, store, forwarder or delivery.Forwarder(settings.alert_forward_url),
                    open_client, clock)
    finally:
        _RUNNING.release()


def _run(settings: Settings, store: StateStore, forwarder: delivery.Forwarder,
         open_client: Callable, clock: Callable[[], float]) -> dict:
    if not forwarder.configured:
        log.error("NTNX_ALERT_FORWARD_URL is not set: alerts are neither polled nor re-sent")
        return {"skipped": "NTNX_ALERT_FORWARD_URL is not set"}
    summary: dict[str, Any] = {"dead_letters": {}, "polled": 0, "sent": 0, "reemitted": 0}
    try:
        drain = delivery.redeliver(store, forwarder)
        summary["dead_letters"] = drain.as_dict()
        if drain.blocked:
            return {**summary, "error": "CloudForet webhook unavailable; watermark kept"}
        if not settings.prism.host:
            return {**summary, "skipped": "NTNX_PRISM_HOST is not set: push only"}
        opened = OpenAlerts(store)
        try:
            _poll(settings, store, forwarder, open_client, opened, clock, summary)
            due = opened.due(clock())
            for chunk in delivery.batches(due):
                forwarder.send(chunk, delivery.PERIODIC_POLICY)
                opened.record(chunk, clock())
                summary["reemitted"] += len(chunk)
        finally:
            opened.save()
    except PluginError as err:
        log.warning("alert poll stopped: %s", err, extra={"count": summary["sent"]})
        return {**summary, "error": str(err)}
    log.info("alert poll done", extra={"count": summary["sent"]})
    return summary


def _poll(settings: Settings, store: StateStore, forwarder: delivery.Forwarder,
          open_client: Callable, opened: OpenAlerts, clock: Callable[[], float],
          summary: dict) -> None:
    since = read_watermark(store)
    client, prism_url = open_client(settings)
    with client:
        for batch, latest in group_batches(client.iter_alerts(since=since)):
            summary["polled"] += len(batch)
            events = [e for alert in batch for e in to_events(alert, prism_url=prism_url)]
            if since is None:  # first run: a RECOVERY without a recent ALERT is dropped anyway
                events = [e for e in events if e["event_type"] != "RECOVERY"]
            for chunk in delivery.batches(events):
                forwarder.send(chunk, delivery.PERIODIC_POLICY)
                summary["sent"] += len(chunk)
            opened.record(events, clock())
            if latest is not None:
                write_watermark(store, latest)
