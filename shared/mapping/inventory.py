"""Prism models -> CloudForet inventory `ResourceInfo` dicts (pure: no I/O, no clock).

Each output is the exact dict of one `spaceone.api.inventory.plugin.ResourceInfo`,
ready for `json_format.ParseDict`. Rules kept here (spec cloudforet/inventory.md):

- `data` and `metadata` travel as `json_data` / `json_metadata` strings, so
  ints stay ints (a Struct would turn them into floats, section 8);
- every match-rule path is present and non-empty (an empty one silently
  widens the match, section 7);
- every `data` key is always sent, None when unknown: CloudForet merges
  `data` into the stored copy and never removes a key, so leaving a key out
  would keep a stale value (a VM's old host after it powers off);
- a cloud service's `metadata` only points at its type (the tabs live once on
  the type, `cloud_service_types.py`); its JSON is built once per kind.

Metric data source linkage (monitoring.md A.2): the metric plugin's `init`
should publish `required_keys: [METRIC_QUERY_KEY]` = ["data.prism_stats"].
CloudForet passes the value at that path as `Metric.list` `query`, a Struct,
so it must be an object: `{"entity_type": "vm"|"host"|"cluster", "ext_id":
<Prism ext_id, same as data.ext_id and reference.resource_id>,
"cluster_ext_id": <cluster, needed by the host stats route>}`. A bare
`data.ext_id` string cannot be the query. It is set on VMs, hosts and
clusters when `ctx.metric_data_source`, and None otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared import fastjson
from shared.errors import BadResponse, InvalidInput
from shared.mapping import layouts
from shared.mapping.cloud_service_types import KINDS, PROVIDER, to_cloud_service_types
from shared.mapping.regions import REGION_BY, region_code, to_regions
from shared.prism.models import (
    Category,
    CategoryValue,
    Cluster,
    Host,
    Image,
    Project,
    Subnet,
    Vm,
    VolumeGroup,
)

__all__ = [
    "KINDS",
    "METRIC_QUERY_KEY",
    "PROVIDER",
    "MappingContext",
    "error_resource",
    "to_cloud_service",
    "to_cloud_service_types",
    "to_regions",
]

METRIC_QUERY_KEY = "data.prism_stats"
MATCH_RULES = {
    "1": ["reference.resource_id", "provider", "cloud_service_type", "cloud_service_group"]
}
GIB = 1024**3

# Prism Central entity-browser page per kind. PC documents no per-entity deep
# link, so external_link opens the kind's list. The URL pattern appears in
# public scripts (objectstores, image_infos); the other names are unverified.
_UI_PAGES = {
    "clusters": ("clusters", "cluster"),
    "hosts": ("hosts", "host"),
    "vms": ("vms", "mh_vm"),
    "images": ("image_infos", "image_info"),
    "volume_groups": ("volume_groups", "volume_group_config"),
    "subnets": ("subnets", "subnet"),
    "projects": ("projects", "project"),
    "categories": ("categories", "category"),
}

_SERVICE_METADATA = {
    kind: json.dumps(layouts.service_metadata(PROVIDER, group, type_), separators=(",", ":"))
    for kind, (group, type_) in KINDS.items()
}


@dataclass(frozen=True)
class MappingContext:
    """What a mapper needs beyond the model: names to resolve refs, and options.

    prism_url: "https://pc:9440", base of external links into Prism Central.
    clusters: ext_id -> Cluster; hosts, subnets, projects: ext_id -> name.
    """

    prism_url: str
    clusters: Mapping[str, Cluster] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)
    subnets: Mapping[str, str] = field(default_factory=dict)
    projects: Mapping[str, str] = field(default_factory=dict)
    region_by: str = "cluster"
    pc_region_code: str = ""
    metric_data_source: bool = True

    def __post_init__(self) -> None:
        if self.region_by not in REGION_BY:
            raise InvalidInput("region_by must be one of " + ", ".join(REGION_BY))
        object.__setattr__(self, "prism_url", self.prism_url.rstrip("/"))

    def cluster_name(self, ext_id: str | None) -> str | None:
        cluster = self.clusters.get(ext_id) if ext_id else None
        return cluster.name if cluster else None


def _gib(size: int | None) -> float | None:
    return None if size is None else round(size / GIB, 2)


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is not UTC:  # models promise aware UTC; never read the local zone
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    text = when.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _ref(ext_id: str | None, names: Mapping[str, str]) -> dict:
    return {"ext_id": ext_id, "name": names.get(ext_id) if ext_id else None}


def _cluster_ref(ext_id: str | None, ctx: MappingContext) -> dict:
    return {"ext_id": ext_id, "name": ctx.cluster_name(ext_id)}


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _tags(categories: Iterable[Category]) -> dict[str, str]:
    """Nutanix categories as flat tags; several values of one key joined ", "."""
    grouped: dict[str, list[str]] = {}
    for key, value in categories:
        grouped.setdefault(key, [])
        if value not in grouped[key]:
            grouped[key].append(value)
    return {key: ", ".join(values) for key, values in grouped.items()}


def _stats(
    entity_type: str, ext_id: str, cluster_ext_id: str | None, ctx: MappingContext
) -> dict | None:
    if not ctx.metric_data_source:
        return None
    return {"entity_type": entity_type, "ext_id": ext_id, "cluster_ext_id": cluster_ext_id}


def _link(kind: str, ctx: MappingContext) -> str:
    collection, entity_type = _UI_PAGES[kind]
    return f"{ctx.prism_url}/console/#page/explore/ebrowser/{collection}/?entity_type={entity_type}"


def _service(
    kind: str,
    resource_id: str,
    name: str,
    data: dict,
    ctx: MappingContext,
    *,
    region: str | None,
    ip_addresses: Iterable[str | None] = (),
    tags: Mapping[str, str] | None = None,
    instance_type: str | None = None,
    instance_size: float | None = None,
    launched_at: str | None = None,
) -> dict:
    group, type_ = KINDS[kind]
    if not resource_id:
        raise BadResponse(f"{type_} without ext_id")
    resource: dict = {
        "name": name or resource_id,
        "provider": PROVIDER,
        "cloud_service_group": group,
        "cloud_service_type": type_,
        "reference": {"resource_id": resource_id, "external_link": _link(kind, ctx)},
        "ip_addresses": _unique(ip_addresses),
        "tags": dict(tags or {}),
        "json_data": fastjson.dumps(data),
        "json_metadata": _SERVICE_METADATA[kind],
    }
    if region:
        resource["region_code"] = region
    if instance_type:
        resource["instance_type"] = instance_type
    if instance_size is not None:
        resource["instance_size"] = float(instance_size)  # the server checks for float
    if launched_at:
        resource["launched_at"] = launched_at
    return {
        "state": "SUCCESS",
        "resource_type": "inventory.CloudService",
        "resource": resource,
        "match_rules": {"1": list(MATCH_RULES["1"])},
    }


def _vm(vm: Vm, ctx: MappingContext) -> dict:
    vcpus = vm.num_vcpus if vm.num_sockets else None
    created_at = _iso(vm.created_at)
    memory_gib = _gib(vm.memory_bytes)
    disks = [
        {
            "ext_id": d.ext_id,
            "index": d.index,
            "bus_type": d.bus_type,
            "size_bytes": d.size_bytes,
            "size_gib": _gib(d.size_bytes),
            "storage_container_ext_id": d.storage_container_ext_id,
        }
        for d in vm.disks
    ]
    nics = [
        {
            "ext_id": n.ext_id,
            "mac_address": n.mac_address,
            "subnet_ext_id": n.subnet_ext_id,
            "subnet_name": ctx.subnets.get(n.subnet_ext_id) if n.subnet_ext_id else None,
            "ip_addresses": list(n.ip_addresses),
            "is_connected": n.is_connected,
        }
        for n in vm.nics
    ]
    data = {
        "ext_id": vm.ext_id,
        "power_state": vm.power_state,
        "description": vm.description,
        "cluster": _cluster_ref(vm.cluster_ext_id, ctx),
        "host": _ref(vm.host_ext_id, ctx.hosts),
        "project": _ref(vm.project_ext_id, ctx.projects),
        "num_vcpus": vcpus,
        "num_sockets": vm.num_sockets,
        "num_cores_per_socket": vm.num_cores_per_socket,
        "num_threads_per_core": vm.num_threads_per_core,
        "memory_bytes": vm.memory_bytes,
        "memory_gib": memory_gib,
        "machine_type": vm.machine_type,
        "created_at": created_at,
        "num_disks": len(disks),
        "disk_bytes": vm.disk_bytes,
        "disk_gib": _gib(vm.disk_bytes),
        "disks": disks,
        "nics": nics,
        "categories": [{"key": k, "value": v} for k, v in vm.categories],
        "prism_stats": _stats("vm", vm.ext_id, vm.cluster_ext_id, ctx),
    }
    instance_type = None
    if vcpus is not None:
        instance_type = f"{vcpus} vCPU" + (f" / {memory_gib:g} GiB" if memory_gib else "")
    return _service(
        "vms",
        vm.ext_id,
        vm.name,
        data,
        ctx,
        region=region_code(ctx, [vm.cluster_ext_id]),
        ip_addresses=(ip for n in vm.nics for ip in n.ip_addresses),
        tags=_tags(vm.categories),
        instance_type=instance_type,
        instance_size=vcpus,
        launched_at=created_at,
    )


def _host(host: Host, ctx: MappingContext) -> dict:
    ghz = None if host.cpu_frequency_hz is None else round(host.cpu_frequency_hz / 1e9, 2)
    data = {
        "ext_id": host.ext_id,
        "cluster": _cluster_ref(host.cluster_ext_id, ctx),
        "hypervisor_type": host.hypervisor_type,
        "hypervisor_name": host.hypervisor_name,
        "num_vms": host.num_vms,
        "cpu_sockets": host.cpu_sockets,
        "cpu_cores": host.cpu_cores,
        "cpu_threads": host.cpu_threads,
        "cpu_model": host.cpu_model,
        "cpu_frequency_hz": host.cpu_frequency_hz,
        "cpu_frequency_ghz": ghz,
        "memory_bytes": host.memory_bytes,
        "memory_gib": _gib(host.memory_bytes),
        "ip": host.ip,
        "cvm_ip": host.cvm_ip,
        "block_serial": host.block_serial,
        "block_model": host.block_model,
        "prism_stats": _stats("host", host.ext_id, host.cluster_ext_id, ctx),
    }
    return _service(
        "hosts",
        host.ext_id,
        host.name,
        data,
        ctx,
        region=region_code(ctx, [host.cluster_ext_id]),
        ip_addresses=[host.ip],
        instance_type=host.block_model,
        instance_size=host.cpu_cores,
    )


def _cluster(cluster: Cluster, ctx: MappingContext) -> dict:
    stats = (
        None if cluster.is_prism_central else _stats("cluster", cluster.ext_id, cluster.ext_id, ctx)
    )
    data = {
        "ext_id": cluster.ext_id,
        "is_prism_central": cluster.is_prism_central,
        "hypervisor_types": list(cluster.hypervisor_types),
        "version": cluster.version,
        "num_nodes": cluster.num_nodes,
        "external_ip": cluster.external_ip,
        "prism_stats": stats,
    }
    return _service(
        "clusters",
        cluster.ext_id,
        cluster.name,
        data,
        ctx,
        region=region_code(ctx, [cluster.ext_id]),
        ip_addresses=[cluster.external_ip],
        instance_type=f"AOS {cluster.version}" if cluster.version else None,
        instance_size=cluster.num_nodes,
    )


def _subnet(subnet: Subnet, ctx: MappingContext) -> dict:
    data = {
        "ext_id": subnet.ext_id,
        "subnet_type": subnet.subnet_type,
        "vlan_id": subnet.vlan_id,
        "cluster": _cluster_ref(subnet.cluster_ext_id, ctx),
        "cidr": subnet.cidr,
        "gateway": subnet.gateway,
    }
    return _service(
        "subnets",
        subnet.ext_id,
        subnet.name,
        data,
        ctx,
        region=region_code(ctx, [subnet.cluster_ext_id]),
        instance_type=subnet.subnet_type,
    )


def _image(image: Image, ctx: MappingContext) -> dict:
    data = {
        "ext_id": image.ext_id,
        "image_type": image.image_type,
        "size_bytes": image.size_bytes,
        "size_gib": _gib(image.size_bytes),
        "description": image.description,
        "clusters": [_cluster_ref(c, ctx) for c in image.cluster_ext_ids],
        "created_at": _iso(image.created_at),
    }
    return _service(
        "images",
        image.ext_id,
        image.name,
        data,
        ctx,
        region=region_code(ctx, image.cluster_ext_ids),
        instance_type=image.image_type,
        launched_at=_iso(image.created_at),
    )


def _volume_group(vg: VolumeGroup, ctx: MappingContext) -> dict:
    data = {
        "ext_id": vg.ext_id,
        "description": vg.description,
        "cluster": _cluster_ref(vg.cluster_ext_id, ctx),
        "sharing_status": vg.sharing_status,
        "usage_type": vg.usage_type,
        "num_attachments": vg.num_attachments,
    }
    return _service(
        "volume_groups", vg.ext_id, vg.name, data, ctx, region=region_code(ctx, [vg.cluster_ext_id])
    )


def _project(project: Project, ctx: MappingContext) -> dict:
    data = {
        "ext_id": project.ext_id,
        "description": project.description,
        "is_default": project.is_default,
    }
    return _service(
        "projects", project.ext_id, project.name, data, ctx, region=region_code(ctx, [])
    )


def _category(cat: CategoryValue, ctx: MappingContext) -> dict:
    # v3 lists carry no ext_id per value; the pair itself is then the identity.
    resource_id = cat.ext_id or f"{cat.key}={cat.value}"
    data = {
        "ext_id": cat.ext_id,
        "key": cat.key,
        "value": cat.value,
        "type": cat.type,
        "description": cat.description,
    }
    return _service(
        "categories", resource_id, f"{cat.key}: {cat.value}", data, ctx, region=region_code(ctx, [])
    )


_MAPPERS: dict[type, Callable[..., dict]] = {
    Vm: _vm,
    Cluster: _cluster,
    Host: _host,
    Subnet: _subnet,
    Image: _image,
    VolumeGroup: _volume_group,
    Project: _project,
    CategoryValue: _category,
}


def to_cloud_service(model: object, ctx: MappingContext) -> dict:
    """One cloud service `ResourceInfo` dict; raises BadResponse without an ext_id."""
    try:
        mapper = _MAPPERS[type(model)]
    except KeyError:
        raise TypeError(f"no cloud service mapping for {type(model).__name__}") from None
    return mapper(model, ctx)


def error_resource(kind: str, message: str) -> dict:
    """An `inventory.ErrorResource` (state FAILURE) naming the failed kind's type.

    CloudForet records it as a job error and skips this run's deletion of
    unseen resources, so a failed kind never ages its resources out.
    """
    resource = {"provider": PROVIDER, "resource_type": "inventory.CloudService"}
    if kind in KINDS:
        resource["cloud_service_group"], resource["cloud_service_type"] = KINDS[kind]
    return {
        "state": "FAILURE",
        "resource_type": "inventory.ErrorResource",
        "message": message or f"collecting {kind} failed",
        "resource": resource,
    }
