"""Clusters: where they live in v4 and v3, and the parsers to `Cluster`.

Both lists include Prism Central itself as a pseudo-cluster (v4
`config.clusterFunction`, v3 `config.service_list` holding `PRISM_CENTRAL`;
spec nutanix/README.md section 2): it is flagged `is_prism_central`, because
listing its hosts or stats fails.

- version: v4 `config.buildInfo.version`, v3 `software_map.NOS.version`, else
  `build.version` (v3 reports `"pc"` there for Prism Central);
- hypervisor types are sorted and exclude SDK sentinels such as `$UNKNOWN`
  (the v4 PC pseudo-cluster); v3 reads them from `nodes.hypervisor_server_list`;
- num_nodes: v4 `nodes.numberOfNodes`; v3 has no count, so it is the length of
  `hypervisor_server_list` (None when Prism sends no list).
"""

from __future__ import annotations

from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import (
    dig,
    integer,
    ip,
    obj,
    objs,
    require_id,
    require_object,
    text,
    texts,
)
from shared.prism.models import Cluster

PRISM_CENTRAL = "PRISM_CENTRAL"
_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> Cluster:
    item = require_object(item, "cluster item")
    config = obj(item.get("config"))
    return Cluster(
        ext_id=require_id(item.get("extId"), "cluster item"),
        name=text(item.get("name")) or "",
        is_prism_central=PRISM_CENTRAL in texts(config.get("clusterFunction")),
        hypervisor_types=_hypervisors(texts(config.get("hypervisorTypes"))),
        version=text(dig(config, "buildInfo", "version")),
        num_nodes=integer(dig(item, "nodes", "numberOfNodes")),
        external_ip=ip(dig(item, "network", "externalAddress")),
        raw=item,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Cluster:
    entity = require_object(entity, "cluster entity")
    status = obj(entity.get("status"))
    res = obj(status.get("resources")) or obj(dig(entity, "spec", "resources"))
    config = obj(res.get("config"))
    servers = dig(res, "nodes", "hypervisor_server_list")
    return Cluster(
        ext_id=require_id(dig(entity, "metadata", "uuid"), "cluster entity"),
        name=text(status.get("name")) or text(dig(entity, "spec", "name")) or "",
        is_prism_central=PRISM_CENTRAL in texts(config.get("service_list")),
        hypervisor_types=_hypervisors(text(s.get("type")) for s in objs(servers)),
        version=text(dig(config, "software_map", "NOS", "version"))
        or text(dig(config, "build", "version")),
        num_nodes=len(servers) if isinstance(servers, list) else None,
        external_ip=text(dig(res, "network", "external_ip")),
        raw=entity,
    )


def _hypervisors(types) -> tuple[str, ...]:
    return tuple(sorted({t for t in types if t and not t.startswith("$")}))


SPEC = KindSpec(
    name="clusters",
    v4_namespace="clustermgmt",
    v4_version="v4.0",
    v4_path="config/clusters",
    v3_kind="cluster",
    from_v4=from_v4,
    from_v3=from_v3,
)
