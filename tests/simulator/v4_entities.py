"""v4 entity shapes: one record in, the dict Prism Central's v4 API would send out.

Shapes follow the recorded fixtures (spec nutanix-fixtures/v4-*.json): every
object carries `$reserved`/`$objectType`; `elide` then drops them from array
elements after the first (spec nutanix/v4.md section 2: "type annotations are
elided inside arrays"; nested objects keep theirs). Empty fields are omitted,
never null. `$fv` is `v4.r0` on pc.2024.x (MIQ recordings) and `v4.r1` on pc.7.x
(DD recordings). References differ per namespace exactly as recorded: vmm
`{extId}` objects, clustermgmt hosts `cluster{uuid, name}`, networking and
volumes plain-string `clusterReference`, alerts `clusterUUID`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tests.simulator.inventory import (
    ADMIN_UUID,
    PC_IP,
    AlertRecord,
    CategoryRecord,
    ClusterRecord,
    HostRecord,
    ImageRecord,
    Inventory,
    SubnetRecord,
    VmRecord,
    VolumeGroupRecord,
    iso,
)

BOOT_ORDER = ["CDROM", "DISK", "NETWORK"]


def pc_build(version: str) -> tuple[str, str]:
    """("2024.3", "el8.5-release-fraser-2024.3.1.1-stable-<sha>") for "pc.2024.3.1.1"."""
    bare = version.removeprefix("pc.")
    codename = "fraser" if bare.startswith("20") else "ganges"
    sha = hashlib.sha1(bare.encode()).hexdigest()  # noqa: S324 - a fake commit id
    return ".".join(bare.split(".")[:2]), f"el8.5-release-{codename}-{bare}-stable-{sha}"


def obj(fv: str, object_type: str, **fields: Any) -> dict:
    """An annotated v4 object; None-valued fields are left out (Prism omits empty fields)."""
    result = {"$reserved": {"$fv": fv}, "$objectType": object_type}
    if None in fields.values():
        fields = {k: v for k, v in fields.items() if v is not None}
    result.update(fields)
    return result


def elide(value: Any) -> Any:
    """Drop `$reserved`/`$objectType` from array elements after the first, at every depth."""
    if type(value) is dict:  # exact type checks: this visits every node of every entity
        for child in value.values():
            if type(child) is dict or type(child) is list:
                elide(child)
    elif type(value) is list:
        for index, item in enumerate(value):
            if type(item) is dict:
                if index:
                    item.pop("$reserved", None)
                    item.pop("$objectType", None)
                elide(item)
            elif type(item) is list:
                elide(item)
    return value


def ipv4(value: str, prefix: int = 32) -> dict:
    return obj("v1.r0", "common.v1.config.IPv4Address", value=value, prefixLength=prefix)


def ip_address(value: str | None, object_type: str = "common.v1.config.IPAddress") -> dict:
    return obj("v1.r0", object_type, ipv4=ipv4(value) if value else None)


def link(href: str, rel: str) -> dict:
    return obj("v1.r0", "common.v1.response.ApiLink", href=href, rel=rel)


class Renderer:
    """Turns records into v4 dicts; knows the PC version and the schema revision."""

    def __init__(self, inv: Inventory, version: str, base_url: Callable[[], str]) -> None:
        self.inv = inv
        self.fv = "v4.r0" if version.removeprefix("pc.").startswith("20") else "v4.r1"
        self.pc_short, self.pc_full = pc_build(version)
        self.base_url = base_url

    def vm(self, r: VmRecord) -> dict:
        fv, t = self.fv, "vmm.v4.ahv.config."
        boot = (obj(fv, t + "LegacyBoot", bootOrder=BOOT_ORDER) if r.boot_type == "LEGACY"
                else obj(fv, t + "UefiBoot", isSecureBootEnabled=False, bootOrder=BOOT_ORDER))
        return obj(
            fv, t + "Vm", extId=r.ext_id, createTime=iso(r.create_time),
            updateTime=iso(r.update_time), isLiveMigrateCapable=True,
            isCrossClusterMigrationInProgress=False, bootConfig=boot, name=r.name,
            description=r.description, numSockets=r.num_sockets,
            numCoresPerSocket=r.num_cores_per_socket, numThreadsPerCore=r.num_threads_per_core,
            numNumaNodes=0, memorySizeBytes=r.memory_bytes, isVcpuHardPinningEnabled=False,
            isCpuPassthroughEnabled=False, isMemoryOvercommitEnabled=False,
            isGpuConsoleEnabled=False, isCpuHotplugEnabled=True, isScsiControllerEnabled=True,
            generationUuid=r.generation_uuid, biosUuid=r.ext_id,
            categories=[obj(fv, t + "CategoryReference", extId=c)
                        for c in r.category_ext_ids] or None,
            ownershipInfo=obj(fv, t + "OwnershipInfo",
                              owner=obj(fv, t + "OwnerReference", extId=ADMIN_UUID)),
            host=obj(fv, t + "HostReference", extId=r.host_ext_id) if r.host_ext_id else None,
            cluster=obj(fv, t + "ClusterReference", extId=r.cluster_ext_id),
            hardwareClockTimezone=r.timezone, isBrandingEnabled=True, isVgaConsoleEnabled=True,
            machineType=r.machine_type, powerState=r.power_state,
            vtpmConfig=obj(fv, t + "VtpmConfig", isVtpmEnabled=False), isAgentVm=False,
            apcConfig=obj(fv, t + "ApcConfig", isApcEnabled=False),
            disks=[self._disk(d, "Disk", "DiskAddress") for d in r.data_disks] or None,
            cdRoms=[self._disk(d, "CdRom", "CdRomAddress") for d in r.cdroms] or None,
            nics=[self._nic(n) for n in r.nics] or None, protectionType="UNPROTECTED")

    def _disk(self, d, object_type: str, address_type: str) -> dict:
        fv, t = self.fv, "vmm.v4.ahv.config."
        source = None
        if d.image_ext_id:
            source = obj(fv, t + "DataSource", reference=obj(fv, t + "ImageReference",
                                                             imageExtId=d.image_ext_id))
        backing = obj(fv, t + "VmDisk", diskExtId=d.ext_id, isMigrationInProgress=False,
                      diskSizeBytes=d.size_bytes,
                      storageContainer=obj(fv, t + "VmDiskContainerReference",
                                           extId=d.container_ext_id), dataSource=source)
        return obj(fv, t + object_type, extId=d.ext_id, backingInfo=backing,
                   diskAddress=obj(fv, t + address_type, busType=d.bus_type, index=d.index),
                   isoType="OTHER" if d.is_cdrom else None)

    def _nic(self, n) -> dict:
        fv, t = self.fv, "vmm.v4.ahv.config."
        static = n.ip and n.ip_type == "ASSIGNED"
        learned = n.ip and n.ip_type == "LEARNED"
        network = obj(
            fv, t + "NicNetworkInfo", nicType="NORMAL_NIC",
            subnet=obj(fv, t + "SubnetReference", extId=n.subnet_ext_id), vlanMode="ACCESS",
            ipv4Config=obj(fv, t + "Ipv4Config", ipAddress=ipv4(n.ip)) if static else None,
            ipv4Info=obj(fv, t + "Ipv4Info", learnedIpAddresses=[ipv4(n.ip)]) if learned else None)
        return obj(fv, t + "Nic", extId=n.ext_id,
                   backingInfo=obj(fv, t + "EmulatedNic", macAddress=n.mac_address,
                                   isConnected=n.is_connected, numQueues=1),
                   networkInfo=network)

    def cluster(self, r: ClusterRecord) -> dict:
        fv, t = self.fv, "clustermgmt.v4.config."
        pc = r.is_prism_central
        hosts = [] if pc else [self.inv.find("hosts", h) for h in r.host_ext_ids]
        nodes = [obj(fv, t + "NodeListItemReference", nodeUuid=r.host_ext_ids[0],
                     controllerVmIp=ip_address(PC_IP))] if pc else [
            obj(fv, t + "NodeListItemReference", nodeUuid=h.ext_id,
                controllerVmIp=ip_address(h.cvm_ip), hostIp=ip_address(h.hypervisor_ip))
            for h in hosts]
        version = self.pc_short if pc else r.version
        full = self.pc_full if pc else f"el8.5-release-ganges-{r.version}-stable-{r.ext_id[:8]}"
        software = [obj(fv, t + "SoftwareMapReference", softwareType="NCC", version=r.ncc_version),
                    obj(fv, t + "SoftwareMapReference",
                        softwareType="PRISM_CENTRAL" if pc else "NOS", version=full)]
        fault = 0 if pc else r.redundancy_factor - 1
        tolerance = "CFT_0N_AND_0D" if fault == 0 else "CFT_1N_OR_1D"
        config = obj(
            fv, t + "ClusterConfigReference", incarnationId=r.incarnation_id,
            hypervisorTypes=["$UNKNOWN"] if pc else ["AHV"], timezone=r.timezone,
            clusterSoftwareMap=software, isRemoteSupportEnabled=False,
            isLts=None if pc else False, isPasswordRemoteLoginEnabled=True, isAvailable=True,
            buildInfo=obj(fv, t + "BuildReference", buildType="release", version=version,
                          fullVersion=full, commitId=full[-40:], shortCommitId=full[-40:][:6]),
            clusterFunction=["PRISM_CENTRAL"] if pc else ["AOS"],
            redundancyFactor=r.redundancy_factor, clusterArch="X86_64",
            faultToleranceState=obj(
                fv, t + "FaultToleranceState", currentMaxFaultTolerance=fault,
                desiredMaxFaultTolerance=fault, domainAwarenessLevel="NODE",
                currentClusterFaultTolerance=tolerance, desiredClusterFaultTolerance=tolerance),
            operationMode=None if pc else "NORMAL",
            pulseStatus=obj(fv, t + "PulseStatus", isEnabled=True))
        network = obj(
            fv, t + "ClusterNetworkReference", externalSubnet=r.external_subnet,
            internalSubnet=r.internal_subnet, externalAddress=ip_address(r.external_ip),
            externalDataServiceIp=ip_address(r.data_services_ip),
            nameServerIpList=[ip_address(s, "common.v1.config.IPAddressOrFQDN")
                              for s in r.name_servers],
            ntpServerIpList=[obj("v1.r0", "common.v1.config.IPAddressOrFQDN",
                                 fqdn=obj("v1.r0", "common.v1.config.FQDN", value=s))
                             for s in r.ntp_servers],
            backplane=obj(fv, t + "BackplaneNetworkParams", isSegmentationEnabled=False))
        return obj(fv, t + "Cluster", extId=r.ext_id, vmCount=None if pc else r.vm_count,
                   backupEligibilityScore=None if pc else 4, name=r.name,
                   nodes=obj(fv, t + "NodeReference", numberOfNodes=len(nodes), nodeList=nodes),
                   config=config, network=network, upgradeStatus=None if pc else "SUCCEEDED")

    def host(self, r: HostRecord) -> dict:
        fv, t = self.fv, "clustermgmt.v4.config."
        return obj(
            fv, t + "Host", extId=r.ext_id, hostName=r.name, hostType="HYPER_CONVERGED",
            hypervisor=obj(fv, t + "HypervisorReference",
                           externalAddress=ip_address(r.hypervisor_ip), userName="root",
                           fullName=r.hypervisor_full_name, type="AHV", numberOfVms=r.num_vms,
                           state="ACROPOLIS_NORMAL", acropolisConnectionState="CONNECTED"),
            cluster=obj(fv, t + "ClusterReference", name=r.cluster_name, uuid=r.cluster_ext_id),
            controllerVm=obj(fv, t + "ControllerVmReference",
                             externalAddress=ip_address(r.cvm_ip),
                             backplaneAddress=ip_address(r.cvm_ip), isInMaintenanceMode=False),
            disk=[obj(fv, t + "DiskReference", uuid=d.ext_id,
                      mountPath=f"/home/nutanix/data/stargate-storage/disks/{d.serial}",
                      sizeInBytes=d.size_bytes, serialId=d.serial, storageTier=d.tier)
                  for d in r.disks],
            isSecureBooted=False, isHardwareVirtualized=False, hasCsr=False,
            numberOfCpuCores=r.num_cores, numberOfCpuThreads=r.num_threads,
            numberOfCpuSockets=r.num_sockets, cpuFrequencyHz=r.cpu_frequency_hz,
            cpuModel=r.cpu_model, bootTimeUsecs=r.boot_time_usecs, memorySizeBytes=r.memory_bytes,
            blockSerial=r.block_serial, blockModel=r.block_model, maintenanceState="normal",
            nodeStatus="NORMAL",
            ipmi=obj(fv, t + "IpmiReference", ip=ip_address(r.ipmi_ip), username="ADMIN"),
            rackableUnitUuid=r.rackable_unit_ext_id)

    def subnet(self, r: SubnetRecord) -> dict:
        fv, t = self.fv, "networking.v4.config."
        item = obj(
            fv, t + "Subnet", extId=r.ext_id, name=r.name, subnetType="VLAN", networkId=r.vlan_id,
            dhcpOptions=obj(fv, t + "DhcpOptions",
                            domainNameServers=[ip_address(s) for s in r.dns_servers]),
            ipConfig=[obj(fv, t + "IPConfig", ipv4=obj(
                fv, t + "IPv4Config",
                ipSubnet=obj(fv, t + "IPv4Subnet", ip=ipv4(r.network),
                             prefixLength=r.prefix_length),
                defaultGatewayIp=ipv4(r.gateway), dhcpServerAddress=ipv4(r.dhcp_server),
                poolList=[obj(fv, t + "IPv4Pool", startIp=ipv4(r.pool_start),
                              endIp=ipv4(r.pool_end))]))],
            clusterReference=r.cluster_ext_id, virtualSwitchReference=r.vswitch_ext_id,
            isExternal=False, bridgeName="br0", isAdvancedNetworking=False,
            hypervisorType="acropolis")
        item["$reserved"]["ETag"] = r.etag  # list items embed it (fixture v4-subnets-list.json)
        return item

    def image(self, r: ImageRecord) -> dict:
        fv, t = self.fv, "vmm.v4.content."
        return obj(fv, t + "Image", extId=r.ext_id, name=r.name, description=r.description,
                   type=r.image_type, sizeBytes=r.size_bytes,
                   source=obj(fv, t + "UrlSource", url=r.source_uri,
                              shouldAllowInsecureUrl=False),
                   clusterLocationExtIds=r.cluster_ext_ids, createTime=iso(r.create_time),
                   lastUpdateTime=iso(r.update_time), ownerExtId=ADMIN_UUID)

    def volume_group(self, r: VolumeGroupRecord) -> dict:
        fv, t = self.fv, "volumes.v4.config."
        url = f"{self.base_url()}/api/volumes/v4.0/config/volume-groups/{r.ext_id}"
        return obj(
            fv, t + "VolumeGroup", extId=r.ext_id, links=[link(url, "volume_group")],
            attachments=[obj(fv, t + "VGAttachment", attachment=obj(
                fv, t + "IscsiClientAttachment", clusterReference=r.cluster_ext_id, extId=a))
                for a in r.attachment_ext_ids] or None,
            name=r.name, description=r.description, shouldLoadBalanceVmAttachments=False,
            sharingStatus=r.sharing_status, targetName=r.target_name,
            clusterReference=r.cluster_ext_id,
            storageFeatures=obj(fv, t + "StorageFeatures",
                                flashMode=obj(fv, t + "FlashMode", isEnabled=False)),
            usageType=r.usage_type, isHidden=r.is_hidden)

    def category(self, r: CategoryRecord) -> dict:
        url = f"{self.base_url()}/api/prism/v4.0/config/categories/{r.ext_id}"
        return obj(self.fv, "prism.v4.config.Category", extId=r.ext_id,
                   links=[link(url, "self")], key=r.key, value=r.value, type=r.type,
                   description=r.description)

    def alert(self, r: AlertRecord) -> dict:
        fv, t = self.fv, "monitoring.v4."
        entity = {"type": r.source_type, "name": r.source_name, "extId": r.source_ext_id}
        params = []
        for p in r.parameters:
            kind = "IntValue" if p.kind == "int" else "StringValue"
            value = obj(fv, f"{t}common.{kind}", **{f"{p.kind}Value": p.value})
            params.append({"paramValue": value, **obj(fv, t + "common.Parameter",
                                                      paramName=p.name)})
        return obj(
            fv, t + "serviceability.Alert", extId=r.ext_id, isAcknowledged=r.is_acknowledged,
            acknowledgedTime=iso(r.acknowledged_time) if r.acknowledged_time else None,
            acknowledgedByUsername="admin" if r.is_acknowledged else None,
            isAutoResolved=r.is_auto_resolved, isResolved=r.is_resolved,
            resolvedTime=iso(r.resolved_time) if r.resolved_time else None,
            resolvedByUsername="admin" if r.is_resolved and not r.is_auto_resolved else None,
            sourceEntity=obj(fv, t + "common.AlertEntityReference", **entity),
            affectedEntities=[obj(fv, t + "common.EntityReference", **entity)],
            severityTrails=[obj(fv, t + "serviceability.SeverityTrail", severity=r.severity,
                                severityChangeTime=iso(r.creation_time))],
            title=r.title, alertType=r.alert_type, classifications=r.classifications,
            clusterUUID=r.cluster_ext_id, creationTime=iso(r.creation_time),
            impactTypes=r.impact_types, lastUpdatedTime=iso(r.last_updated_time),
            message=r.message, originatingClusterUUID=r.cluster_ext_id, severity=r.severity,
            isUserDefined=False, parameters=params,
            rootCauseAnalysis=[obj(fv, t + "serviceability.RootCauseAnalysis", cause=r.cause,
                                   resolution=r.resolution)])
