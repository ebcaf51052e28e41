"""The CloudForet cloud service types for Nutanix, one per collected kind.

Owns the names (provider, group, type per kind) and what the console shows
for each type: list columns, search keys, detail tabs and widgets. Every key
used here is a path that `inventory.py` writes into a cloud service's `data`
(tests walk them against real mapped resources). Types are re-sent on every
run: CloudForet deletes a type not updated for 72 h (inventory.md section 9).
"""

from __future__ import annotations

import functools
import json

from shared.mapping import layouts as lay

PROVIDER = "nutanix"  # one provider string everywhere (cloudforet README rule 15)

# Client kind name -> (cloud_service_group, cloud_service_type).
KINDS: dict[str, tuple[str, str]] = {
    "clusters": ("Compute", "Cluster"),
    "hosts": ("Compute", "Host"),
    "vms": ("Compute", "VirtualMachine"),
    "images": ("Compute", "Image"),
    "volume_groups": ("Storage", "VolumeGroup"),
    "subnets": ("Networking", "Subnet"),
    "projects": ("Management", "Project"),
    "categories": ("Management", "Category"),
}

_DISPLAY = {
    "Cluster": "Cluster",
    "Host": "Host",
    "VirtualMachine": "Virtual Machine",
    "Image": "Image",
    "VolumeGroup": "Volume Group",
    "Subnet": "Subnet",
    "Project": "Project",
    "Category": "Category",
}
_LABELS = {
    "Cluster": ["Compute"],
    "Host": ["Compute"],
    "VirtualMachine": ["Compute"],
    "Image": ["Compute", "Storage"],
    "VolumeGroup": ["Storage"],
    "Subnet": ["Networking"],
    "Project": ["Management"],
    "Category": ["Management"],
}
_MAJOR = {"Cluster", "Host", "VirtualMachine", "Image", "VolumeGroup", "Subnet"}
_PRIMARY = "VirtualMachine"  # the type the console opens first for the provider

POWER_COLORS = {
    "ON": lay.GREEN,
    "OFF": lay.GRAY,
    "PAUSED": lay.YELLOW,
    "SUSPENDED": lay.YELLOW,
    "UNDETERMINED": lay.RED,
}
POWER_LABELS = {
    "ON": "On",
    "OFF": "Off",
    "PAUSED": "Paused",
    "SUSPENDED": "Suspended",
    "UNDETERMINED": "Undetermined",
}
_YES_NO = {"true": lay.GREEN, "false": lay.GRAY}


def service_code(type_: str) -> str:
    """`service_code` of a type, e.g. "NutanixVirtualMachine" (cost rows may reuse it)."""
    return f"Nutanix{type_}"


def _cluster_col(optional: bool = False) -> dict:
    return lay.text("Cluster", "data.cluster.name", optional=optional)


def _uuid_col() -> dict:
    return lay.text("UUID", "data.ext_id", optional=True)


