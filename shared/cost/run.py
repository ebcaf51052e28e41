"""What the cost function runs for each CloudEvent: the `adapter.handle` callback.

    cost.verify.v1    rate card valid and Prism credentials work
    cost.record.v1    hourly (PingSource): snapshot every VM, fold into daily rollups
    cost.tasks.v1     Job.get_tasks: (month, cluster) tasks and `changed` windows
    cost.accounts.v1  Cost.get_linked_accounts: clusters, or projects
    cost.compute.v1   one (month, cluster, day window) of costs, columnar
    cost.export.v1    a month as FOCUS CSV in the state store

Periodic runs (record, export) carry no secret_data: the Prism connection
comes from NTNX_PRISM_* and the rate card from the last sync (saved by
`cost.tasks.v1`, options only, never secrets). A PingSource tick (it keeps
its `nutanixtype` extension) is answered 202, empty: its reply is dropped.
"""

from __future__ import annotations

import calendar
import gc
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared import events
from shared.cost import PRODUCT, PROVIDER, USAGE_TYPES, ratecard, reply, snapshots, tasks
from shared.cost.compute import CostRows, compute, info_of, tags_of
from shared.cost.focus import FocusWriter
from shared.errors import AuthenticationFailed, InvalidInput, PermissionDenied, PluginError

log = logging.getLogger(__name__)

TYPES = events.types_for("cost")
PING_EXTENSION = "nutanixtype"  # set on PingSource ticks (shared/adapter.py maps their type)
RATECARD_KEY = "cost/ratecard.json"
EXPORT_PREFIX = "cost/exports/focus/"
KEEP_HOURLY_DAYS = 3  # raw hourly snapshots kept this long, then only the rollups
ESTIMATED_INFO = {"Estimated": "true"}  # additional_info of days priced from today's allocation
STOP = (AuthenticationFailed, PermissionDenied)

# Pricing a window allocates ~10^5 short-lived containers while rollups holding ~10^5 more
# are alive. At CPython's default generation-0 threshold (700) the cyclic collector walks
# them again and again: ~30% of a compute call's CPU. The cost function makes no cycles
# worth collecting that often, so it collects less often (this module is its handler).
gc.set_threshold(50_000, 20, 100)


# -- connections ------------------------------------------------------------------------


def _periodic(ctx: Any) -> bool:
    return bool(ctx.attributes.get(PING_EXTENSION))


def _now() -> datetime:
    return datetime.now(UTC)


def _secret_data(data: dict, ctx: Any) -> dict:
    secret = data.get("secret_data")
    if secret:
        return secret
    env = ctx.settings.prism
    if not env.host:
        raise InvalidInput("no secret_data, and NTNX_PRISM_HOST is not set for periodic runs")
    return env.as_secret_data()


def _client(data: dict, ctx: Any, opts: dict | None = None):
    from shared.prism import Connection, PrismClient  # not at import: cheap cold start

    opts = opts or {}
    conn = Connection.from_secret(_secret_data(data, ctx),
                                  {k: opts[k] for k in ("api", "concurrency") if k in opts})
    return PrismClient(conn)


# -- record -----------------------------------------------------------------------------


def take_snapshot(client: Any, hour: datetime, api: str = "auto") -> snapshots.Snapshot:
    """Every VM now: clusters and projects name them, VMs are turned into rows at once.

    VMs come from v3 where it is served, unless the options force an API:
    v4 GA VMs carry no project (shared/prism/models.py), and showback per
    project needs it.
    """
    clusters, pc = {}, ""
    for cluster in client.iter_clusters():
        if cluster.is_prism_central:
            pc = cluster.ext_id
        else:
            clusters[cluster.ext_id] = cluster.name
    projects: dict[str, str] = {}
    try:
        projects = {p.ext_id: p.name for p in client.iter_projects()}
    except STOP:
        raise
    except PluginError as err:  # v3-only call; labels lose names, costs stay right
        log.warning("projects not listed: %s", err.grpc_code)
    if api == "auto":
        api = "v3" if client.info.v3 else "v4"
    rows = [snapshots.row_from_vm(vm) for vm in client.iter_kind("vms", api=api)]
    return snapshots.Snapshot(hour, clusters, projects, rows, pc)


def _hour(data: dict, ctx: Any) -> datetime:
    text = data.get("hour") or ctx.attributes.get("time")
    if not text:
        return snapshots.hour_of(_now())
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00")
                                        + (":00" if len(str(text)) == 13 else ""))
    except ValueError:
        raise InvalidInput("hour must be YYYY-MM-DDTHH or an ISO 8601 time") from None
    return snapshots.hour_of(moment)


