"""What the collect function runs for CloudForet's Metric service.

    metric.list.v1  Metric.list: the metrics of one cloud service (no Prism call:
                    the catalogue depends only on the entity type)
    metric.data.v1  Metric.get_data: one metric of many cloud services, one Prism
                    stats request per resource, `concurrency` in flight; replies
                    {labels, values: {cloud service id: series.pack(values)}}

Each resource's series is aligned and packed by the thread that fetched it,
while the other requests are on their way, and the labels are laid out while
the first ones are: the call's CPU overlaps Prism's latency.

Prism aggregates (`$statType`, `$samplingInterval`: see `series`); this
module only reads and lays out. A resource Prism does not know (404) is left
out of `values` so one deleted VM does not blank a chart of 200 (CloudForet
drops a whole chunk on error); when none is known, the call fails NOT_FOUND,
telling apart a Prism Central without the v4 stats API. Any other error
stops the call. The v3 `groups` API is not read: neither the client nor the
simulator has it, so a fallback could not be tested.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from shared import events, options
from shared.errors import InvalidInput, NotFound
from shared.metrics import catalogue, series
from shared.metrics.catalogue import Metric, Resource
from shared.prism import Connection, PrismClient
from shared.prism.client import STATS_VERSION
from shared.prism.models import StatSeries
from shared.prism.transport import gc_paused

log = logging.getLogger(__name__)

NAMESPACE = {"vm": "vmm", "host": "clustermgmt", "cluster": "clustermgmt"}
MAX_NAMED = 5  # resource ids named in a NOT_FOUND message


def list_metrics(data: dict, ctx: Any) -> dict:
    options.check(catalogue.OPTIONS_SCHEMA, data.get("options"), "options")
    query = data.get("query")
    found = catalogue.resource(query)
    return {"metrics": [m.info(query) for m in catalogue.for_entity(found.entity_type)]}


def get_data(data: dict, ctx: Any, *, now: Callable[[], datetime] | None = None) -> dict:
    opts = options.check(catalogue.OPTIONS_SCHEMA, data.get("options"), "options")
    wanted = catalogue.resources(data.get("metric_query"))
    types = {r.entity_type for r in wanted.values()}
    metric = catalogue.metric(data.get("metric"), types)
    stat = catalogue.stat(data.get("stat"))
    start = series.parse_time(data.get("start"), "start")
    end = series.parse_time(data.get("end"), "end")
    period = data.get("period")
    if period is not None and (isinstance(period, bool) or not isinstance(period, int)
                               or period < 0):
        raise InvalidInput("invalid period", ["period must be whole seconds"])
    win = series.window(start, end, period or None, max(series.FLOOR_S[t] for t in types),
                        (now or _now)())
    if not win.count:
        return {"labels": [], "values": {key: series.pack([]) for key in wanted}}
    conn = Connection.from_secret(data.get("secret_data") or {}, opts)
    with gc_paused():
        values = _packed(conn, opts["concurrency"], wanted, metric, win, stat)
    log.info("metric data", extra={"count": len(values)})
    return {"labels": win.labels, "values": values}


def _packed(conn: Connection, concurrency: int, wanted: dict[str, Resource], metric: Metric,
            win: series.Window, stat: str) -> dict[str, str]:
    """{cloud service id: packed values}, for the caller to run with the collector paused.

    A 100-VM call decodes ~1M objects (Prism's points and their JSON), none in
    a cycle; collections kept re-scanning those in flight. All are gone when
    this returns, so the collector, back on, has none of them to scan.
    """
    with PrismClient(conn, concurrency=concurrency) as client:
        values = _fetch_all(client, wanted, metric, win, stat, concurrency)
        if not values:
            raise _none_found(client, wanted)
    return values


def _now() -> datetime:
    return datetime.now(UTC)


def _fetch_all(client: PrismClient, wanted: dict[str, Resource], metric: Metric,
               win: series.Window, stat: str, concurrency: int) -> dict[str, str]:
    """{cloud service id: packed values}, one request per resource, `concurrency` at once."""
    def one(res: Resource) -> str | None:
        try:
            found = _series(client, res, metric.sources[res.entity_type], win, stat)
        except NotFound:
            return None
        return series.pack(series.align(found.times, found.values, win, metric, stat))

    pool = ThreadPoolExecutor(max(1, min(concurrency, len(wanted))),
                              thread_name_prefix="prism-stats")
    try:
        futures = {key: pool.submit(contextvars.copy_context().run, one, res)
                   for key, res in wanted.items()}
        _ = win.slots, win.labels  # laid out while the first answers are on their way
        found = {key: future.result() for key, future in futures.items()}
    finally:
        pool.shutdown(cancel_futures=True)  # an error stops the rest
    missing = [key for key, packed in found.items() if packed is None]
    if missing:
        log.warning("resources unknown to Prism left out", extra={"count": len(missing)})
    return {key: packed for key, packed in found.items() if packed is not None}


_NO_SAMPLE = StatSeries(metric="", times=(), values=())


def _series(client: PrismClient, res: Resource, name: str, win: series.Window,
            stat: str) -> StatSeries:
    """One stats request; the one series `name` (empty: Prism has no sample in range)."""
    args = (win.start, win.end)
    kwargs = {"interval_s": win.step_s, "stat": stat, "select": [name]}  # else ~90 stats
    if res.entity_type == "vm":
        found: list[StatSeries] = client.vm_stats(res.ext_id, *args, **kwargs)
    elif res.entity_type == "host":
        found = client.host_stats(res.cluster_ext_id, res.ext_id, *args, **kwargs)
    else:
        found = client.cluster_stats(res.ext_id, *args, **kwargs)
    return next((s for s in found if s.metric == name), _NO_SAMPLE)


def _none_found(client: PrismClient, wanted: dict[str, Resource]) -> NotFound:
    """NOT_FOUND naming the resources, or the missing v4 stats API when that is why."""
    info = client.info
    unserved = sorted({NAMESPACE[r.entity_type] for r in wanted.values()
                       if not info.serves(NAMESPACE[r.entity_type], STATS_VERSION)})
    if unserved:
        return NotFound(f"this Prism Central does not serve the v4 stats API "
                        f"({', '.join(f'{ns} {STATS_VERSION}' for ns in unserved)})")
    named = sorted(f"{r.entity_type} {r.ext_id}" for r in wanted.values())
    more = f" and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else ""
    return NotFound(f"Prism Central knows none of: {', '.join(named[:MAX_NAMED])}{more}")


HANDLERS = {
    events.METRIC_LIST: list_metrics,
    events.METRIC_DATA: get_data,
}