def _vm(scope: tuple[str, str, str]) -> dict:
    power = lay.state_enum("Power State", "data.power_state", POWER_COLORS)
    details = [
        lay.text("UUID", "data.ext_id"),
        power,
        lay.text("Cluster", "data.cluster.name"),
        lay.text("Host", "data.host.name"),
        lay.text("Project", "data.project.name"),
        lay.text("vCPUs", "data.num_vcpus"),
        lay.text("Sockets", "data.num_sockets"),
        lay.text("Cores per Socket", "data.num_cores_per_socket"),
        lay.text("Threads per Core", "data.num_threads_per_core"),
        lay.size("Memory", "data.memory_bytes"),
        lay.size("Disk Total", "data.disk_bytes"),
        lay.text("Machine Type", "data.machine_type"),
        lay.listing("IP Addresses", "ip_addresses"),
        lay.date_time("Created", "data.created_at"),
        lay.text("Description", "data.description"),
    ]
    disks = [
        lay.text("Index", "index"),
        lay.text("Bus", "bus_type"),
        lay.size("Size", "size_bytes"),
        lay.text("Disk UUID", "ext_id"),
        lay.text("Storage Container", "storage_container_ext_id"),
    ]
    nics = [
        lay.text("MAC Address", "mac_address"),
        lay.text("Subnet", "subnet_name"),
        lay.listing("IP Addresses", "ip_addresses"),
        lay.badge_enum("Connected", "is_connected", _YES_NO),
        lay.text("NIC UUID", "ext_id"),
    ]
    return lay.type_metadata(
        table_fields=[
            power,
            _cluster_col(),
            lay.text("Host", "data.host.name"),
            lay.text("vCPUs", "data.num_vcpus"),
            lay.size("Memory", "data.memory_bytes"),
            lay.size("Disk", "data.disk_bytes"),
            lay.listing("IP Addresses", "ip_addresses"),
            lay.text("Project", "data.project.name", optional=True),
            lay.text("Machine Type", "data.machine_type", optional=True),
            lay.text("Disks", "data.num_disks", optional=True),
            lay.date_time("Created", "data.created_at", optional=True),
            lay.text("Description", "data.description", optional=True),
            _uuid_col(),
        ],
        search_keys=[
            lay.search("UUID", "data.ext_id"),
            lay.search("Power State", "data.power_state", enums=POWER_LABELS),
            lay.search("Cluster", "data.cluster.name"),
            lay.search("Host", "data.host.name"),
            lay.search("Project", "data.project.name"),
            lay.search("vCPUs", "data.num_vcpus", data_type="integer"),
            lay.search("Memory (GiB)", "data.memory_gib"),
            lay.search("IP Address", "ip_addresses"),
            lay.search("MAC Address", "data.nics.mac_address"),
            lay.search("Subnet", "data.nics.subnet_name"),
            lay.search("Category Key", "data.categories.key"),
            lay.search("Category Value", "data.categories.value"),
            lay.search("Machine Type", "data.machine_type"),
        ],
        tabs=[
            lay.item("Virtual Machine", details),
            lay.table("Disks", "data.disks", disks),
            lay.table("NICs", "data.nics", nics),
            lay.table(
                "Categories",
                "data.categories",
                [lay.text("Key", "key"), lay.text("Value", "value")],
            ),
        ],
        widgets=[
            lay.card("Total Count", scope),
            lay.card("Total vCPUs", scope, sum_key="data.num_vcpus"),
            lay.card("Total Memory (GiB)", scope, sum_key="data.memory_gib"),
            lay.chart("Count by Power State", scope, "data.power_state", chart_type="DONUT"),
            lay.chart("Count by Cluster", scope, "data.cluster.name"),
            lay.chart("vCPUs by Cluster", scope, "data.cluster.name", sum_key="data.num_vcpus"),
            lay.chart(
                "Memory (GiB) by Cluster", scope, "data.cluster.name", sum_key="data.memory_gib"
            ),
        ],
    )


def _host(scope: tuple[str, str, str]) -> dict:
    details = [
        lay.text("UUID", "data.ext_id"),
        lay.text("Cluster", "data.cluster.name"),
        lay.text("Hypervisor", "data.hypervisor_name"),
        lay.text("Hypervisor Type", "data.hypervisor_type"),
        lay.text("Hypervisor IP", "data.ip"),
        lay.text("CVM IP", "data.cvm_ip"),
        lay.text("CPU Model", "data.cpu_model"),
        lay.text("CPU Sockets", "data.cpu_sockets"),
        lay.text("CPU Cores", "data.cpu_cores"),
        lay.text("CPU Threads", "data.cpu_threads"),
        lay.text("CPU Frequency (GHz)", "data.cpu_frequency_ghz"),
        lay.size("Memory", "data.memory_bytes"),
        lay.text("VMs", "data.num_vms"),
        lay.text("Block Model", "data.block_model"),
        lay.text("Block Serial", "data.block_serial"),
    ]
    return lay.type_metadata(
        table_fields=[
            _cluster_col(),
            lay.text("Hypervisor", "data.hypervisor_name"),
            lay.text("Hypervisor IP", "data.ip"),
            lay.text("CVM IP", "data.cvm_ip"),
            lay.text("CPU Cores", "data.cpu_cores"),
            lay.size("Memory", "data.memory_bytes"),
            lay.text("VMs", "data.num_vms"),
            lay.text("Block Model", "data.block_model"),
            lay.text("CPU Model", "data.cpu_model", optional=True),
            lay.text("Block Serial", "data.block_serial", optional=True),
            _uuid_col(),
        ],
        search_keys=[
            lay.search("UUID", "data.ext_id"),
            lay.search("Cluster", "data.cluster.name"),
            lay.search("Hypervisor Type", "data.hypervisor_type"),
            lay.search("Hypervisor IP", "data.ip"),
            lay.search("CVM IP", "data.cvm_ip"),
            lay.search("Block Model", "data.block_model"),
            lay.search("Block Serial", "data.block_serial"),
            lay.search("CPU Cores", "data.cpu_cores", data_type="integer"),
        ],
        tabs=[lay.item("Host", details)],
        widgets=[
            lay.card("Total Count", scope),
            lay.card("Total CPU Cores", scope, sum_key="data.cpu_cores"),
            lay.card("Total Memory (GiB)", scope, sum_key="data.memory_gib"),
            lay.chart("Count by Cluster", scope, "data.cluster.name"),
            lay.chart("Count by Hypervisor", scope, "data.hypervisor_type", chart_type="DONUT"),
            lay.chart(
                "Memory (GiB) by Cluster", scope, "data.cluster.name", sum_key="data.memory_gib"
            ),
        ],
    )


