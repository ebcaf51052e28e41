"""VMs: where they live in v4 and v3, and the parsers to `Vm`.

v4 `vmm.v4.ahv.config.Vm` (spec nutanix/v4.md section 6) and the v3 VM intent
(spec nutanix/v3.md section 3) yield equal `Vm`s for the same machine:

- disks are data disks only: v4 lists CD-ROMs apart (`cdRoms`), v3 mixes them
  into `disk_list` with `device_type: CDROM`; disks are ordered by bus and
  index because the two APIs list them in different orders;
- vCPUs: v4 `numSockets` x `numCoresPerSocket`, v3 `num_sockets` x
  `num_vcpus_per_socket`; memory: v4 bytes, v3 `memory_size_mib`;
- categories: v4 refs (`categories[{extId}]`) resolved through
  `ParseContext.categories` (unknown ids skipped), v3 from the entity metadata;
- project: v3 `metadata.project_reference` only (v4 GA VMs carry none).
"""

from __future__ import annotations

from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import (
    categories,
    dig,
    integer,
    ip,
    mib_to_bytes,
    obj,
    objs,
    require_id,
    require_object,
    text,
    timestamp,
    unique,
    v3_categories,
)
from shared.prism.kinds.vm_pages import (
    V3_PAGE,
    V3_RESOURCES,
    V4_PAGE,
    NotTyped,
    V3Vm,
    V4Vm,
    as_dict,
    from_typed_v3,
    from_typed_v4,
    ordered_disks,
)
from shared.prism.models import Disk, Nic, Vm

_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> Vm:
    """Items of a list page come typed (`vm_pages.V4Vm`) when the page fit that shape.
    """
    if type(item) is V4Vm:
        return from_typed_v4(item, ctx)
    item = require_object(item, "vm item")
    get = item.get
    disks = get("disks")
    nics = get("nics")
    refs = get("categories")
    known = ctx.categories
    return Vm(
        ext_id=require_id(get("extId"), "vm item"),
        name=text(get("name")) or "",
        power_state=text(get("powerState")),
        cluster_ext_id=text(dig(item, "cluster", "extId")),
        host_ext_id=text(dig(item, "host", "extId")),
        description=text(get("description")),
        num_sockets=integer(get("numSockets")),
        num_cores_per_socket=integer(get("numCoresPerSocket")),
        num_threads_per_core=integer(get("numThreadsPerCore")),
        memory_bytes=integer(get("memorySizeBytes")),
        machine_type=text(get("machineType")),
        created_at=timestamp(get("createTime")),
        disks=ordered_disks([_v4_disk(d) for d in disks if isinstance(d, dict)])
        if isinstance(disks, list) else (),
        nics=tuple([_v4_nic(n) for n in nics if isinstance(n, dict)])
        if isinstance(nics, list) else (),
        categories=categories(
            known[ref] for ref in (text(dig(c, "extId")) for c in refs) if ref in known
        ) if isinstance(refs, list) and known else (),
        raw=item,
    )


def _v4_disk(disk: dict) -> Disk:
    # backingInfo is a oneOf: VmDisk (diskSizeBytes) or a volume-group reference (no size).
    backing = obj(disk.get("backingInfo"))
    address = obj(disk.get("diskAddress"))
    return Disk(
        ext_id=text(disk.get("extId")) or text(backing.get("diskExtId")),
        size_bytes=integer(backing.get("diskSizeBytes")),
        bus_type=text(address.get("busType")),
        index=integer(address.get("index")),
        storage_container_ext_id=text(dig(backing, "storageContainer", "extId")),
    )


