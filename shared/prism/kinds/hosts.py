"""Hosts: where they live in v4 and v3, and the parsers to `Host`.

v4 `clustermgmt.v4.config.Host` references its cluster as `{uuid, name}`, not
`{extId}` like vmm does (spec nutanix/v4.md section 6). The v3 host resources
are untyped in the swagger; the field names used here are those of
terraform-provider-nutanix's host data source (spec nutanix/v3.md section 3).
v3 has no hypervisor type, thread count or CPU frequency (`cpu_capacity_hz` is
the whole host's capacity), so those stay None on the v3 path.
"""

from __future__ import annotations

from typing import Any

from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import (
    dig,
    integer,
    ip,
    mib_to_bytes,
    obj,
    require_id,
    require_object,
    text,
)
from shared.prism.models import Host

_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> Host:
    item = require_object(item, "host item")
    hypervisor = obj(item.get("hypervisor"))
    cluster = obj(item.get("cluster"))
    return Host(
        ext_id=require_id(item.get("extId"), "host item"),
        name=text(item.get("hostName")) or "",
        cluster_ext_id=text(cluster.get("uuid")) or text(cluster.get("extId")),
        hypervisor_type=text(hypervisor.get("type")),
        hypervisor_name=text(hypervisor.get("fullName")),
        num_vms=integer(hypervisor.get("numberOfVms")),
        cpu_sockets=integer(item.get("numberOfCpuSockets")),
        cpu_cores=integer(item.get("numberOfCpuCores")),
        cpu_threads=integer(item.get("numberOfCpuThreads")),
        cpu_model=text(item.get("cpuModel")),
        cpu_frequency_hz=integer(item.get("cpuFrequencyHz")),
        memory_bytes=integer(item.get("memorySizeBytes")),
        ip=ip(hypervisor.get("externalAddress")),
        cvm_ip=ip(dig(item, "controllerVm", "externalAddress")),
        block_serial=text(item.get("blockSerial")),
        block_model=text(item.get("blockModel")),
        raw=item,
    )


def from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> Host:
    entity = require_object(entity, "host entity")
    status = obj(entity.get("status"))
    res = obj(status.get("resources")) or obj(dig(entity, "spec", "resources"))
    hypervisor = obj(res.get("hypervisor"))
    block = obj(res.get("block"))
    return Host(
        ext_id=require_id(dig(entity, "metadata", "uuid"), "host entity"),
        name=text(status.get("name")) or text(dig(entity, "spec", "name")) or "",
        cluster_ext_id=text(dig(status, "cluster_reference", "uuid")),
        hypervisor_name=text(hypervisor.get("hypervisor_full_name")),
        num_vms=integer(hypervisor.get("num_vms")),
        cpu_sockets=integer(res.get("num_cpu_sockets")),
        cpu_cores=integer(res.get("num_cpu_cores")),
        cpu_model=text(res.get("cpu_model")),
        memory_bytes=mib_to_bytes(res.get("memory_capacity_mib")),
        ip=text(hypervisor.get("ip")),
        cvm_ip=text(dig(res, "controller_vm", "ip")),
        block_serial=text(block.get("block_serial_number")),
        block_model=text(block.get("block_model")),
        raw=entity,
    )


SPEC = KindSpec(
    name="hosts",
    v4_namespace="clustermgmt",
    v4_version="v4.0",
    v4_path="config/hosts",
    v3_kind="host",
    from_v4=from_v4,
    from_v3=from_v3,
)
