"""VM list pages read straight into typed shapes: the fast path of `vms.from_v4`/`from_v3`.

Listing is CPU-bound, not latency-bound: a 100-VM v4 page decoded into dicts
and parsed leniently cost ~8 ms, most of it building dicts for fields never
read and checking each value's type in Python (a 500-VM v3 page, ~40 ms).
Here msgspec decodes a page into the `V4Vm` or `V3Vm` shape below (the fields
the `vms` parsers read, each with the type Prism documents), skipping the rest
unread and checking types in C; `from_typed_v4`/`from_typed_v3` then build
the same `Vm` as the lenient parsers without checking again.

The shapes are `gc=False`: a decoded tree holds no reference cycle, so the
cyclic collector need not track (and re-scan) tens of thousands of them.

A page that does not fit the shape anywhere (a string where an object
belongs, `numSockets: 2.0`, a non-object item) is decoded whole and parsed
leniently, so every answer gives the model the lenient parser gives
(tests/test_parsers.py compares the two on recorded and mutated items).
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.errors import BadResponse
from shared.fastjson import TypedPage, loads
from shared.prism.kinds import ParseContext
from shared.prism.kinds._values import (
    MIB,
    categories,
    text,
    timestamp,
    unique,
    v3_categories,
)
from shared.prism.models import Disk, Nic, Vm


class _Ref(msgspec.Struct, rename="camel", gc=False):
    ext_id: str | None = None


class _Value(msgspec.Struct, gc=False):
    value: str | None = None


class _Address(msgspec.Struct, gc=False):
    """`common.v1.config.IPAddress` ({ipv4|ipv6: {value}}) or a bare `IPv4Address` ({value})."""

    value: str | None = None
    ipv4: _Value | None = None
    ipv6: _Value | None = None


class _Ipv4Config(msgspec.Struct, rename="camel", gc=False):
    ip_address: _Address | None = None
    secondary_ip_address_list: list[_Address] | None = None


class _Ipv4Info(msgspec.Struct, rename="camel", gc=False):
    learned_ip_addresses: list[_Address] | None = None


class _Network(msgspec.Struct, rename="camel", gc=False):
    subnet: _Ref | None = None
    ipv4_config: _Ipv4Config | None = None
    ipv4_info: _Ipv4Info | None = None


class _Backing(msgspec.Struct, rename="camel", gc=False):
    mac_address: str | None = None
    is_connected: bool | None = None


class _Nic(msgspec.Struct, rename="camel", gc=False):
    ext_id: str | None = None
    nic_backing_info: _Backing | None = None  # newer SDKs: wins over backingInfo
    backing_info: _Backing | None = None
    nic_network_info: _Network | None = None  # newer SDKs: wins over networkInfo
    network_info: _Network | None = None


class _DiskBacking(msgspec.Struct, rename="camel", gc=False):
    disk_ext_id: str | None = None
    disk_size_bytes: int | None = None
    storage_container: _Ref | None = None


class _DiskAddress(msgspec.Struct, rename="camel", gc=False):
    bus_type: str | None = None
    index: int | None = None


class _Disk(msgspec.Struct, rename="camel", gc=False):
    ext_id: str | None = None
    backing_info: _DiskBacking | None = None
    disk_address: _DiskAddress | None = None


class V4Vm(msgspec.Struct, rename="camel", gc=False):
    """The fields of `vmm.v4.ahv.config.Vm` that `vms.from_v4` reads."""

    ext_id: str | None = None
    name: str | None = None
    power_state: str | None = None
    cluster: _Ref | None = None
    host: _Ref | None = None
    description: str | None = None
    num_sockets: int | None = None
    num_cores_per_socket: int | None = None
    num_threads_per_core: int | None = None
    memory_size_bytes: int | None = None
    machine_type: str | None = None
    create_time: str | None = None
    categories: list[_Ref] | None = None
    disks: list[_Disk] | None = None
    nics: list[_Nic] | None = None


class _Uuid(msgspec.Struct, gc=False):
    uuid: str | None = None


class _V3DiskAddress(msgspec.Struct, gc=False):
    adapter_type: str | None = None
    device_index: int | None = None


class _V3DeviceProperties(msgspec.Struct, gc=False):
    device_type: str | None = None
    disk_address: _V3DiskAddress | None = None


class _V3StorageConfig(msgspec.Struct, gc=False):
    storage_container_reference: _Uuid | None = None


class _V3Disk(msgspec.Struct, gc=False):
    uuid: str | None = None
    disk_size_bytes: int | None = None
    disk_size_mib: int | None = None
    device_properties: _V3DeviceProperties | None = None
    storage_config: _V3StorageConfig | None = None


class _V3Endpoint(msgspec.Struct, gc=False):
    ip: str | None = None


class _V3Nic(msgspec.Struct, gc=False):
    uuid: str | None = None
    mac_address: str | None = None
    subnet_reference: _Uuid | None = None
    ip_endpoint_list: list[_V3Endpoint] | None = None
    is_connected: bool | None = None


class _V3Resources(msgspec.Struct, gc=False):
    power_state: str | None = None
    host_reference: _Uuid | None = None
    num_sockets: int | None = None
    num_vcpus_per_socket: int | None = None
    num_threads_per_core: int | None = None
    memory_size_mib: int | None = None
    machine_type: str | None = None
    disk_list: list[_V3Disk] | None = None
    nic_list: list[_V3Nic] | None = None


V3_RESOURCES = _V3Resources.__struct_fields__  # all None: status not known yet, spec stands in


class _V3Status(msgspec.Struct, gc=False):
    name: str | None = None
    description: str | None = None
    cluster_reference: _Uuid | None = None
    resources: _V3Resources | None = None


class _V3Spec(msgspec.Struct, omit_defaults=True, gc=False):
    """Spec's resources are kept as JSON text: read only when status has none (rare),
    they would double the decoding of every page."""

    name: str | None = None
    description: str | None = None
    cluster_reference: _Uuid | None = None
    resources: msgspec.Raw = msgspec.Raw()


class _V3Metadata(msgspec.Struct, gc=False):
    uuid: str | None = None
    creation_time: str | None = None
    categories: dict[str, Any] | None = None
    categories_mapping: dict[str, Any] | None = None
    project_reference: _Uuid | None = None


class V3Vm(msgspec.Struct, gc=False):
    """The fields of a v3 VM intent that `vms.from_v3` reads."""

    metadata: _V3Metadata | None = None
    status: _V3Status | None = None
    spec: _V3Spec | None = None


class NotTyped(Exception):
    """Spec's resources, read late, do not fit `_V3Resources`: parse the entity leniently."""