def record(data: dict, ctx: Any) -> dict | None:
    """Snapshot the hour (the event's time: a retried tick lands on the same hour)."""
    hour = _hour(data, ctx)
    keep = data.get("keep_hourly_days", KEEP_HOURLY_DAYS)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise InvalidInput("keep_hourly_days must be a non-negative integer")
    opts = data.get("options") or {}
    with _client(data, ctx, opts) as client:
        snap = take_snapshot(client, hour, opts.get("api", "auto"))
    summary = snapshots.record(ctx.store, snap)
    summary["compacted"] = snapshots.compact(ctx.store, _now().date(), keep)
    log.info("recorded allocation", extra={"count": summary["vms"]})
    return None if _periodic(ctx) else summary


# -- tasks and accounts -------------------------------------------------------------------


def _vm_counts(store: Any, clusters: dict[str, str], today: date) -> dict[str, int]:
    counts = {}
    for ext_id in clusters:
        rollup = snapshots.latest_rollup(store, ext_id, not_after=today)
        counts[ext_id] = len(rollup.vms) if rollup else 0
    return counts


def _accounts(client: Any, account_by: str) -> list[dict]:
    if account_by == "project":
        return [{"account_id": p.ext_id, "name": p.name} for p in client.iter_projects()]
    return [{"account_id": c.ext_id, "name": c.name} for c in client.iter_clusters()
            if not c.is_prism_central]


def plan_tasks(data: dict, ctx: Any) -> dict:
    card = ratecard.parse(data.get("options"))
    store, now = ctx.store, _now()
    store.put_json(RATECARD_KEY, ratecard.pricing_options(card.options))
    with _client(data, ctx, card.options) as client:
        clusters = {c.ext_id: c.name for c in client.iter_clusters() if not c.is_prism_central}
        if store.get(snapshots.LATEST_KEY) is None:  # nothing recorded yet: a base for estimates
            snapshots.record(store, take_snapshot(client, snapshots.hour_of(now),
                                                  card.options["api"]))
        accounts = _accounts(client, card.options["account_by"]) \
            if data.get("linked_accounts") else []
    first = tasks.first_month(now, start=str(data.get("start") or ""),
                              last_synchronized_at=str(data.get("last_synchronized_at") or ""),
                              first_recorded=snapshots.first_day(store),
                              backfill_months=int(card.options["backfill_months"]))
    months = tasks.months_between(first, tasks.month_of(now.date()))
    for month in months:  # clusters gone from Prism still have their recorded days
        for ext_id, last_day in snapshots.clusters_in_month(store, month).items():
            if ext_id not in clusters:
                rollup = snapshots.load_rollup(store, date.fromisoformat(last_day), ext_id)
                clusters[ext_id] = (rollup.cluster_name if rollup else "") or ext_id
    body = tasks.plan(clusters, months, _vm_counts(store, clusters, now.date()))
    ours = {a["account_id"] for a in accounts}
    body["synced_accounts"] = [{"account_id": a.get("account_id")}
                               for a in data.get("linked_accounts") or []
                               if a.get("account_id") in ours]
    log.info("planned cost tasks", extra={"count": len(body["tasks"])})
    return body


def linked_accounts(data: dict, ctx: Any) -> dict:
    opts = ratecard.check(data.get("options"))
    with _client(data, ctx, opts) as client:
        return {"results": _accounts(client, opts["account_by"])}


def verify(data: dict, ctx: Any) -> dict:
    card = ratecard.parse(data.get("options"))
    with _client(data, ctx, card.options) as client:
        info = client.check()
    return {"product": info.product, "currency": card.currency}


# -- compute ------------------------------------------------------------------------------


def _month(text: Any) -> tuple[int, int]:
    try:
        first = date.fromisoformat(f"{text}-01")
    except (TypeError, ValueError):
        raise InvalidInput("task month must be YYYY-MM") from None
    return first.year, first.month


def window_days(task: dict) -> list[date]:
    """The days of a compute task: `month` and optional `days: [first, last]` (inclusive)."""
    year, month = _month(task.get("month"))
    dim = calendar.monthrange(year, month)[1]
    first, last = task.get("days") or (1, dim)
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in (first, last)) \
            or not 1 <= first <= last:
        raise InvalidInput("task days must be [first, last] days of the month")
    return [date(year, month, d) for d in range(first, min(last, dim) + 1)]


def _live_current(data: dict, ctx: Any, cluster: str, now: datetime, opts: dict
                  ) -> snapshots.DayRollup | None:
    """Nothing recorded for this cluster yet: read today's allocation from Prism."""
    if not data.get("secret_data") and not ctx.settings.prism.host:
        return None
    with _client(data, ctx, opts) as client:
        snap = take_snapshot(client, snapshots.hour_of(now), opts.get("api", "auto"))
    return snapshots.rollup_from_rows(now.date(), now.hour, cluster, snap.rows,
                                      cluster_name=snap.clusters.get(cluster, ""),
                                      projects=snap.projects).at_last_hour()