def _cluster(scope: tuple[str, str, str]) -> dict:
    details = [
        lay.text("UUID", "data.ext_id"),
        lay.text("AOS Version", "data.version"),
        lay.listing("Hypervisors", "data.hypervisor_types"),
        lay.text("Nodes", "data.num_nodes"),
        lay.text("External IP", "data.external_ip"),
    ]
    return lay.type_metadata(
        table_fields=[
            lay.text("AOS Version", "data.version"),
            lay.listing("Hypervisors", "data.hypervisor_types"),
            lay.text("Nodes", "data.num_nodes"),
            lay.text("External IP", "data.external_ip"),
            _uuid_col(),
        ],
        search_keys=[
            lay.search("UUID", "data.ext_id"),
            lay.search("AOS Version", "data.version"),
            lay.search("Hypervisor", "data.hypervisor_types"),
            lay.search("External IP", "data.external_ip"),
            lay.search("Nodes", "data.num_nodes", data_type="integer"),
        ],
        tabs=[lay.item("Cluster", details)],
        widgets=[
            lay.card("Total Count", scope),
            lay.card("Total Nodes", scope, sum_key="data.num_nodes"),
            lay.chart("Count by AOS Version", scope, "data.version", chart_type="DONUT"),
        ],
    )


def _image(scope: tuple[str, str, str]) -> dict:
    kind = lay.badge_enum(
        "Type", "data.image_type", {"DISK_IMAGE": lay.INDIGO, "ISO_IMAGE": lay.CORAL}
    )
    details = [
        lay.text("UUID", "data.ext_id"),
        kind,
        lay.size("Size", "data.size_bytes"),
        lay.listing("Clusters", "data.clusters", sub_key="name"),
        lay.date_time("Created", "data.created_at"),
        lay.text("Description", "data.description"),
    ]
    return lay.type_metadata(
        table_fields=[
            kind,
            lay.size("Size", "data.size_bytes"),
            lay.listing("Clusters", "data.clusters", sub_key="name"),
            lay.date_time("Created", "data.created_at"),
            lay.text("Description", "data.description", optional=True),
            _uuid_col(),
        ],
        search_keys=[
            lay.search("UUID", "data.ext_id"),
            lay.search("Type", "data.image_type", enums={"DISK_IMAGE": "Disk", "ISO_IMAGE": "ISO"}),
            lay.search("Cluster", "data.clusters.name"),
        ],
        tabs=[lay.item("Image", details)],
        widgets=[
            lay.card("Total Count", scope),
            lay.card("Total Size (GiB)", scope, sum_key="data.size_gib"),
            lay.chart("Count by Type", scope, "data.image_type", chart_type="DONUT"),
        ],
    )


def _volume_group(scope: tuple[str, str, str]) -> dict:
    details = [
        lay.text("UUID", "data.ext_id"),
        lay.text("Cluster", "data.cluster.name"),
        lay.text("Sharing", "data.sharing_status"),
        lay.text("Usage", "data.usage_type"),
        lay.text("Attachments", "data.num_attachments"),
        lay.text("Description", "data.description"),
    ]
    return lay.type_metadata(
        table_fields=[
            _cluster_col(),
            lay.text("Sharing", "data.sharing_status"),
            lay.text("Usage", "data.usage_type"),
            lay.text("Attachments", "data.num_attachments"),
            lay.text("Description", "data.description", optional=True),
            _uuid_col(),
        ],
        search_keys=[
            lay.search("UUID", "data.ext_id"),
            lay.search("Cluster", "data.cluster.name"),
            lay.search("Sharing", "data.sharing_status"),
            lay.search("Usage", "data.usage_type"),
        ],
        tabs=[lay.item("Volume Group", details)],
        widgets=[
            lay.card("Total Count", scope),
            lay.chart("Count by Cluster", scope, "data.cluster.name"),
        ],
    )


