"""Normalized Prism Central models: one per kind, whichever API produced it.

The client builds these from v4 or v3 payloads (`shared/prism/kinds/*`); the
mappings in `shared/mapping/` read only these, never raw payloads. Rules that
keep the v3 and v4 paths equal (issue 10 compares them field by field):

- references are ext_id strings only (v3 refs carry names, v4 refs do not);
- times are timezone-aware UTC datetimes;
- sizes are bytes, counts are ints, absent values are None or empty tuples;
- categories are sorted (key, value) pairs (v4 VM refs are resolved by the
  client from the categories list);
- `raw` keeps the payload as Prism sent it and is excluded from equality
  (empty for VMs read from a typed list page: `kinds/vm_pages.py`).

Models are values: frozen, or for those built by the ten thousand (`Vm`,
`Disk`, `Nic`) hashable and never assigned to. A frozen dataclass's
`__init__` sets each field through `object.__setattr__`, which made building
a VM cost twice as much (16 us of a listing's ~40 us per VM).

Known gap: v4 GA has no project reference on VMs, so `Vm.project_ext_id` is
filled only on the v3 path (see spec nutanix/v4.md section 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Category = tuple[str, str]  # (key, value)


@dataclass(frozen=True, slots=True)
class Cluster:
    ext_id: str
    name: str
    is_prism_central: bool = False  # PC's pseudo-cluster: skip for hosts/stats
    hypervisor_types: tuple[str, ...] = ()
    version: str | None = None  # AOS (NOS) version
    num_nodes: int | None = None
    external_ip: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Host:
    ext_id: str
    name: str
    cluster_ext_id: str | None = None
    hypervisor_type: str | None = None  # AHV, ESX, HYPERV
    hypervisor_name: str | None = None  # "AHV 10.0.1"
    num_vms: int | None = None
    cpu_sockets: int | None = None
    cpu_cores: int | None = None
    cpu_threads: int | None = None
    cpu_model: str | None = None
    cpu_frequency_hz: int | None = None
    memory_bytes: int | None = None
    ip: str | None = None  # hypervisor external address
    cvm_ip: str | None = None
    block_serial: str | None = None
    block_model: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see the module docstring
class Disk:
    ext_id: str | None
    size_bytes: int | None
    bus_type: str | None = None  # SCSI, IDE, PCI, SATA, SPAPR
    index: int | None = None
    storage_container_ext_id: str | None = None


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see the module docstring
class Nic:
    ext_id: str | None
    mac_address: str | None = None
    subnet_ext_id: str | None = None
    ip_addresses: tuple[str, ...] = ()
    is_connected: bool | None = None


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see the module docstring
class Vm:
    ext_id: str
    name: str
    power_state: str | None = None  # ON, OFF, PAUSED, ...
    cluster_ext_id: str | None = None
    host_ext_id: str | None = None  # only while running
    description: str | None = None
    num_sockets: int | None = None
    num_cores_per_socket: int | None = None
    num_threads_per_core: int | None = None
    memory_bytes: int | None = None
    machine_type: str | None = None
    created_at: datetime | None = None
    disks: tuple[Disk, ...] = ()  # data disks only (no CD-ROMs)
    nics: tuple[Nic, ...] = ()
    categories: tuple[Category, ...] = ()
    project_ext_id: str | None = None  # v3 only: v4 GA VMs carry no project
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_vcpus(self) -> int:
        """vCPUs as Prism counts them: sockets x cores per socket."""
        return (self.num_sockets or 0) * (self.num_cores_per_socket or 1)

    @property
    def disk_bytes(self) -> int:
        return sum(d.size_bytes or 0 for d in self.disks)


@dataclass(frozen=True, slots=True)
class Subnet:
    ext_id: str
    name: str
    subnet_type: str | None = None  # VLAN, OVERLAY
    vlan_id: int | None = None
    cluster_ext_id: str | None = None
    cidr: str | None = None  # "10.0.0.0/24"
    gateway: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Image:
    ext_id: str
    name: str
    image_type: str | None = None  # DISK_IMAGE, ISO_IMAGE
    size_bytes: int | None = None
    description: str | None = None
    cluster_ext_ids: tuple[str, ...] = ()
    created_at: datetime | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class VolumeGroup:
    ext_id: str
    name: str
    cluster_ext_id: str | None = None
    description: str | None = None
    sharing_status: str | None = None
    usage_type: str | None = None
    num_attachments: int = 0
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Project:
    ext_id: str
    name: str
    description: str | None = None
    is_default: bool = False
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CategoryValue:
    """One key=value pair (v4 has one object per pair; v3 lists expand to pairs)."""

    ext_id: str | None
    key: str
    value: str
    type: str | None = None  # SYSTEM, INTERNAL, USER
    description: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EntityRef:
    type: str  # vm, node, cluster, ...
    ext_id: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    ext_id: str
    title: str  # rendered from the template and parameters
    message: str  # rendered
    severity: str  # CRITICAL, WARNING, INFO
    alert_type: str | None = None  # check id, e.g. A1031
    created_at: datetime | None = None
    last_updated_at: datetime | None = None
    is_resolved: bool = False
    resolved_at: datetime | None = None
    is_acknowledged: bool = False
    cluster_ext_id: str | None = None
    source_entity: EntityRef | None = None
    affected_entities: tuple[EntityRef, ...] = ()
    classifications: tuple[str, ...] = ()
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StatSeries:
    """One metric of one entity: Prism's metric name, its points oldest first as two columns.

    Columns, not (time, value) pairs: a month of 5-minute points of 100 VMs
    is 864,000 points, and the VMs of one answer share one `times` tuple.
    """

    metric: str  # Prism's name, e.g. hypervisorCpuUsagePpm
    times: tuple[datetime, ...]
    values: tuple[float, ...]  # as Prism sent them: ints stay ints

    @property
    def points(self) -> tuple[tuple[datetime, float], ...]:
        return tuple(zip(self.times, self.values, strict=True))