_SPEC_RESOURCES = msgspec.json.Decoder(_V3Resources | None)


V4_PAGE = TypedPage(V4Vm, "data")
V3_PAGE = TypedPage(V3Vm, "entities")


def _ref(ref: _Ref | None) -> str | None:
    return text(ref.ext_id) if ref is not None else None


def from_typed_v4(item: V4Vm, ctx: ParseContext) -> Vm:
    ext_id = text(item.ext_id)
    if ext_id is None:
        raise BadResponse("vm item has no identifier")
    known = ctx.categories
    refs = item.categories
    return Vm(
        ext_id=ext_id,
        name=text(item.name) or "",
        power_state=text(item.power_state),
        cluster_ext_id=_ref(item.cluster),
        host_ext_id=_ref(item.host),
        description=text(item.description),
        num_sockets=item.num_sockets,
        num_cores_per_socket=item.num_cores_per_socket,
        num_threads_per_core=item.num_threads_per_core,
        memory_bytes=item.memory_size_bytes,
        machine_type=text(item.machine_type),
        created_at=timestamp(item.create_time),
        disks=ordered_disks([_disk(d) for d in item.disks]) if item.disks else (),
        nics=tuple([_nic(n) for n in item.nics]) if item.nics else (),
        categories=categories(known[ref] for ref in map(_ref, refs) if ref in known)
        if refs and known else (),
    )


def _disk(disk: _Disk) -> Disk:
    backing = disk.backing_info or _NO_DISK_BACKING
    address = disk.disk_address or _NO_ADDRESS
    return Disk(
        ext_id=text(disk.ext_id) or text(backing.disk_ext_id),
        size_bytes=backing.disk_size_bytes,
        bus_type=text(address.bus_type),
        index=address.index,
        storage_container_ext_id=_ref(backing.storage_container),
    )


def _nic(nic: _Nic) -> Nic:
    new_backing = nic.nic_backing_info or _NO_BACKING
    old_backing = nic.backing_info or _NO_BACKING
    new_network = nic.nic_network_info or _NO_NETWORK
    old_network = nic.network_info or _NO_NETWORK
    addresses: list[str | None] = []
    for network in (new_network, old_network):
        config = network.ipv4_config
        if config is not None:
            addresses.append(_ip(config.ip_address))
            if config.secondary_ip_address_list:
                addresses.extend(map(_ip, config.secondary_ip_address_list))
        learned = network.ipv4_info
        if learned is not None and learned.learned_ip_addresses:
            addresses.extend(map(_ip, learned.learned_ip_addresses))
    connected = new_backing.is_connected
    return Nic(
        ext_id=text(nic.ext_id),
        mac_address=text(new_backing.mac_address) or text(old_backing.mac_address),
        subnet_ext_id=_ref(new_network.subnet) or _ref(old_network.subnet),
        ip_addresses=unique(addresses),
        is_connected=old_backing.is_connected if connected is None else connected,
    )