def _v4_nic(nic: dict) -> Nic:
    # Newer SDKs add nicBackingInfo/nicNetworkInfo, which win over the deprecated
    # backingInfo/networkInfo when both are present (spec nutanix/v4-models.md, Nic).
    new_backing, old_backing = obj(nic.get("nicBackingInfo")), obj(nic.get("backingInfo"))
    new_network, old_network = obj(nic.get("nicNetworkInfo")), obj(nic.get("networkInfo"))
    addresses: list[str | None] = []
    for network in (new_network, old_network):
        if not network:
            continue
        config = network.get("ipv4Config")
        if isinstance(config, dict):
            addresses.append(ip(config.get("ipAddress")))
            addresses.extend(ip(a) for a in objs(config.get("secondaryIpAddressList")))
        learned = network.get("ipv4Info")
        if isinstance(learned, dict):
            addresses.extend(ip(a) for a in objs(learned.get("learnedIpAddresses")))
    connected = new_backing.get("isConnected")
    if connected is None:
        connected = old_backing.get("isConnected")
    return Nic(
        ext_id=text(nic.get("extId")),
        mac_address=text(new_backing.get("macAddress")) or text(old_backing.get("macAddress")),
        subnet_ext_id=text(dig(new_network, "subnet", "extId"))
        or text(dig(old_network, "subnet", "extId")),
        ip_addresses=unique(addresses),
        is_connected=connected if isinstance(connected, bool) else None,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Vm:
    """A v3 VM intent (list entity, GET answer, 202 answer or webhook `data.metadata`).

    Status is what the VM is; spec's resources stand in while status has none
    of them (a PENDING create answer has only `status.state`). Flat like `from_v4`.
    Items of a list page come typed (`vm_pages.V3Vm`) when the page fit that shape.
    """
    if type(entity) is V3Vm:
        try:
            return from_typed_v3(entity)
        except NotTyped:
            entity = as_dict(entity)
    entity = require_object(entity, "vm entity")
    metadata = obj(entity.get("metadata"))
    status, spec = obj(entity.get("status")), obj(entity.get("spec"))
    res = obj(status.get("resources"))
    if all(res.get(name) is None for name in V3_RESOURCES):
        res = obj(spec.get("resources")) or res
    get = res.get
    disks, nics = get("disk_list"), get("nic_list")
    return Vm(
        ext_id=require_id(metadata.get("uuid"), "vm entity"),
        name=text(status.get("name")) or text(spec.get("name")) or "",
        power_state=text(get("power_state")),
        cluster_ext_id=text(dig(status, "cluster_reference", "uuid"))
        or text(dig(spec, "cluster_reference", "uuid")),
        host_ext_id=text(dig(res, "host_reference", "uuid")),
        description=text(status.get("description")) or text(spec.get("description")),
        num_sockets=integer(get("num_sockets")),
        num_cores_per_socket=integer(get("num_vcpus_per_socket")),
        num_threads_per_core=integer(get("num_threads_per_core")),
        memory_bytes=mib_to_bytes(get("memory_size_mib")),
        machine_type=text(get("machine_type")),
        created_at=timestamp(metadata.get("creation_time")),
        disks=ordered_disks([_v3_disk(d) for d in disks if isinstance(d, dict)
                        and dig(d, "device_properties", "device_type") != "CDROM"])
        if isinstance(disks, list) else (),
        nics=tuple([_v3_nic(n) for n in nics if isinstance(n, dict)])
        if isinstance(nics, list) else (),
        categories=v3_categories(metadata.get("categories_mapping"), metadata.get("categories")),
        project_ext_id=text(dig(metadata, "project_reference", "uuid")),
        raw=entity,
    )


def _v3_disk(disk: dict) -> Disk:
    address = obj(dig(disk, "device_properties", "disk_address"))
    size = integer(disk.get("disk_size_bytes"))
    return Disk(
        ext_id=text(disk.get("uuid")),
        size_bytes=size if size is not None else mib_to_bytes(disk.get("disk_size_mib")),
        bus_type=text(address.get("adapter_type")),
        index=integer(address.get("device_index")),
        storage_container_ext_id=text(
            dig(disk, "storage_config", "storage_container_reference", "uuid")),
    )


def _v3_nic(nic: dict) -> Nic:
    connected = nic.get("is_connected")
    endpoints = nic.get("ip_endpoint_list")
    return Nic(
        ext_id=text(nic.get("uuid")),
        mac_address=text(nic.get("mac_address")),
        subnet_ext_id=text(dig(nic, "subnet_reference", "uuid")),
        ip_addresses=unique([text(e.get("ip")) for e in endpoints if isinstance(e, dict)])
        if isinstance(endpoints, list) else (),
        is_connected=connected if isinstance(connected, bool) else None,
    )


SPEC = KindSpec(
    name="vms",
    v4_namespace="vmm",
    v4_version="v4.0",
    v4_path="ahv/config/vms",
    v3_kind="vm",
    from_v4=from_v4,
    from_v3=from_v3,
    needs_categories=True,
    v4_fields=V4_PAGE,
    v3_fields=V3_PAGE,
)
