"""v3 entity shapes: one record in, the intent (`status`, `spec`, `metadata`) v3 would send.

Shapes follow the v3 fixtures (spec nutanix-fixtures/v3-*.json) and, for kinds
without a recording (volume groups, alerts), the swagger field lists in spec
nutanix/v3-fields.md. Values are the same as the v4 view of the record: memory
and disk sizes in MiB (whole, so bytes agree), create times in whole seconds,
`host_reference` only while ON (name = hypervisor IP, as in
webhook-vm-event.json), CD-ROMs inside `disk_list` with `device_type: CDROM`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.simulator.inventory import (
    ADMIN_UUID,
    MIB,
    PC_IP,
    AlertRecord,
    ClusterRecord,
    HostRecord,
    ImageRecord,
    Inventory,
    ProjectRecord,
    SubnetRecord,
    VmRecord,
    VolumeGroupRecord,
    iso,
)

SPEC_HASH = "0" * 50
BOOT_ORDER = ["CDROM", "DISK", "NETWORK"]
# status-only VM resources (spec.resources repeats the rest: fixture v3-vm-get.json)
_VM_STATUS_ONLY = ("host_reference", "hypervisor_type", "generation_uuid", "bios_uuid",
                   "protection_type")


def ref(kind: str, uuid: str, name: str | None = None) -> dict:
    return {"kind": kind, "uuid": uuid, **({"name": name} if name is not None else {})}


def seconds(moment) -> str:
    return iso(moment.replace(microsecond=0))


class Renderer:
    """Turns records into v3 intent dicts."""

    def __init__(self, inv: Inventory, version: str) -> None:
        self.inv = inv
        self.version = version

    def _metadata(self, kind: str, record: Any, created, updated=None, **extra: Any) -> dict:
        return {"uuid": record.ext_id, "spec_hash": SPEC_HASH, "spec_version": 1, **extra,
                "categories": {}, "categories_mapping": {}, "creation_time": seconds(created),
                "last_update_time": seconds(updated or created), "kind": kind}

    def vm(self, r: VmRecord) -> dict:
        categories = [self.inv.find("categories", c) for c in r.category_ext_ids]
        disks = []
        for d in [*r.cdroms, *r.data_disks]:
            disk = {"uuid": d.ext_id, "disk_size_bytes": d.size_bytes,
                    "disk_size_mib": d.size_bytes // MIB,
                    "storage_config": {"flash_mode": "DISABLED",
                                       "storage_container_reference": ref(
                                           "storage_container", d.container_ext_id,
                                           d.container_name)},
                    "device_properties": {"disk_address": {"device_index": d.index,
                                                           "adapter_type": d.bus_type},
                                          "device_type": "CDROM" if d.is_cdrom else "DISK"},
                    "is_migration_in_progress": False, "is_encryption_in_progress": False}
            if d.image_ext_id:
                disk["data_source_reference"] = ref("image", d.image_ext_id)
            disks.append(disk)
        nics = [{"nic_type": "NORMAL_NIC", "vlan_mode": "ACCESS", "uuid": n.ext_id,
                 "ip_endpoint_list": [{"ip": n.ip, "type": n.ip_type}] if n.ip else [],
                 "mac_address": n.mac_address, "num_queues": 1,
                 "subnet_reference": ref("subnet", n.subnet_ext_id, n.subnet_name),
                 "is_connected": n.is_connected, "trunked_vlan_list": []} for n in r.nics]
        resources = {
            "power_state": r.power_state,
            "power_state_mechanism": {"guest_transition_config": {
                "should_fail_on_script_failure": False, "enable_script_exec": False},
                "mechanism": "HARD"},
            "memory_size_mib": r.memory_bytes // MIB,
            "num_vcpus_per_socket": r.num_cores_per_socket, "num_sockets": r.num_sockets,
            "num_threads_per_core": r.num_threads_per_core, "vga_console_enabled": True,
            "vnuma_config": {"num_vnuma_nodes": 0}, "protection_type": "UNPROTECTED",
            "serial_port_list": [], "is_vcpu_hard_pinned": False, "hypervisor_type": "AHV",
            "hardware_clock_timezone": r.timezone, "is_agent_vm": False,
            "enable_cpu_passthrough": False, "disable_branding": False,
            "machine_type": r.machine_type, "hardware_virtualization_enabled": False,
            "memory_overcommit_enabled": False, "apc_config": {"enabled": False},
            "vtpm_config": {"vtpm_enabled": False, "version": ""}, "storage_config": {},
            "gpu_console_enabled": False, "cpu_hotplug_enabled": True,
            "scsi_controller_enabled": True, "generation_uuid": r.generation_uuid,
            "bios_uuid": r.ext_id,
            "boot_config": {"boot_device_order_list": BOOT_ORDER, "boot_type": r.boot_type},
            "disk_list": disks, "nic_list": nics, "gpu_list": []}
        if r.host_ext_id:
            resources["host_reference"] = ref("host", r.host_ext_id, r.host_ip)
        cluster = ref("cluster", r.cluster_ext_id, r.cluster_name)
        status = {"name": r.name, "cluster_reference": cluster, "resources": resources,
                  "state": "COMPLETE", "execution_context": {"task_uuid": [r.generation_uuid]}}
        spec = {"name": r.name, "cluster_reference": cluster, "resources": {
            **{k: v for k, v in resources.items() if k not in _VM_STATUS_ONLY},
            "vtpm_config": {"vtpm_enabled": False}}}
        if r.description:
            status["description"] = spec["description"] = r.description
        metadata = {
            "uuid": r.ext_id, "spec_hash": SPEC_HASH, "spec_version": 1, "entity_version": "2",
            "owner_reference": ref("user", ADMIN_UUID, "admin"),
            "categories": {c.key: c.value for c in categories},
            "categories_mapping": {c.key: [c.value] for c in categories},
            "project_reference": ref("project", r.project_ext_id, r.project_name),
            "creation_time": seconds(r.create_time), "last_update_time": seconds(r.update_time),
            "kind": "vm"}
        return {"status": status, "spec": spec, "metadata": metadata}

    def cluster(self, r: ClusterRecord) -> dict:
        pc = r.is_prism_central
        version = self.version.removeprefix("pc.") if pc else r.version
        short = ".".join(version.split(".")[:2]) if pc else version
        commit = hashlib.sha1(f"{r.ext_id}{version}".encode()).hexdigest()  # noqa: S324
        config = {
            "software_map": {
                "NOS": {"software_type": "NOS", "status": "INSTALLED", "version": short},
                "NCC": {"software_type": "NCC", "version": r.ncc_version, "status": "INSTALLED"}},
            "encryption_status": "NOT_SUPPORTED",
            "service_list": ["PRISM_CENTRAL"] if pc else ["AOS"],
            "redundancy_factor": r.redundancy_factor,
            "enabled_feature_list": ["PASSWORD_REMOTE_LOGIN_ENABLED", "SHADOW_CLONES_ENABLED"],
            "is_available": True, "timezone": r.timezone, "cluster_arch": "X86_64",
            "domain_awareness_level": "NODE",
            "build": {"build_type": "release", "version": "pc" if pc else version,
                      "full_version": f"el8.5-release-fraser-{version}-stable-{commit}",
                      "commit_id": commit, "short_commit_id": commit[:6],
                      "is_long_term_support": False},
            "supported_information_verbosity": "BASIC_PLUS_CORE_DUMP",
            "operation_mode": "NORMAL"}
        network = {"external_ip": PC_IP if pc else r.external_ip,
                   "ntp_server_ip_list": r.ntp_servers, "external_subnet": r.external_subnet,
                   "name_server_ip_list": r.name_servers, "internal_subnet": r.internal_subnet}
        if r.data_services_ip:
            network["external_data_services_ip"] = r.data_services_ip
        resources: dict[str, Any] = {"config": config, "network": network}
        if pc:
            resources["runtime_status_list"] = ["SSP_CONFIG_OWNER"]
        else:
            hosts = [self.inv.find("hosts", h) for h in r.host_ext_ids]
            resources["nodes"] = {"hypervisor_server_list": [
                {"ip": h.hypervisor_ip, "type": "AHV", "version": "el8.nutanix.20230302.101026"}
                for h in hosts]}
        spec_config = {k: config[k] for k in (
            "software_map", "encryption_status", "supported_information_verbosity",
            "redundancy_factor", "domain_awareness_level", "enabled_feature_list", "timezone",
            "operation_mode")}
        return {"status": {"resources": resources, "name": r.name, "state": "COMPLETE"},
                "metadata": self._metadata("cluster", r, r.create_time),
                "spec": {"name": r.name, "resources": {"config": spec_config,
                                                       "network": network}}}

    def host(self, r: HostRecord) -> dict:
        controller = {"ip": r.cvm_ip, "oplog_usage": {"oplog_disk_pct": 0.4,
                                                      "oplog_disk_size": 410_625_785_856}}
        resources = {
            "block": {"block_model": r.block_model, "block_serial_number": r.block_serial},
            "controller_vm": controller, "cpu_model": r.cpu_model,
            "cpu_capacity_hz": r.cpu_frequency_hz * r.num_cores, "num_cpu_cores": r.num_cores,
            "num_cpu_sockets": r.num_sockets, "memory_capacity_mib": r.memory_bytes // MIB,
            "serial_number": f"{r.block_serial}-{r.name[-1]}", "ipmi": {"ip": r.ipmi_ip},
            "hypervisor": {"ip": r.hypervisor_ip, "hypervisor_full_name": r.hypervisor_full_name,
                           "num_vms": r.num_vms},
            "gpu_list": [], "host_disks_reference_list": [ref("disk", d.ext_id) for d in r.disks],
            "host_nics_id_list": [], "host_type": "HYPER_CONVERGED",
            "rackable_unit_reference": ref("rackable_unit", r.rackable_unit_ext_id)}
        cluster = self.inv.find("clusters", r.cluster_ext_id)
        return {"metadata": self._metadata("host", r, cluster.create_time),
                "spec": {"name": r.name, "resources": {"controller_vm": controller}},
                "status": {"cluster_reference": ref("cluster", r.cluster_ext_id, r.cluster_name),
                           "name": r.name, "resources": resources, "state": "COMPLETE"}}

    def subnet(self, r: SubnetRecord) -> dict:
        ip_config = {"pool_list": [{"range": f"{r.pool_start} {r.pool_end}"}],
                     "default_gateway_ip": r.gateway, "prefix_length": r.prefix_length,
                     "subnet_ip": r.network,
                     "dhcp_options": {"domain_name_server_list": r.dns_servers},
                     "dhcp_server_address": {"ip": r.dhcp_server}}
        resources = {"virtual_switch_uuid": r.vswitch_ext_id, "vswitch_name": "br0",
                     "vlan_id": r.vlan_id, "subnet_type": "VLAN", "ip_config": ip_config}
        cluster = ref("cluster", r.cluster_ext_id, r.cluster_name)
        return {"status": {"name": r.name, "cluster_reference": cluster,
                           "resources": resources, "state": "COMPLETE",
                           "execution_context": {"task_uuid": [r.ext_id]}},
                "metadata": self._metadata("subnet", r, r.create_time, r.update_time,
                                           owner_reference=ref("user", ADMIN_UUID, "admin")),
                "spec": {"resources": resources, "cluster_reference": cluster, "name": r.name}}

    def image(self, r: ImageRecord) -> dict:
        spec = {"name": r.name, "resources": {"architecture": "X86_64",
                                              "image_type": r.image_type,
                                              "source_uri": r.source_uri}}
        status = {"name": r.name, "state": "COMPLETE",
                  "execution_context": {"task_uuid": [r.ext_id]},
                  "resources": {**spec["resources"], "size_bytes": r.size_bytes,
                                "retrieval_uri_list": [
                                    f"https://{PC_IP}:9440/api/nutanix/v3/images/{r.ext_id}/file"],
                                "current_cluster_reference_list": [
                                    ref("cluster", c) for c in r.cluster_ext_ids]}}
        if r.description:
            spec["description"] = status["description"] = r.description
        return {"metadata": self._metadata("image", r, r.create_time, r.update_time,
                                           owner_reference=ref("user", ADMIN_UUID, "admin")),
                "spec": spec, "status": status}

    def volume_group(self, r: VolumeGroupRecord) -> dict:
        disk_mib = r.size_bytes // MIB // len(r.disk_ext_ids)
        resources = {
            "flash_mode": "DISABLED", "sharing_status": r.sharing_status,
            "usage_type": r.usage_type, "is_hidden": r.is_hidden,
            "load_balance_vm_attachments": False, "iscsi_target_prefix": r.target_name,
            "disk_list": [{"index": i, "uuid": d, "storage_container_uuid": r.container_ext_id,
                           "disk_size_mib": disk_mib, "disk_size_bytes": disk_mib * MIB}
                          for i, d in enumerate(r.disk_ext_ids)],
            "attachment_list": [{"iscsi_initiator_name": f"iqn.2010-10.org.openstack:{a}"}
                                for a in r.attachment_ext_ids]}
        status_resources = {**resources, "iscsi_target_name": r.target_name,
                            "size_bytes": r.size_bytes, "size_mib": r.size_bytes // MIB,
                            "created_by": "admin"}
        cluster = ref("cluster", r.cluster_ext_id, r.cluster_name)
        status = {"name": r.name, "state": "COMPLETE", "cluster_reference": cluster,
                  "resources": status_resources}
        spec = {"name": r.name, "cluster_reference": cluster, "resources": resources}
        if r.description:
            status["description"] = spec["description"] = r.description
        return {"status": status, "spec": spec,
                "metadata": self._metadata("volume_group", r, r.create_time)}

    def project(self, r: ProjectRecord) -> dict:
        subnets = [self.inv.find("subnets", s) for s in r.subnet_ext_ids]
        status_resources = {
            "account_reference_list": [], "environment_reference_list": [],
            "external_network_list": [], "external_user_group_reference_list": [],
            "is_default": r.is_default, "resource_domain": {"resources": []},
            "cluster_reference_list": [ref("cluster", c) for c in r.cluster_ext_ids],
            "subnet_reference_list": [ref("subnet", s.ext_id, s.name) for s in subnets],
            "tunnel_reference_list": [], "user_reference_list": [], "vpc_reference_list": []}
        spec = {"name": r.name, "resources": {
            "external_user_group_reference_list": [], "user_reference_list": [],
            "subnet_reference_list": [ref("subnet", s.ext_id) for s in subnets]}}
        status = {"name": r.name, "description": r.description or "", "state": "COMPLETE",
                  "execution_context": {"task_uuid": [r.ext_id]}, "resources": status_resources}
        if r.description:
            spec["description"] = r.description
        return {"metadata": self._metadata(
                    "project", r, r.create_time, owner_reference=ref("user", ADMIN_UUID, "admin"),
                    project_reference=ref("project", r.ext_id, r.name)),
                "spec": spec, "status": status}

    def alert(self, r: AlertRecord) -> dict:
        entity = {"type": r.source_type, "name": r.source_name, "uuid": r.source_ext_id}
        parameters = {p.name: {f"{p.kind}_value": p.value} for p in r.parameters
                      if p.name and p.value is not None}
        resources = {
            "type": r.alert_type, "title": r.title, "default_message": r.message,
            "severity": r.severity, "creation_time": iso(r.creation_time),
            "last_update_time": iso(r.last_updated_time),
            "latest_occurrence_time": iso(r.last_updated_time),
            "source_entity": {"entity": entity,
                              "cluster": {"uuid": r.cluster_ext_id, "type": "cluster"}},
            "affected_entity_list": [entity], "parameters": parameters,
            "classification_list": r.classifications, "impact_type_list": r.impact_types,
            "possible_cause_list": [{"cause_list": [r.cause], "resolution_list": [r.resolution]}],
            "resolution_status": {"is_true": r.is_resolved, "is_auto_resolved": r.is_auto_resolved,
                                  **({"time": iso(r.resolved_time), "user": "admin"}
                                     if r.resolved_time else {})},
            "acknowledged_status": {"is_true": r.is_acknowledged,
                                    **({"time": iso(r.acknowledged_time), "user": "admin"}
                                       if r.acknowledged_time else {})},
            "is_user_defined": False}
        return {"status": {"state": "COMPLETE", "resources": resources},
                "metadata": {"uuid": r.ext_id, "spec_version": 0, "categories": {},
                             "categories_mapping": {},
                             "creation_time": iso(r.creation_time),
                             "last_update_time": iso(r.last_updated_time), "kind": "alert"}}