def _ip(address: _Address | None) -> str | None:
    if address is None:
        return None
    for family in (address.ipv4, address.ipv6):
        if family is not None and text(family.value):
            return family.value
    return text(address.value)


def from_typed_v3(entity: V3Vm) -> Vm:
    metadata = entity.metadata or _NO_METADATA
    ext_id = text(metadata.uuid)
    if ext_id is None:
        raise BadResponse("vm entity has no identifier")
    status, spec = entity.status or _NO_STATUS, entity.spec or _NO_SPEC
    res = status.resources
    if res is None or all(value is None for value in msgspec.structs.astuple(res)):
        res = _spec_resources(spec) or res or _NO_RESOURCES
    mib = res.memory_size_mib
    return Vm(
        ext_id=ext_id,
        name=text(status.name) or text(spec.name) or "",
        power_state=text(res.power_state),
        cluster_ext_id=_uuid(status.cluster_reference) or _uuid(spec.cluster_reference),
        host_ext_id=_uuid(res.host_reference),
        description=text(status.description) or text(spec.description),
        num_sockets=res.num_sockets,
        num_cores_per_socket=res.num_vcpus_per_socket,
        num_threads_per_core=res.num_threads_per_core,
        memory_bytes=None if mib is None else mib * MIB,
        machine_type=text(res.machine_type),
        created_at=timestamp(metadata.creation_time),
        disks=ordered_disks([_v3_disk(d) for d in res.disk_list if not _is_cdrom(d)])
        if res.disk_list else (),
        nics=tuple([_v3_nic(n) for n in res.nic_list]) if res.nic_list else (),
        categories=v3_categories(metadata.categories_mapping, metadata.categories),
        project_ext_id=_uuid(metadata.project_reference),
    )


def _spec_resources(spec: _V3Spec) -> _V3Resources | None:
    if not spec.resources:
        return None
    try:
        return _SPEC_RESOURCES.decode(spec.resources)
    except msgspec.MsgspecError:
        raise NotTyped from None


def as_dict(entity: V3Vm) -> dict:
    """The entity as the lenient parser reads it (fields outside the shape were never read)."""
    return loads(msgspec.json.encode(entity))  # spec's resources written back as they came


def _uuid(ref: _Uuid | None) -> str | None:
    return text(ref.uuid) if ref is not None else None


def _is_cdrom(disk: _V3Disk) -> bool:
    return disk.device_properties is not None and disk.device_properties.device_type == "CDROM"


def _v3_disk(disk: _V3Disk) -> Disk:
    properties = disk.device_properties
    address = (properties.disk_address if properties is not None else None) or _NO_V3_ADDRESS
    size = disk.disk_size_bytes
    if size is None and disk.disk_size_mib is not None:
        size = disk.disk_size_mib * MIB
    storage = disk.storage_config
    return Disk(
        ext_id=text(disk.uuid),
        size_bytes=size,
        bus_type=text(address.adapter_type),
        index=address.device_index,
        storage_container_ext_id=_uuid(storage.storage_container_reference)
        if storage is not None else None,
    )


def _v3_nic(nic: _V3Nic) -> Nic:
    endpoints = nic.ip_endpoint_list
    return Nic(
        ext_id=text(nic.uuid),
        mac_address=text(nic.mac_address),
        subnet_ext_id=_uuid(nic.subnet_reference),
        ip_addresses=unique([text(e.ip) for e in endpoints]) if endpoints else (),
        is_connected=nic.is_connected,
    )


_NO_METADATA = _V3Metadata()
_NO_STATUS = _V3Status()
_NO_SPEC = _V3Spec()
_NO_RESOURCES = _V3Resources()
_NO_V3_ADDRESS = _V3DiskAddress()
_NO_DISK_BACKING = _DiskBacking()
_NO_BACKING = _Backing()
_NO_NETWORK = _Network()
_NO_ADDRESS = _DiskAddress()


def ordered_disks(disks: list[Disk]) -> tuple[Disk, ...]:
    """By bus then index, so v3 and v4 agree; unaddressed disks last, in Prism's order."""
    return tuple(sorted(disks, key=lambda d: (d.bus_type is None, d.bus_type or "",
                                               d.index is None, d.index or 0)))