def _subnet(scope: tuple[str, str, str]) -> dict:
    kind = lay.badge_enum("Type", "data.subnet_type", {"VLAN": lay.PEACOCK, "OVERLAY": lay.VIOLET})
    details = [
        lay.text("UUID", "data.ext_id"),
        kind,
        lay.text("VLAN ID", "data.vlan_id"),
        lay.text("CIDR", "data.cidr"),
        lay.text("Gateway", "data.gateway"),
        lay.text("Cluster", "data.cluster.name"),
    ]
    return lay.type_metadata(
        table_fields=[
            kind,
            lay.text("VLAN ID", "data.vlan_id"),
            lay.text("CIDR", "data.cidr"),
            lay.text("Gateway", "data.gateway"),
            _cluster_col(),
            _uuid_col(),
        ],
        search_keys=[
            lay.search("UUID", "data.ext_id"),
            lay.search("Type", "data.subnet_type", enums={"VLAN": "VLAN", "OVERLAY": "Overlay"}),
            lay.search("VLAN ID", "data.vlan_id", data_type="integer"),
            lay.search("CIDR", "data.cidr"),
            lay.search("Cluster", "data.cluster.name"),
        ],
        tabs=[lay.item("Subnet", details)],
        widgets=[
            lay.card("Total Count", scope),
            lay.chart("Count by Type", scope, "data.subnet_type", chart_type="DONUT"),
            lay.chart("Count by Cluster", scope, "data.cluster.name"),
        ],
    )


def _project(scope: tuple[str, str, str]) -> dict:
    default = lay.badge_enum("Default", "data.is_default", _YES_NO)
    return lay.type_metadata(
        table_fields=[default, lay.text("Description", "data.description"), _uuid_col()],
        search_keys=[lay.search("UUID", "data.ext_id")],
        tabs=[
            lay.item(
                "Project",
                [
                    lay.text("UUID", "data.ext_id"),
                    default,
                    lay.text("Description", "data.description"),
                ],
            )
        ],
        widgets=[lay.card("Total Count", scope)],
    )


def _category(scope: tuple[str, str, str]) -> dict:
    fields = [
        lay.text("Key", "data.key"),
        lay.text("Value", "data.value"),
        lay.text("Type", "data.type"),
        lay.text("Description", "data.description"),
    ]
    return lay.type_metadata(
        table_fields=[*fields, _uuid_col()],
        search_keys=[
            lay.search("Key", "data.key"),
            lay.search("Value", "data.value"),
            lay.search("Type", "data.type"),
        ],
        tabs=[lay.item("Category", [lay.text("UUID", "data.ext_id"), *fields])],
        widgets=[lay.card("Total Count", scope), lay.chart("Values by Key", scope, "data.key")],
    )


_METADATA = {
    "clusters": _cluster,
    "hosts": _host,
    "vms": _vm,
    "images": _image,
    "volume_groups": _volume_group,
    "subnets": _subnet,
    "projects": _project,
    "categories": _category,
}


def type_metadata(kind: str) -> dict:
    """The metadata dict of one kind's type (a fresh copy each call)."""
    group, type_ = KINDS[kind]
    return _METADATA[kind]((group, type_, PROVIDER))


@functools.cache
def _metadata_json(kind: str) -> str:
    # Built once per process: the same string goes out on every run.
    return json.dumps(type_metadata(kind), separators=(",", ":"))


def to_cloud_service_types() -> list[dict]:
    """One `ResourceInfo` dict per kind, in KINDS order."""
    out = []
    for kind, (group, type_) in KINDS.items():
        resource = {
            "name": type_,
            "group": group,
            "provider": PROVIDER,
            "resource_type": "inventory.CloudService",
            "service_code": service_code(type_),
            "is_primary": type_ == _PRIMARY,
            "is_major": type_ in _MAJOR,
            "labels": list(_LABELS[type_]),
            "tags": {"spaceone:display_name": _DISPLAY[type_]},
            "json_metadata": _metadata_json(kind),
        }
        out.append(
            {
                "state": "SUCCESS",
                "resource_type": "inventory.CloudServiceType",
                "resource": resource,
                "match_rules": {"1": ["name", "group", "provider"]},
            }
        )
    return out
