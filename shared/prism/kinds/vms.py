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
from shared.prism.models import Disk, Nic, Vm

_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> Vm:
    item = require_object(item, "vm item")
    return Vm(
        ext_id=require_id(item.get("extId"), "vm item"),
        name=text(item.get("name")) or "",
        power_state=text(item.get("powerState")),
        cluster_ext_id=text(dig(item, "cluster", "extId")),
        host_ext_id=text(dig(item, "host", "extId")),
        description=text(item.get("description")),
        num_sockets=integer(item.get("numSockets")),
        num_cores_per_socket=integer(item.get("numCoresPerSocket")),
        num_threads_per_core=integer(item.get("numThreadsPerCore")),
        memory_bytes=integer(item.get("memorySizeBytes")),
        machine_type=text(item.get("machineType")),
        created_at=timestamp(item.get("createTime")),
        disks=_ordered(_v4_disk(d) for d in objs(item.get("disks"))),
        nics=tuple(_v4_nic(n) for n in objs(item.get("nics"))),
        categories=categories(
            ctx.categories[ref]
            for ref in (text(c.get("extId")) for c in objs(item.get("categories")))
            if ref in ctx.categories
        ),
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
    backings = [obj(nic.get("nicBackingInfo")), obj(nic.get("backingInfo"))]
    networks = [obj(nic.get("nicNetworkInfo")), obj(nic.get("networkInfo"))]

    def first(sources: list[dict], read) -> Any:
        return next((v for v in (read(s) for s in sources) if v is not None), None)

    addresses: list[str | None] = []
    for network in networks:
        addresses.append(ip(dig(network, "ipv4Config", "ipAddress")))
        addresses.extend(ip(a) for a in objs(dig(network, "ipv4Config", "secondaryIpAddressList")))
        addresses.extend(ip(a) for a in objs(dig(network, "ipv4Info", "learnedIpAddresses")))
    connected = first(backings, lambda b: b.get("isConnected"))
    return Nic(
        ext_id=text(nic.get("extId")),
        mac_address=first(backings, lambda b: text(b.get("macAddress"))),
        subnet_ext_id=first(networks, lambda n: text(dig(n, "subnet", "extId"))),
        ip_addresses=unique(addresses),
        is_connected=connected if isinstance(connected, bool) else None,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Vm:
    """A v3 VM intent (list entity, GET answer, 202 answer or webhook `data.metadata`).

    Status is what the VM is; spec stands in while status is still empty (a
    PENDING create answer has only `status.state`).
    """
    entity = require_object(entity, "vm entity")
    metadata = obj(entity.get("metadata"))
    status, spec = obj(entity.get("status")), obj(entity.get("spec"))
    res = obj(status.get("resources")) or obj(spec.get("resources"))
    return Vm(
        ext_id=require_id(metadata.get("uuid"), "vm entity"),
        name=text(status.get("name")) or text(spec.get("name")) or "",
        power_state=text(res.get("power_state")),
        cluster_ext_id=text(dig(status, "cluster_reference", "uuid"))
        or text(dig(spec, "cluster_reference", "uuid")),
        host_ext_id=text(dig(res, "host_reference", "uuid")),
        description=text(status.get("description")) or text(spec.get("description")),
        num_sockets=integer(res.get("num_sockets")),
        num_cores_per_socket=integer(res.get("num_vcpus_per_socket")),
        num_threads_per_core=integer(res.get("num_threads_per_core")),
        memory_bytes=mib_to_bytes(res.get("memory_size_mib")),
        machine_type=text(res.get("machine_type")),
        created_at=timestamp(metadata.get("creation_time")),
        disks=_ordered(
            _v3_disk(d) for d in objs(res.get("disk_list"))
            if dig(d, "device_properties", "device_type") != "CDROM"
        ),
        nics=tuple(_v3_nic(n) for n in objs(res.get("nic_list"))),
        categories=v3_categories(metadata),
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
            dig(disk, "storage_config", "storage_container_reference", "uuid")
        ),
    )


def _v3_nic(nic: dict) -> Nic:
    connected = nic.get("is_connected")
    return Nic(
        ext_id=text(nic.get("uuid")),
        mac_address=text(nic.get("mac_address")),
        subnet_ext_id=text(dig(nic, "subnet_reference", "uuid")),
        ip_addresses=unique(text(e.get("ip")) for e in objs(nic.get("ip_endpoint_list"))),
        is_connected=connected if isinstance(connected, bool) else None,
    )


def _ordered(disks) -> tuple[Disk, ...]:
    """By bus then index, so v3 and v4 agree; unaddressed disks last, in Prism's order."""
    return tuple(sorted(disks, key=lambda d: (d.bus_type is None, d.bus_type or "",
                                               d.index is None, d.index or 0)))


SPEC = KindSpec(
    name="vms",
    v4_namespace="vmm",
    v4_version="v4.0",
    v4_path="ahv/config/vms",
    v3_kind="vm",
    from_v4=from_v4,
    from_v3=from_v3,
    needs_categories=True,
)
