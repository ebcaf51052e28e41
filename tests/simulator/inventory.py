"""The simulator's inventory: plain records, generated deterministically at any scale.

Records hold API-neutral values (snake_case, bytes, UTC datetimes); `v4.py` and
`v3.py` render the same record into each API's shape, so both APIs show the
same UUIDs, names, sizes and times. Rendering is not done here.

Lists on `Inventory` (tests compare against them):

- `clusters`: AOS clusters, then the Prism Central pseudo-cluster (last,
  `is_prism_central=True`, no hosts); `aos_clusters` leaves it out.
- `hosts`, `vms`, `subnets`, `images`, `volume_groups`, `projects` (the first
  is the default project), `categories` (one record per key=value pair, as v4
  lists them: `categories=N` makes N keys of 3 values each), `alerts`.

Determinism: the same arguments (including `now`) give the same inventory.
`now` defaults to the current UTC day at midnight, so runs on one day agree.
Times are whole seconds where v3 shows whole seconds (create times), so v3 and
v4 parse to equal datetimes; alert times keep microseconds in both APIs.
Memory and disk sizes are whole MiB because v3 reports MiB.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network

GIB = 1024**3
MIB = 1024**2
PC_IP = "10.99.0.10"
ADMIN_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass(slots=True)
class ClusterRecord:
    ext_id: str
    name: str
    is_prism_central: bool
    version: str  # AOS version (v4 buildInfo.version, v3 software_map.NOS.version)
    ncc_version: str
    timezone: str
    redundancy_factor: int
    external_ip: str | None
    data_services_ip: str | None
    external_subnet: str
    internal_subnet: str
    name_servers: list[str]
    ntp_servers: list[str]
    incarnation_id: int
    create_time: datetime
    host_ext_ids: list[str] = field(default_factory=list)
    container_ext_ids: list[str] = field(default_factory=list)  # [default, SelfService]
    container_names: list[str] = field(default_factory=list)
    vswitch_ext_id: str = ""
    vm_count: int = 0


@dataclass(slots=True)
class HostDiskRecord:
    ext_id: str
    size_bytes: int
    serial: str
    tier: str  # SATA_SSD, DAS_SATA


@dataclass(slots=True)
class HostRecord:
    ext_id: str
    name: str
    cluster_ext_id: str
    cluster_name: str
    hypervisor_ip: str
    cvm_ip: str
    ipmi_ip: str
    num_sockets: int
    num_cores: int  # total physical cores
    num_threads: int
    cpu_frequency_hz: int
    cpu_model: str
    memory_bytes: int
    block_serial: str
    block_model: str
    boot_time_usecs: int
    hypervisor_full_name: str
    disks: list[HostDiskRecord]
    rackable_unit_ext_id: str
    num_vms: int = 0


@dataclass(slots=True)
class SubnetRecord:
    ext_id: str
    name: str
    cluster_ext_id: str
    cluster_name: str
    vswitch_ext_id: str
    vlan_id: int
    network: str  # "10.0.16.0"
    prefix_length: int
    gateway: str
    dhcp_server: str
    pool_start: str
    pool_end: str
    dns_servers: list[str]
    create_time: datetime
    update_time: datetime
    etag: int  # networking list items carry it in $reserved.ETag


@dataclass(slots=True)
class DiskRecord:
    ext_id: str
    size_bytes: int
    bus_type: str  # SCSI, IDE, SATA
    index: int
    container_ext_id: str
    container_name: str
    image_ext_id: str | None = None
    is_cdrom: bool = False


@dataclass(slots=True)
class NicRecord:
    ext_id: str
    mac_address: str
    subnet_ext_id: str
    subnet_name: str
    ip: str | None
    ip_type: str  # ASSIGNED (static, v4 ipv4Config) or LEARNED (v4 ipv4Info)
    is_connected: bool = True


@dataclass(slots=True)
class VmRecord:
    ext_id: str
    name: str
    description: str | None
    power_state: str  # ON, OFF
    cluster_ext_id: str
    cluster_name: str
    host_ext_id: str | None  # only while ON
    host_ip: str | None
    num_sockets: int
    num_cores_per_socket: int
    num_threads_per_core: int
    memory_bytes: int
    machine_type: str
    boot_type: str  # LEGACY, UEFI
    create_time: datetime  # whole seconds
    update_time: datetime  # microseconds (v3 shows it truncated)
    generation_uuid: str
    timezone: str
    disks: list[DiskRecord]  # data disks, then the CD-ROM (is_cdrom) when present
    nics: list[NicRecord]
    category_ext_ids: list[str]
    project_ext_id: str
    project_name: str

    @property
    def data_disks(self) -> list[DiskRecord]:
        return [d for d in self.disks if not d.is_cdrom]

    @property
    def cdroms(self) -> list[DiskRecord]:
        return [d for d in self.disks if d.is_cdrom]


@dataclass(slots=True)
class ImageRecord:
    ext_id: str
    name: str
    description: str | None
    image_type: str  # DISK_IMAGE, ISO_IMAGE
    size_bytes: int
    source_uri: str
    cluster_ext_ids: list[str]
    create_time: datetime
    update_time: datetime


@dataclass(slots=True)
class VolumeGroupRecord:
    ext_id: str
    name: str
    description: str | None
    cluster_ext_id: str
    cluster_name: str
    sharing_status: str
    usage_type: str
    is_hidden: bool
    target_name: str
    size_bytes: int
    disk_ext_ids: list[str]
    container_ext_id: str
    attachment_ext_ids: list[str]  # iSCSI client attachments
    create_time: datetime


@dataclass(slots=True)
class ProjectRecord:
    ext_id: str
    name: str
    description: str | None
    is_default: bool
    cluster_ext_ids: list[str]
    subnet_ext_ids: list[str]
    create_time: datetime


@dataclass(slots=True)
class CategoryRecord:
    ext_id: str
    key: str
    value: str
    type: str  # USER, SYSTEM
    description: str | None


@dataclass(slots=True)
class AlertParam:
    name: str | None  # real alerts have nameless duplicates
    kind: str  # string, int
    value: str | int | None  # None: a StringValue without stringValue


@dataclass(slots=True)
class AlertRecord:
    ext_id: str
    alert_type: str
    title: str  # template
    message: str  # template
    parameters: list[AlertParam]
    severity: str  # INFO, WARNING, CRITICAL
    creation_time: datetime  # microseconds, same in v3 and v4
    last_updated_time: datetime
    cluster_ext_id: str
    source_type: str  # vm, node, cluster
    source_name: str
    source_ext_id: str
    classifications: list[str]
    impact_types: list[str]
    cause: str
    resolution: str
    is_resolved: bool = False
    is_auto_resolved: bool = False
    resolved_time: datetime | None = None
    is_acknowledged: bool = False
    acknowledged_time: datetime | None = None


_AOS_VERSIONS = ("6.8.1", "6.10.1", "7.0.1")
_TIMEZONES = ("UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Seoul")
_CPU_MODELS = (
    ("Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", 2_100_000_000, 20),
    ("Intel(R) Xeon(R) Gold 6342 CPU @ 2.80GHz", 2_800_000_000, 24),
    ("AMD EPYC 7543 32-Core Processor", 2_800_000_000, 32),
)
_BLOCK_MODELS = ("NX-3060-G7", "NX-8170-G8", "NX-3170-G9")
_VM_ROLES = ("web", "app", "db", "k8s-worker", "win2022", "cache", "batch", "vdi")
_SOCKETS = (1, 1, 2, 2, 4, 8)
_CORES = (1, 1, 1, 2)
_MEMORY_GIB = (1, 2, 4, 4, 8, 8, 16, 32)
_DISK_GIB = (20, 40, 50, 100, 100, 200, 500)
_CATEGORY_KEYS = (
    ("Environment", ("Production", "Staging", "Dev")),
    ("AppTier", ("Web", "App", "Database")),
    ("CostCenter", ("CC-1001", "CC-2002", "CC-3003")),
    ("Owner", ("team-a", "team-b", "team-c")),
    ("Department", ("Finance", "Engineering", "Sales")),
)
_IMAGES = (
    ("ubuntu-22.04-server.qcow2", "DISK_IMAGE", 2_361),
    ("rhel-9.3-x86_64-dvd.iso", "ISO_IMAGE", 10_532),
    ("windows-server-2022.qcow2", "DISK_IMAGE", 12_288),
    ("virtio-win-0.1.240.iso", "ISO_IMAGE", 598),
    ("rocky-9.4-genericcloud.qcow2", "DISK_IMAGE", 1_045),
    ("nutanix-guest-tools.iso", "ISO_IMAGE", 32),
)
_ALERT_TYPES = (
    dict(alert_type="A1031", source="node", classifications=["Storage"],
         title="Disk space usage high for {mount_path} on {entity} {ip_address}",
         message="Disk space usage for {mount_path} on {entity} {ip_address} has exceeded "
                 "{threshold}%. {ref_msg}",
         cause="Excessive disk space usage on the Controller VM.",
         resolution="Clean up unused files on the Controller VM."),
    dict(alert_type="A130172", source="vm", classifications=["DR"],
         title="Degraded VM Recovery Point.",
         message="Recovery Point for VM {vm_name} failed to capture associated policies "
                 "and categories because {reason}.",
         cause="Recovery Point for VM failed to capture associated policies and categories.",
         resolution="Check the connection between PC and the PE, then retry."),
    dict(alert_type="A1044", source="vm", classifications=["Performance"],
         title="VM {vm_name} CPU usage high",
         message="CPU usage of VM {vm_name} is above {threshold}% for {duration} minutes.",
         cause="The VM is overloaded.", resolution="Add vCPUs or move the workload."),
    dict(alert_type="A3034", source="cluster", classifications=["Cluster"],
         title="Cluster service {service_name} restarting frequently",
         message="Service {service_name} on cluster {cluster_name} restarted {count} times "
                 "in the last hour.",
         cause="A cluster service is unstable.", resolution="Contact Nutanix support."),
)


def iso(moment: datetime) -> str:
    """RFC 3339 UTC as Prism writes it: no fraction for whole seconds, else microseconds."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def parse_iso(value: str) -> datetime:
    """ISO 8601 with `Z` or an offset (v4 query parameters); naive means UTC."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _cluster_uuid(rng: random.Random) -> str:
    """PE cluster ids look like 0006xxxx-... (time-based), not UUID4."""
    h = f"{rng.getrandbits(112):028x}"
    return f"0006{h[:4]}-{h[4:8]}-{h[8:12]}-{h[12:16]}-{h[16:28]}"


def _mac(rng: random.Random) -> str:
    return "50:6b:8d:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class Inventory:
    """Records of one simulated Prism Central; build with `generate`."""

    def __init__(self) -> None:
        self.clusters: list[ClusterRecord] = []
        self.hosts: list[HostRecord] = []
        self.vms: list[VmRecord] = []
        self.subnets: list[SubnetRecord] = []
        self.images: list[ImageRecord] = []
        self.volume_groups: list[VolumeGroupRecord] = []
        self.projects: list[ProjectRecord] = []
        self.categories: list[CategoryRecord] = []
        self.alerts: list[AlertRecord] = []
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.rng = random.Random(0)  # continues after generate: raise_alert stays seeded
        self._index: dict[str, tuple[int, dict]] = {}

    @property
    def aos_clusters(self) -> list[ClusterRecord]:
        return [c for c in self.clusters if not c.is_prism_central]

    @property
    def prism_central(self) -> ClusterRecord:
        return next(c for c in self.clusters if c.is_prism_central)

    def find(self, kind: str, ext_id: str):
        """The record of `kind` ("vms", "hosts", ...) with that ext_id, or None.

        The index is rebuilt when a list's length changes; after replacing records
        in place call `reindex()` (Simulator.refresh does).
        """
        records = getattr(self, kind)
        cached = self._index.get(kind)
        if cached is None or cached[0] != len(records):
            cached = (len(records), {r.ext_id: r for r in records})
            self._index[kind] = cached
        return cached[1].get(ext_id)

    def reindex(self) -> None:
        self._index.clear()

    @classmethod
    def generate(cls, clusters: int = 2, hosts_per_cluster: int = 3, vms: int = 40,
                 subnets_per_cluster: int = 2, images: int = 4, volume_groups: int = 6,
                 projects: int = 3, categories: int = 4, alerts: int = 12, seed: int = 0,
                 now: datetime | None = None) -> Inventory:
        inv = cls()
        inv.rng = random.Random(seed)
        inv.now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for c in range(max(1, clusters)):
            inv._add_cluster(c, max(1, hosts_per_cluster), max(0, subnets_per_cluster))
        inv._add_prism_central()
        inv._add_categories(categories)
        inv._add_projects(max(1, projects))
        inv._add_images(images)
        for i in range(vms):
            inv._add_vm(i)
        for i in range(volume_groups):
            inv._add_volume_group(i)
        for _ in range(alerts):
            inv.add_alert(created=inv._past(days=30, micros=True))
        return inv

    def _past(self, days: int, micros: bool = False) -> datetime:
        moment = self.now - timedelta(seconds=self.rng.randrange(3600, days * 86400))
        if micros:
            return moment.replace(microsecond=self.rng.randrange(1_000_000))
        return moment

    def _add_cluster(self, c: int, hosts: int, subnets: int) -> None:
        rng = self.rng
        net = f"10.{100 + c // 250}.{c % 250}"
        cluster = ClusterRecord(
            ext_id=_cluster_uuid(rng), name=f"cluster-{c + 1:02d}", is_prism_central=False,
            version=_AOS_VERSIONS[c % len(_AOS_VERSIONS)], ncc_version="ncc-5.1.1",
            timezone=_TIMEZONES[c % len(_TIMEZONES)], redundancy_factor=2 if hosts >= 3 else 1,
            external_ip=f"{net}.5", data_services_ip=f"{net}.6",
            external_subnet=f"{net}.0/255.255.255.0",
            internal_subnet="192.168.5.0/255.255.255.128", name_servers=["10.99.0.53", "8.8.8.8"],
            ntp_servers=["0.pool.ntp.org", "1.pool.ntp.org"],
            incarnation_id=1_700_000_000_000_000 + rng.randrange(10**12),
            create_time=_seconds(self._past(days=900)), vswitch_ext_id=new_uuid(rng),
            container_ext_ids=[new_uuid(rng), new_uuid(rng)],
            container_names=[f"default-container-{rng.randrange(10**13)}", "SelfServiceContainer"],
        )
        self.clusters.append(cluster)
        model, freq, cores = _CPU_MODELS[c % len(_CPU_MODELS)]
        block_model = _BLOCK_MODELS[c % len(_BLOCK_MODELS)]
        for h in range(hosts):
            block_serial = f"20SM6K{c:03d}{h // 4:03d}"
            host = HostRecord(
                ext_id=new_uuid(rng), name=f"NTNX-{block_serial}-{'ABCD'[h % 4]}",
                cluster_ext_id=cluster.ext_id, cluster_name=cluster.name,
                hypervisor_ip=f"{net}.{10 + h}", cvm_ip=f"{net}.{50 + h}",
                ipmi_ip=f"{net}.{100 + h}", num_sockets=2, num_cores=2 * cores,
                num_threads=4 * cores, cpu_frequency_hz=freq, cpu_model=model,
                memory_bytes=rng.choice((512, 768, 1024)) * GIB, block_serial=block_serial,
                block_model=block_model,
                boot_time_usecs=int(self._past(days=60, micros=True).timestamp() * 1e6),
                hypervisor_full_name="AHV 10.0.1",
                disks=[HostDiskRecord(new_uuid(rng), rng.choice((1_608_404_478_354,
                                                                  1_749_542_894_885)),
                                      f"S455NA0N{rng.randrange(10**6):06d}", "SATA_SSD")
                       for _ in range(4)],
                rackable_unit_ext_id=new_uuid(rng),
            )
            self.hosts.append(host)
            cluster.host_ext_ids.append(host.ext_id)
        for s in range(subnets):
            self._add_subnet(cluster, s)

    def _add_subnet(self, cluster: ClusterRecord, s: int) -> None:
        rng = self.rng
        block = IPv4Network((int(IPv4Address("10.0.0.0")) + len(self.subnets) * 4096, 20))
        base = int(block.network_address)
        vlan = 10 * (s + 1)
        created = _seconds(self._past(days=700))
        self.subnets.append(SubnetRecord(
            ext_id=new_uuid(rng), name=f"vlan{vlan}-{cluster.name}",
            cluster_ext_id=cluster.ext_id, cluster_name=cluster.name,
            vswitch_ext_id=cluster.vswitch_ext_id, vlan_id=vlan,
            network=str(block.network_address), prefix_length=20,
            gateway=str(IPv4Address(base + 1)), dhcp_server=str(IPv4Address(base + 4094)),
            pool_start=str(IPv4Address(base + 10)), pool_end=str(IPv4Address(base + 4090)),
            dns_servers=["10.99.0.53", "8.8.8.8"], create_time=created,
            update_time=created + timedelta(days=rng.randrange(30)), etag=rng.randrange(1, 9),
        ))

    def _add_prism_central(self) -> None:
        rng = self.rng
        self.clusters.append(ClusterRecord(
            ext_id=new_uuid(rng), name="prism-central", is_prism_central=True, version="",
            ncc_version="ncc-5.1.1", timezone="UTC", redundancy_factor=1, external_ip=None,
            data_services_ip=None, external_subnet="10.99.0.0/255.255.255.0",
            internal_subnet="10.99.0.0/255.255.255.0", name_servers=["127.0.0.1", "8.8.8.8"],
            ntp_servers=["0.pool.ntp.org"], incarnation_id=3_110_957_814_609_824_000,
            create_time=_seconds(self._past(days=400)), host_ext_ids=[new_uuid(rng)],
        ))

    def _add_categories(self, keys: int) -> None:
        for k in range(max(0, keys)):
            key, values = _CATEGORY_KEYS[k] if k < len(_CATEGORY_KEYS) else (
                f"Key{k + 1}", tuple(f"value-{v + 1}" for v in range(3)))
            for value in values:
                self.categories.append(CategoryRecord(
                    ext_id=new_uuid(self.rng), key=key, value=value, type="USER",
                    description=f"{key} {value}" if value != values[-1] else None))

    def _add_projects(self, count: int) -> None:
        aos = self.aos_clusters
        for p in range(count):
            cluster = aos[p % len(aos)]
            self.projects.append(ProjectRecord(
                ext_id=new_uuid(self.rng), name="default" if p == 0 else f"project-{p:02d}",
                description=None if p == 0 else f"Project {p}", is_default=p == 0,
                cluster_ext_ids=[cluster.ext_id],
                subnet_ext_ids=[s.ext_id for s in self.subnets
                                if s.cluster_ext_id == cluster.ext_id],
                create_time=_seconds(self._past(days=500))))

    def _add_images(self, count: int) -> None:
        rng = self.rng
        for i in range(max(0, count)):
            name, kind, mib = _IMAGES[i % len(_IMAGES)]
            if i >= len(_IMAGES):
                name = f"{i // len(_IMAGES)}-{name}"
            created = _seconds(self._past(days=600))
            self.images.append(ImageRecord(
                ext_id=new_uuid(rng), name=name,
                description=None if i % 2 else f"{name} uploaded by admin", image_type=kind,
                size_bytes=mib * MIB, source_uri=f"http://images.example.com/{name}",
                cluster_ext_ids=[c.ext_id for c in self.aos_clusters], create_time=created,
                update_time=created + timedelta(seconds=rng.randrange(60, 600))))

    def _add_vm(self, i: int) -> None:
        rng = self.rng
        aos = self.aos_clusters
        cluster = aos[i % len(aos)]
        power = "ON" if rng.random() < 0.7 else "OFF"
        host = None
        if power == "ON":
            host = self.find("hosts", rng.choice(cluster.host_ext_ids))
            host.num_vms += 1
        cluster.vm_count += 1
        created = _seconds(self._past(days=365))
        updated = created + timedelta(seconds=rng.randrange(1, max(2, int(
            (self.now - created).total_seconds()))), microseconds=rng.randrange(1_000_000))
        disk_images = [m for m in self.images if m.image_type == "DISK_IMAGE"]
        isos = [m for m in self.images if m.image_type == "ISO_IMAGE"]
        disks = []
        for d in range(rng.choice((1, 1, 2, 3))):
            container = 1 if d == 0 and rng.random() < 0.2 else 0
            disks.append(DiskRecord(
                ext_id=new_uuid(rng), size_bytes=rng.choice(_DISK_GIB) * GIB, bus_type="SCSI",
                index=d, container_ext_id=cluster.container_ext_ids[container],
                container_name=cluster.container_names[container],
                image_ext_id=disk_images[i % len(disk_images)].ext_id
                if d == 0 and disk_images else None))
        if isos and rng.random() < 0.3:
            iso = isos[i % len(isos)]
            disks.append(DiskRecord(
                ext_id=new_uuid(rng), size_bytes=iso.size_bytes, bus_type="IDE", index=0,
                container_ext_id=cluster.container_ext_ids[0],
                container_name=cluster.container_names[0], image_ext_id=iso.ext_id,
                is_cdrom=True))
        subnets = [s for s in self.subnets if s.cluster_ext_id == cluster.ext_id]
        nics = []
        for n in range(rng.choice((1, 1, 1, 2)) if subnets else 0):
            subnet = subnets[(i + n) % len(subnets)]
            static = rng.random() < 0.3
            ip = None
            if static or power == "ON":
                ip = str(IPv4Address(int(IPv4Address(subnet.pool_start))
                                     + (i // len(aos) + n * 2000) % 4000))
            nics.append(NicRecord(
                ext_id=new_uuid(rng), mac_address=_mac(rng), subnet_ext_id=subnet.ext_id,
                subnet_name=subnet.name, ip=ip, ip_type="ASSIGNED" if static else "LEARNED"))
        keys = sorted({c.key for c in self.categories})
        chosen = rng.sample(keys, k=min(len(keys), rng.choice((0, 1, 1, 2))))
        categories = [rng.choice([c for c in self.categories if c.key == key]).ext_id
                      for key in chosen]
        project = self.projects[i % len(self.projects)]
        role = _VM_ROLES[i % len(_VM_ROLES)]
        self.vms.append(VmRecord(
            ext_id=new_uuid(rng), name=f"{role}-{i:05d}",
            description=f"{role} server {i}" if rng.random() < 0.5 else None, power_state=power,
            cluster_ext_id=cluster.ext_id, cluster_name=cluster.name,
            host_ext_id=host.ext_id if host else None, host_ip=host.hypervisor_ip if host else None,
            num_sockets=rng.choice(_SOCKETS), num_cores_per_socket=rng.choice(_CORES),
            num_threads_per_core=1, memory_bytes=rng.choice(_MEMORY_GIB) * GIB,
            machine_type="Q35" if rng.random() < 0.2 else "PC",
            boot_type="UEFI" if rng.random() < 0.4 else "LEGACY", create_time=created,
            update_time=updated, generation_uuid=new_uuid(rng), timezone=cluster.timezone,
            disks=disks, nics=nics, category_ext_ids=categories, project_ext_id=project.ext_id,
            project_name=project.name))

    def _add_volume_group(self, i: int) -> None:
        rng = self.rng
        cluster = self.aos_clusters[i % len(self.aos_clusters)]
        ext_id = new_uuid(rng)
        disks = [new_uuid(rng) for _ in range(rng.choice((1, 1, 2)))]
        self.volume_groups.append(VolumeGroupRecord(
            ext_id=ext_id, name=f"pvc-{new_uuid(rng)}" if i % 2 else f"vg-data-{i:03d}",
            description="FS:ext4, PVC:data, NS:default" if i % 2 else None,
            cluster_ext_id=cluster.ext_id, cluster_name=cluster.name,
            sharing_status="NOT_SHARED" if i % 3 else "SHARED",
            usage_type="INTERNAL" if i % 2 else "USER", is_hidden=bool(i % 2),
            target_name=f"ntnx-k8s-{ext_id}" if i % 2 else f"vg-data-{i:03d}-{ext_id[:8]}",
            size_bytes=len(disks) * rng.choice((10, 50, 100)) * GIB, disk_ext_ids=disks,
            container_ext_id=cluster.container_ext_ids[0],
            attachment_ext_ids=[new_uuid(rng) for _ in range(rng.choice((0, 1, 1, 2)))],
            create_time=_seconds(self._past(days=300))))

    def add_alert(self, *, created: datetime, severity: str | None = None,
                  source_type: str | None = None, resolved: bool | None = None,
                  updated: datetime | None = None) -> AlertRecord:
        """One alert of a real alert type, about an existing entity; appended and returned.

        Without `updated`, the alert was last updated (acknowledged, resolved) up to
        two hours after creation, but never after `now`.
        """
        rng = self.rng
        kinds = [a for a in _ALERT_TYPES if source_type in (None, a["source"])] or [
            dict(_ALERT_TYPES[0], source=source_type)]
        kind = kinds[len(self.alerts) % len(kinds)]
        source = kind["source"] if self.vms or kind["source"] != "vm" else "cluster"
        cluster = rng.choice(self.aos_clusters)
        if source == "vm" and self.vms:
            vm = rng.choice(self.vms)
            cluster = self.find("clusters", vm.cluster_ext_id)
            entity = (vm.name, vm.ext_id)
        elif source == "node":
            host = self.find("hosts", rng.choice(cluster.host_ext_ids))
            entity = (host.name, host.ext_id)
        else:
            entity = (cluster.name, cluster.ext_id)
        severity = severity or rng.choice(("INFO", "WARNING", "WARNING", "CRITICAL"))
        resolved = rng.random() < 0.25 if resolved is None else resolved
        if updated is None:
            updated = min(created + timedelta(seconds=rng.randrange(0, 7200),
                                              microseconds=rng.randrange(1_000_000)),
                          max(created, self.now))
        alert = AlertRecord(
            ext_id=new_uuid(rng), alert_type=kind["alert_type"], title=kind["title"],
            message=kind["message"], parameters=_alert_params(kind["alert_type"], entity, rng),
            severity=severity, creation_time=created, last_updated_time=updated,
            cluster_ext_id=cluster.ext_id, source_type=source, source_name=entity[0],
            source_ext_id=entity[1], classifications=list(kind["classifications"]),
            impact_types=["SYSTEM_INDICATOR"] if source == "node" else ["PERFORMANCE"],
            cause=kind["cause"], resolution=kind["resolution"], is_resolved=resolved,
            is_auto_resolved=resolved and rng.random() < 0.5,
            resolved_time=updated if resolved else None,
            is_acknowledged=not resolved and rng.random() < 0.3)
        if alert.is_acknowledged:
            alert.acknowledged_time = updated
        self.alerts.append(alert)
        return alert


def _alert_params(alert_type: str, entity: tuple[str, str], rng: random.Random) -> list:
    name, ext_id = entity
    p = AlertParam
    if alert_type == "A1031":
        ip = f"10.100.0.{50 + rng.randrange(20)}"
        return [p("service_vm_external_ip", "string", ip), p("mount_path", "string", "/var/log"),
                p(None, "string", "/var/log"), p("ip_address", "string", ip),
                p("entity", "string", "Controller VM"), p("threshold", "int", 75),
                p("ref_msg", "string", None), p("node_uuid", "string", ext_id)]
    if alert_type == "A130172":
        return [p("vm_id", "string", ext_id), p(None, "string", ext_id),
                p("vm_name", "string", name), p("protection_rule_uuid", "string", None),
                p("reason", "string", "Management plane is not available"),
                p("arithmos_id", "int", 1046537006312362520 + rng.randrange(1000))]
    if alert_type == "A1044":
        return [p("vm_name", "string", name), p("vm_uuid", "string", ext_id),
                p("threshold", "int", 90), p("duration", "int", 15)]
    return [p("service_name", "string", "stargate"), p("cluster_name", "string", name),
            p("count", "int", rng.randrange(3, 12))]
