"""What the collect function runs for inventory: verify, plan, collect a shard.

The plan lists clusters (needed for regions and names anyway) and the small
lookups every shard needs to resolve names, measures each kind, and cuts it
into page windows of about `shard_size` items. Each shard then reads only its
window, so many collect calls can run at once and each stays O(shard) in
memory. One failing kind or item becomes an `inventory.ErrorResource` (a 403
too: Prism roles can cover some kinds and not others); a 401 stops the run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

from shared import events, options
from shared.errors import AuthenticationFailed, PluginError
from shared.mapping import inventory as mapping
from shared.prism import Connection, PrismClient
from shared.prism.models import Cluster
from shared.prism.transport import gc_paused

log = logging.getLogger(__name__)

STOP = (AuthenticationFailed,)  # a 403 may cover one kind only: that kind fails alone
LOOKUP_KINDS = ("hosts", "subnets", "projects")  # small, and VMs need their names


def open_client(data: dict) -> tuple[PrismClient, dict, Connection]:
    opts = options.check(options.INVENTORY_OPTIONS_SCHEMA, data.get("options"), "options")
    conn = Connection.from_secret(data.get("secret_data") or {}, opts)
    client = PrismClient(conn, api=opts["api"], concurrency=opts["concurrency"])
    return client, opts, conn


def prism_url(conn: Connection) -> str:
    return f"https://{conn.host}:{conn.port}"


def verify(data: dict) -> dict:
    client, _, _ = open_client(data)
    with client:
        info = client.check()
    return {"product": info.product, "v3": info.v3, "v4": sorted(info.v4)}


def _cluster_context(clusters: list[Cluster]) -> list[dict]:
    return [{"ext_id": c.ext_id, "name": c.name, "is_prism_central": c.is_prism_central}
            for c in clusters]


def _mapping_context(conn: Connection, opts: dict, context: dict) -> mapping.MappingContext:
    clusters = {c["ext_id"]: Cluster(ext_id=c["ext_id"], name=c["name"],
                                     is_prism_central=c.get("is_prism_central", False))
                for c in context.get("clusters", [])}
    return mapping.MappingContext(
        prism_url=prism_url(conn), clusters=clusters,
        hosts=context.get("hosts", {}), subnets=context.get("subnets", {}),
        projects=context.get("projects", {}), region_by=opts["region_by"],
        pc_region_code=context.get("pc_region_code", ""))


def plan(data: dict) -> dict:
    """Types, regions, clusters and the lookup kinds now; the rest as shards."""
    client, opts, conn = open_client(data)
    kinds = list((data.get("task_options") or {}).get("kinds") or opts["kinds"])
    resources: list[dict] = list(mapping.to_cloud_service_types())
    inline: dict[str, list] = {}
    shards: list[dict] = []
    with client:
        clusters = list(client.iter_clusters())
        inline["clusters"] = clusters
        context: dict = {"clusters": _cluster_context(clusters),
                         "pc_region_code": next(
                             (c.ext_id for c in clusters if c.is_prism_central), "")}
        for kind in LOOKUP_KINDS:
            if kind not in kinds and "vms" not in kinds:
                continue
            try:
                models = list(client.iter_kind(kind))
            except STOP:
                raise
            except PluginError as err:
                context[kind] = {}
                if kind in kinds:
                    resources.append(mapping.error_resource(kind, str(err)))
                    kinds.remove(kind)
                continue
            context[kind] = {m.ext_id: m.name for m in models}
            inline[kind] = models
        ctx = _mapping_context(conn, opts, context)
        resources.extend(mapping.to_regions(clusters, ctx))
        for kind in kinds:
            if kind in inline:
                resources.extend(_map_all(inline[kind], ctx, kind))
                continue
            try:
                shards.extend(_shards(client, kind, opts["shard_size"]))
            except STOP:
                raise
            except PluginError as err:
                resources.append(mapping.error_resource(kind, str(err)))
    log.info("planned %s shards", len(shards), extra={"count": len(shards)})
    return {"resources": resources, "shards": shards, "context": context}


def _shards(client: PrismClient, kind: str, shard_size: int) -> list[dict]:
    kind_plan = client.plan(kind)
    per_shard = max(1, shard_size // kind_plan.page_size)
    return [{"kind": kind, "api": kind_plan.api, "page_size": kind_plan.page_size,
             "pages": [first, min(first + per_shard, kind_plan.pages)]}
            for first in range(0, max(kind_plan.pages, 1), per_shard)]


def _map_all(models, ctx, kind: str) -> Iterator[dict]:
    for model in models:
        try:
            yield mapping.to_cloud_service(model, ctx)
        except Exception as err:  # noqa: BLE001 - one bad item must not stop the stream
            log.warning("mapping failed", exc_info=err, extra={"kind": kind})
            yield mapping.error_resource(kind, f"could not map {kind} item "
                                               f"{getattr(model, 'ext_id', '?')}")


def collect(data: dict) -> dict:
    """One shard: a page window of one kind, mapped to cloud services.

    The cyclic garbage collector stays out of the whole shard (`gc_paused`),
    mapping included: a shard makes no cyclic garbage, and collections kept
    re-scanning the raw pages and resources of every shard in flight (a
    quarter of the function's CPU on 500-VM shards).
    """
    client, opts, conn = open_client(data)
    task = data["task"]
    kind = task["kind"]
    first, last = task.get("pages", [0, math.inf])
    ctx = _mapping_context(conn, opts, data.get("context") or {})
    resources: list[dict] = []
    with client, gc_paused():
        try:
            models = client.iter_kind(kind, api=task.get("api"), pages=range(first, last),
                                      page_size=task.get("page_size"))
            resources.extend(_map_all(models, ctx, kind))
        except STOP:
            raise
        except PluginError as err:
            resources.append(mapping.error_resource(kind, str(err)))
    return {"resources": resources}


def snapshot(data: dict, ctx) -> dict:
    """Periodic inventory snapshot: every kind, mapped, kept in the state store.

    Runs from a PingSource with the environment's Prism credentials; the
    snapshot (gzip'd JSON lines of ResourceInfo dicts) lets operators diff
    inventories or re-feed CloudForet without asking Prism again.
    """
    if not data.get("secret_data"):
        data = {**data, "secret_data": ctx.settings.prism.as_secret_data()}
    planned = plan(data)
    shards = [collect({**data, "task": shard, "context": planned["context"]})["resources"]
              for shard in planned["shards"]]
    resources = [*planned["resources"], *(item for shard in shards for item in shard)]
    stamp = ctx.attributes.get("time")
    day = (stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp or ""))[:19]
    key = f"inventory/snapshots/{day.replace(':', '') or ctx.event_id}.jsonl.gz"
    count = ctx.store.put_jsonl_gz(key, resources)
    failed = sum(1 for r in resources if r.get("state") == "FAILURE")
    return {"key": key, "count": count, "failed": failed}


HANDLERS = {
    events.COLLECT_VERIFY: lambda data, ctx: verify(data),
    events.COLLECT_PLAN: lambda data, ctx: plan(data),
    events.COLLECT: lambda data, ctx: collect(data),
    events.SNAPSHOT: snapshot,
}
