"""Which CloudForet region a Nutanix entity is in, and the Region resources.

Two layouts, chosen by `MappingContext.region_by`:

- "cluster": one region per Prism cluster, region_code = the cluster ext_id,
  name = the cluster name. Prism Central's pseudo-cluster is not a region.
  Entities that span clusters (projects, categories, images on several
  clusters) get no region.
- "prism_central": one region for the whole Prism Central, region_code =
  `pc_region_code`, else the pseudo-cluster's ext_id, else the PC host name;
  name = the pseudo-cluster's name, else "Prism Central (<host>)".

Regions are re-sent every run: CloudForet deletes a region not updated for
48 h (inventory.md section 9). Region match rule: provider + region_code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shared.mapping.cloud_service_types import PROVIDER
from shared.prism.models import Cluster

if TYPE_CHECKING:
    from shared.mapping.inventory import MappingContext

REGION_BY = ("cluster", "prism_central")


def _pc_cluster(clusters: Iterable[Cluster]) -> Cluster | None:
    return next((c for c in clusters if c.is_prism_central), None)


def _pc_host(ctx: MappingContext) -> str:
    return urlsplit(ctx.prism_url).hostname or "prism-central"


def pc_region(ctx: MappingContext, clusters: Iterable[Cluster] = ()) -> tuple[str, str]:
    """(region_code, name) of the single Prism Central region."""
    pc = _pc_cluster(clusters) or _pc_cluster(ctx.clusters.values())
    code = ctx.pc_region_code or (pc.ext_id if pc else "") or _pc_host(ctx)
    # v4 names an unnamed Prism Central "Unnamed" (fixture v4-clusters-list.json).
    if pc is not None and pc.name not in ("", "Unnamed"):
        return code, pc.name
    return code, f"Prism Central ({_pc_host(ctx)})"


def region_code(ctx: MappingContext, cluster_ext_ids: Iterable[str | None]) -> str | None:
    """The region of an entity on these clusters; None when it has none.

    In cluster mode an entity on exactly one (non-PC) cluster is in that
    cluster's region; on none or several it is in no region.
    """
    if ctx.region_by == "prism_central":
        return pc_region(ctx)[0]
    ids = {i for i in cluster_ext_ids if i}
    if len(ids) != 1:
        return None
    (only,) = ids
    cluster = ctx.clusters.get(only)
    return None if cluster is not None and cluster.is_prism_central else only


def _region(code: str, name: str) -> dict:
    return {
        "state": "SUCCESS",
        "resource_type": "inventory.Region",
        "resource": {"name": name or code, "region_code": code, "provider": PROVIDER},
        "match_rules": {"1": ["provider", "region_code"]},
    }


def to_regions(clusters: Iterable[Cluster], ctx: MappingContext) -> list[dict]:
    """Region `ResourceInfo` dicts, in the clusters' order, each code once."""
    clusters = list(clusters)
    if ctx.region_by == "prism_central":
        return [_region(*pc_region(ctx, clusters))]
    seen: dict[str, str] = {}
    for cluster in clusters:
        if cluster.is_prism_central or not cluster.ext_id or cluster.ext_id in seen:
            continue
        seen[cluster.ext_id] = cluster.name
    return [_region(code, name) for code, name in seen.items()]