def compute_costs(card: ratecard.RateCard, store: Any, cluster: str, days: list[date],
                  now: datetime, *, cluster_name: str = "",
                  live: Callable[[], Any] | None = None) -> CostRows:
    """Costs from the stored history; today's allocation is read only if a day lacks one."""
    def current() -> snapshots.DayRollup | None:
        latest = snapshots.latest_rollup(store, cluster, not_after=now.date())
        if latest is not None:
            return latest.at_last_hour()
        return live() if live is not None else None

    return compute(card, cluster, days, snapshots.StoredDays(store, cluster, now.date()),
                   current, now, cluster_name=cluster_name)


def to_reply(costs: CostRows) -> dict:
    """The compute reply: days, labels once per VM (tag sets shared), packed cost columns."""
    tag_index: dict[tuple, int] = {}
    tag_sets: list[dict] = []
    vms = []
    for vm in costs.vms:
        tags_i = tag_index.get(vm[2:])  # (project, project name, categories)
        if tags_i is None:
            tags_i = tag_index[vm[2:]] = len(tag_sets)
            tag_sets.append(tags_of(vm))
        vms.append([vm[0], tags_i, info_of(vm)])
    return {"cluster": costs.cluster, "cluster_name": costs.cluster_name,
            "currency": costs.currency, "provider": PROVIDER, "product": PRODUCT,
            "types": [list(t) for t in USAGE_TYPES], "days": costs.days,
            "estimated": costs.estimated, "estimated_info": ESTIMATED_INFO,
            "tags": tag_sets, "vms": vms, "columns": reply.pack(costs.pairs, costs.values)}


def compute_task(data: dict, ctx: Any) -> dict:
    card = ratecard.parse(data.get("options"))
    task = data["task"]
    cluster = task.get("cluster")
    if not isinstance(cluster, str) or not cluster:
        raise InvalidInput("task cluster must be a cluster ext_id")
    days, now = window_days(task), _now()
    costs = compute_costs(card, ctx.store, cluster, days, now,
                          cluster_name=str(task.get("cluster_name") or ""),
                          live=lambda: _live_current(data, ctx, cluster, now, card.options))
    log.info("computed costs", extra={"count": len(costs)})
    return to_reply(costs)


# -- export -------------------------------------------------------------------------------


def previous_month(now: datetime) -> str:
    first = now.date().replace(day=1)
    return tasks.month_of(first - timedelta(days=1))


def export_key(month: str, cluster: str) -> str:
    """One gzipped FOCUS CSV per cluster and month: a folder FinOps tools read as one table."""
    return f"{EXPORT_PREFIX}{month}/{cluster}.csv.gz"


def export(data: dict, ctx: Any) -> dict | None:
    store, now = ctx.store, _now()
    options = data.get("options") or store.get_json(RATECARD_KEY)
    if not options:
        raise InvalidInput("no rate card: pass options, or run a cost sync first")
    card = ratecard.parse(options)
    if _periodic(ctx) and not card.options.get("export_focus"):
        return None  # the operator did not ask for exports
    month = str(data.get("month") or previous_month(now))
    year, mon = _month(month)
    days = [date(year, mon, d) for d in range(1, calendar.monthrange(year, mon)[1] + 1)]
    files = []
    for cluster, last_day in sorted(snapshots.clusters_in_month(store, month).items()):
        rollup = snapshots.load_rollup(store, date.fromisoformat(last_day), cluster)
        name = rollup.cluster_name if rollup else ""
        account = (rollup.prism_central if rollup else "") or PROVIDER
        step = tasks.days_per_call(len(rollup.vms) if rollup else 0)
        writer = FocusWriter()
        for i in range(0, len(days), step):  # windows bound memory
            costs = compute_costs(card, store, cluster, days[i:i + step], now,
                                  cluster_name=name)
            writer.write(costs, month, account_id=account, account_name="Nutanix showback")
        key = export_key(month, cluster)
        store.put(key, writer.finish())
        files.append({"key": key, "url": store.url(key), "rows": writer.rows})
    rows = sum(f["rows"] for f in files)
    log.info("exported FOCUS month", extra={"count": rows})
    return None if _periodic(ctx) else {"month": month, "rows": rows, "files": files}


HANDLERS: dict[str, Callable[[dict, Any], dict | None]] = {
    events.COST_VERIFY: verify,
    events.COST_RECORD: record,
    events.COST_TASKS: plan_tasks,
    events.COST_ACCOUNTS: linked_accounts,
    events.COST_COMPUTE: compute_task,
    events.COST_EXPORT: export,
}


def run(event_type: str, data: dict, ctx: Any) -> dict | None:
    return HANDLERS[event_type](data, ctx)
