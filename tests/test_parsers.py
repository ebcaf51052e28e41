"""The Prism parsers (`shared/prism/kinds/`) against every real payload in fixtures/nutanix.

Expected values are read off the fixture files by hand (see SOURCES.md for
where each file comes from). Where no real payload exists (v4 images, v3
alerts and volume groups, v3 category values) the test builds one from the
field lists of the SDK or swagger and says so.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import BadResponse
from shared.prism import models
from shared.prism.kinds import (
    ParseContext,
    alerts,
    categories,
    clusters,
    envelope,
    hosts,
    images,
    projects,
    stats,
    subnets,
    vms,
    volume_groups,
)
from shared.prism.kinds._values import timestamp

FIXTURES = Path(__file__).parent / "fixtures" / "nutanix"
KINDS = (vms, clusters, hosts, subnets, images, volume_groups, projects, categories, alerts)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- which fixture feeds what

V4_LISTS = {
    "v4-vms-list.json": vms.from_v4,
    "v4-clusters-list.json": clusters.from_v4,
    "v4-hosts-list.json": hosts.from_v4,
    "v4-subnets-list.json": subnets.from_v4,
    "v4-volume-groups-list.json": volume_groups.from_v4,
    "v4-categories-list.json": categories.from_v4,
    "v4-alerts-list.json": alerts.from_v4,
}
V4_GETS = {"v4-vm-get.json": vms.from_v4, "v4-cluster-get.json": clusters.from_v4}
V3_LISTS = {
    "v3-vms-list.json": vms.from_v3,
    "v3-clusters-list.json": clusters.from_v3,
    "v3-subnets-list.json": subnets.from_v3,
    "v3-images-list.json": images.from_v3,
    "v3-categories-list.json": categories.key_from_v3,
}
V3_GETS = {
    "v3-vm-get.json": vms.from_v3,
    "v3-vm-create-202.json": vms.from_v3,
    "v3-cluster-get.json": clusters.from_v3,
    "v3-subnet-get.json": subnets.from_v3,
    "v3-project-get.json": projects.from_v3,
}
STATS = {
    "v4-vm-stats.json": stats.vm_stats_from_v4,
    "v4-cluster-stats.json": stats.entity_stats_from_v4,
    "v4-host-stats.json": stats.entity_stats_from_v4,
}
ERRORS = {
    "v3-error-401.json": "Authentication required.",
    "v3-error-403.json": "No permission to access the resource. <Request "
    "'http://prismcentral.example.com:9440/v3/images/9e6b62a9-f397-4839-8eed-c7bae60447de' [GET]>",
    "v3-error-422.json": "Request could not be processed. ('api_version' is a required property)",
    "v4-error-403.json": "Access Denied because no or incorrect permissions were set in the "
    "request http://172.16.90.75/api/prism/v4.0.b1/config/categories (RBA-10001)",
    "v4-error-404.json": "Failed to perform the operation on the VM with UUID "
    "'aaaaaaaa-0000-0000-0000-aaaaaaaaaaaa', because it is not found. (VMM-30100)",
    "v4-error-404-unknown-version.json": "The requested URL was not found on the server. "
    "If you entered the URL manually please check your spelling and try again.",
}
SPECIAL = {  # tested by name below
    "v3-hosts-list.json",  # doc sample with its uuids blanked
    "webhook-vm-event.json",  # a v3 VM intent inside the webhook body
}
NOT_PARSED = {  # no parser owns these: headers, and kinds nobody models
    "v3-vms-list.http.json", "v4-vms-list.http.json", "v4-vm-get.http.json",
    "v4-storage-containers-list.http.json", "v4-storage-containers-list.json",
    "v4-templates-list.json", "v4-events-list.json", "v3-prism-central-get.json",
}


def test_every_fixture_has_a_test():
    covered = (set(V4_LISTS) | set(V4_GETS) | set(V3_LISTS) | set(V3_GETS) | set(STATS)
               | set(ERRORS) | SPECIAL | NOT_PARSED)
    assert {p.name for p in FIXTURES.glob("*.json")} == covered


# ---------------------------------------------------------------- output types

def assert_typed(value: Any, hint: Any, where: str) -> None:
    """`value` matches the annotation `hint` (ints are never bools, datetimes are UTC)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            assert type(None) in options, where
            return
        assert_typed(value, next(o for o in options if o is not type(None)), where)
        return
    if origin is tuple:
        args = typing.get_args(hint)
        assert isinstance(value, tuple), where
        if len(args) == 2 and args[1] is Ellipsis:
            for i, element in enumerate(value):
                assert_typed(element, args[0], f"{where}[{i}]")
        else:
            assert len(value) == len(args), where
            for i, (element, arg) in enumerate(zip(value, args, strict=True)):
                assert_typed(element, arg, f"{where}[{i}]")
        return
    if hint is float:  # PEP 484: an int is acceptable where a float is expected
        assert isinstance(value, int | float) and not isinstance(value, bool), where
    elif hint is int:
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif hint is datetime:
        assert isinstance(value, datetime) and value.utcoffset().total_seconds() == 0, where
        assert value.tzinfo is UTC, where
    elif dataclasses.is_dataclass(hint):
        assert isinstance(value, hint), where
        assert_model(value)
    else:
        assert isinstance(value, hint), where


def assert_model(model: Any) -> None:
    hints = typing.get_type_hints(type(model), vars(models))
    for f in dataclasses.fields(model):
        assert_typed(getattr(model, f.name), hints[f.name], f"{type(model).__name__}.{f.name}")
    if hasattr(model, "categories"):
        assert list(model.categories) == sorted(set(model.categories))


def assert_same_types(a: Any, b: Any, where: str = "") -> None:
    """Fields both APIs filled have one type; nested models compared field by field."""
    for f in dataclasses.fields(a):
        if f.name == "raw":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        here = f"{where}{f.name}"
        if x is None or y is None:
            continue
        assert type(x) is type(y), here
        if isinstance(x, tuple) and x and y:
            assert type(x[0]) is type(y[0]), here
            if dataclasses.is_dataclass(x[0]):
                assert_same_types(x[0], y[0], f"{here}[0].")
        elif dataclasses.is_dataclass(x):
            assert_same_types(x, y, f"{here}.")


# ---------------------------------------------------------------- every item parses

@pytest.mark.parametrize("name", sorted(V4_LISTS))
def test_every_v4_list_item_parses(name):
    body = load(name)
    items = envelope.v4_items(body)
    assert items
    parsed = [V4_LISTS[name](item) for item in items]
    for model, item in zip(parsed, items, strict=True):
        assert_model(model)
        assert model.ext_id == item["extId"]
        assert model.raw is item
    assert envelope.v4_total(body) >= len(items)


@pytest.mark.parametrize("name", sorted(V3_LISTS))
def test_every_v3_list_item_parses(name):
    body = load(name)
    items = envelope.v3_items(body)
    assert items
    for item in items:
        parsed = V3_LISTS[name](item)
        if isinstance(parsed, str):  # a category key
            assert parsed == item["name"]
        else:
            assert_model(parsed)
            assert parsed.ext_id == item["metadata"]["uuid"]
    assert envelope.v3_total(body) >= len(items)


@pytest.mark.parametrize("name", sorted(V4_GETS))
def test_v4_get_parses_like_the_list_item(name):
    single = V4_GETS[name](envelope.v4_item(load(name)))
    listed = {m.ext_id: m for m in map(V4_GETS[name], envelope.v4_items(
        load(name.replace("-get.json", "s-list.json"))))}
    assert_model(single)
    assert single == listed[single.ext_id]


@pytest.mark.parametrize("name", sorted(V3_GETS))
def test_every_v3_get_parses(name):
    body = load(name)
    model = V3_GETS[name](body)
    assert_model(model)
    assert model.ext_id == body["metadata"]["uuid"]


def test_envelope_totals():
    assert envelope.v4_total(load("v4-vms-list.json")) == 26
    assert envelope.v4_total(load("v4-categories-list.json")) == 41
    assert envelope.v3_total(load("v3-clusters-list.json")) == 5
    assert envelope.v3_total(load("v3-subnets-list.json")) == 15
    assert envelope.v4_total(load("v4-vm-get.json")) is None  # single GET: no total


@pytest.mark.parametrize("body, expected", [
    ({"metadata": {"totalAvailableResults": 0}}, []),  # past the end: no data at all
    ({"data": None}, []),
    ({"data": []}, []),
])
def test_v4_items_of_an_empty_page(body, expected):
    assert envelope.v4_items(body) == expected


@pytest.mark.parametrize("reader", [envelope.v4_items, envelope.v3_items, envelope.v4_item])
@pytest.mark.parametrize("body", [None, [], "x", 3, {"data": "x", "entities": "x"},
                                  {"data": 7, "entities": {"a": 1}}])
def test_envelope_readers_refuse_wrong_shapes(reader, body):
    with pytest.raises(BadResponse):
        reader(body)


def test_v4_item_wants_an_object():
    assert envelope.v4_item({"data": {"extId": "a"}}) == {"extId": "a"}
    with pytest.raises(BadResponse):
        envelope.v4_item({"data": [{"extId": "a"}]})


# ---------------------------------------------------------------- VMs

def v4_vms() -> list:
    return [vms.from_v4(item) for item in envelope.v4_items(load("v4-vms-list.json"))]


def test_v4_vm_values():
    vm, off, acme = v4_vms()
    assert vm.name == "PC-NameOption-1"
    assert vm.power_state == "ON"
    assert (vm.num_sockets, vm.num_cores_per_socket, vm.num_vcpus) == (4, 1, 4)
    assert vm.memory_bytes == 19327352832
    assert vm.cluster_ext_id == "000633d6-6577-7490-6614-ac1f6b3d8797"
    assert vm.host_ext_id == "ffb769ef-9599-49f7-8608-4b5d10d076e7"
    assert vm.machine_type == "PC"
    assert vm.description == "NutanixPrismCentral"
    assert vm.created_at == datetime(2025, 4, 28, 14, 27, 39, 495755, tzinfo=UTC)
    assert [(d.bus_type, d.index) for d in vm.disks] == [("SCSI", i) for i in (0, 1, 3, 4, 5, 6, 7)]
    assert vm.disks[0].size_bytes == 15728640
    assert vm.disks[0].ext_id == "01bdc02a-488b-4181-97b0-f550f60b964e"
    assert vm.disks[0].storage_container_ext_id == "ccdb2458-3fe0-4df1-acbe-3d751abc9648"
    assert vm.disk_bytes == sum((15728640, 75161927680, 32212254720, 107374182400,
                                 107374182400, 15338569728, 289910292480))
    (nic,) = vm.nics
    assert nic.ext_id == "a75337ff-563b-49ba-9cc6-8a7b8d22df95"
    assert nic.mac_address == "50:6b:8d:c3:f1:67"
    assert nic.subnet_ext_id == "38639cab-28c8-415a-8008-269e69307b60"
    assert nic.ip_addresses == ("192.168.1.150",)  # learned by the guest (ipv4Info)
    assert nic.is_connected is True
    assert vm.project_ext_id is None
    assert off.power_state == "OFF" and off.host_ext_id is None and off.description is None
    assert off.nics[0].ip_addresses == ()
    assert acme.nics[0].ip_addresses == ("192.168.2.142",)  # assigned (ipv4Config)


def test_v4_vm_cdroms_are_not_disks():
    for item, vm in zip(envelope.v4_items(load("v4-vms-list.json")), v4_vms(), strict=True):
        cdroms = {c["extId"] for c in item["cdRoms"]}
        assert cdroms
        assert not cdroms & {d.ext_id for d in vm.disks}
        assert len(vm.disks) == len(item["disks"])


def test_v4_vm_disks_read_without_object_types():
    """Only the first array element carries $objectType; the parser never needs it."""
    item = envelope.v4_items(load("v4-vms-list.json"))[0]
    stripped = json.loads(json.dumps(item), object_hook=lambda o: {
        k: v for k, v in o.items() if not k.startswith("$")})
    assert vms.from_v4(stripped) == vms.from_v4(item)


def test_v4_vm_categories_resolve_through_the_context():
    values = [categories.from_v4(i) for i in envelope.v4_items(load("v4-categories-list.json"))]
    ctx = ParseContext(categories=categories.by_ext_id(values))
    item = copy.deepcopy(envelope.v4_items(load("v4-vms-list.json"))[0])
    item["categories"] = [
        {"$objectType": "vmm.v4.ahv.config.CategoryReference",
         "extId": "c1e404a3-de7d-524a-ae7a-9ede9aba3421"},  # Environment=Dev
        {"extId": "00000000-dead-beef-0000-000000000000"},  # unknown: skipped
        {"extId": "bbc3555a-133b-5348-9764-bfff196e84e4"},  # ADGroup=$Default
        {"extId": "c1e404a3-de7d-524a-ae7a-9ede9aba3421"},  # repeated
    ]
    assert vms.from_v4(item, ctx).categories == (("ADGroup", "$Default"), ("Environment", "Dev"))
    assert vms.from_v4(item).categories == ()
    assert vms.SPEC.needs_categories


def test_v4_vm_newer_nic_objects_win():
    item = copy.deepcopy(envelope.v4_items(load("v4-vms-list.json"))[0])
    nic = item["nics"][0]
    nic["nicBackingInfo"] = {"macAddress": "50:6b:8d:00:00:01", "isConnected": False}
    nic["nicNetworkInfo"] = {"subnet": {"extId": "new-subnet"},
                             "ipv4Config": {"ipAddress": {"value": "10.1.1.1"}}}
    parsed = vms.from_v4(item).nics[0]
    assert parsed.mac_address == "50:6b:8d:00:00:01"
    assert parsed.is_connected is False
    assert parsed.subnet_ext_id == "new-subnet"
    assert parsed.ip_addresses == ("10.1.1.1", "192.168.1.150")


def test_v3_vm_values():
    (entity,) = envelope.v3_items(load("v3-vms-list.json"))
    vm = vms.from_v3(entity)
    assert vm.name == "test-vm"
    assert vm.power_state == "OFF"
    assert vm.description == "test-vm-description"
    assert (vm.num_sockets, vm.num_cores_per_socket, vm.num_threads_per_core) == (1, 1, 1)
    assert vm.num_vcpus == 1
    assert vm.memory_bytes == 1024 * 1024 * 1024  # memory_size_mib: 1024
    assert vm.cluster_ext_id == "00061f7f-44f7-19dc-3be1-7cc25586ee44"
    assert vm.host_ext_id is None  # powered off
    assert vm.project_ext_id == "f33d30fb-12f1-4afa-b393-b195a259fcd6"
    assert vm.created_at == utc(2025, 6, 7, 18, 23, 52)
    assert vm.machine_type == "PC"
    (disk,) = vm.disks
    assert disk == models.Disk(ext_id="537e0352-0af0-4aa5-af01-28e5964c5e80",
                               size_bytes=8589934592, bus_type="SCSI", index=0,
                               storage_container_ext_id="8a77ce4a-5730-44ea-a281-4c81b1277333")
    (nic,) = vm.nics
    assert nic == models.Nic(ext_id="22a6684a-c8be-49f8-b679-5fca3ac1d4ae",
                             mac_address="50:6b:8d:24:19:54",
                             subnet_ext_id="b2e46975-2cde-4a49-9dda-815eb4fcd679",
                             ip_addresses=("10.23.129.96",), is_connected=True)
    assert vm == vms.from_v3(load("v3-vm-get.json"))


def test_v3_vm_cdrom_excluded_and_host_read_from_webhook_intent():
    vm = vms.from_v3(load("webhook-vm-event.json")["data"]["metadata"])
    assert vm.ext_id == "addfa04e-751f-456d-b35b-4550238a7389"
    assert [(d.bus_type, d.size_bytes) for d in vm.disks] == [("SCSI", 42949672960)]
    assert vm.host_ext_id == "041ceddb-ad28-4fa2-88ee-9236c2378366"
    assert vm.nics[0].ip_addresses == ("1.2.3.4",)
    assert vm.num_vcpus == 4 and vm.memory_bytes == 4096 * 1024 * 1024


def test_v3_vm_pending_create_answer_reads_the_spec():
    vm = vms.from_v3(load("v3-vm-create-202.json"))
    assert vm.name == "test-vm"
    assert vm.memory_bytes == 1024 * 1024 * 1024
    assert [d.size_bytes for d in vm.disks] == [8192 * 1024 * 1024]  # disk_size_mib only
    assert vm.nics[0].subnet_ext_id == "b2e46975-2cde-4a49-9dda-815eb4fcd679"
    assert vm.cluster_ext_id == "00061f7f-44f7-19dc-3be1-7cc25586ee44"


@pytest.mark.parametrize("metadata, expected", [
    ({"categories": {"Env": "Dev"}, "categories_mapping": {"Env": ["Prod", "Dev"]}},
     (("Env", "Dev"), ("Env", "Prod"))),
    ({"categories": {"Env": "Dev", "App": "Web"}}, (("App", "Web"), ("Env", "Dev"))),
    ({"categories": {"Env": "Dev"}, "categories_mapping": {}}, (("Env", "Dev"),)),
    ({"categories": {"Env": 3}, "categories_mapping": {"App": "Web"}}, (("App", "Web"),)),
])
def test_v3_vm_categories_prefer_the_mapping(metadata, expected):
    entity = copy.deepcopy(envelope.v3_items(load("v3-vms-list.json"))[0])
    entity["metadata"].update(metadata)
    assert vms.from_v3(entity).categories == expected


# ---------------------------------------------------------------- clusters and hosts

def test_clusters_flag_prism_central():
    acme, pc = map(clusters.from_v4, envelope.v4_items(load("v4-clusters-list.json")))
    assert (acme.name, acme.is_prism_central) == ("Acme", False)
    assert acme.hypervisor_types == ("AHV",)
    assert acme.version == "7.0"
    assert acme.num_nodes == 4
    assert acme.external_ip == "192.168.1.148"
    assert pc.ext_id == "ab2c57a6-5b0b-48a9-bbf0-358decfb33e1"
    assert pc.is_prism_central is True
    assert pc.hypervisor_types == ()  # ["$UNKNOWN"] is an SDK sentinel
    assert pc.external_ip is None  # externalAddress present but empty

    ganon, pc3 = map(clusters.from_v3, envelope.v3_items(load("v3-clusters-list.json")))
    assert (ganon.name, ganon.is_prism_central, ganon.version) == ("ganon", False, "6.5.4.5")
    assert ganon.hypervisor_types == ("AHV",)
    assert ganon.num_nodes == 5
    assert ganon.external_ip == "10.40.231.131"
    assert (pc3.name, pc3.is_prism_central, pc3.num_nodes) == ("ncn-dev-pc", True, None)
    assert pc3.version == "2024.1"  # software_map.NOS, not build.version "pc"


def test_v4_host_values_and_cluster_from_uuid():
    items = envelope.v4_items(load("v4-hosts-list.json"))
    host = hosts.from_v4(items[0])
    assert host.name == "NTNX-20SM6K300373-D"
    assert host.cluster_ext_id == "000633d6-6577-7490-6614-ac1f6b3d8797"  # cluster.uuid
    assert "extId" not in items[0]["cluster"]
    assert (host.hypervisor_type, host.hypervisor_name, host.num_vms) == ("AHV", "AHV 10.0.1", 8)
    assert (host.cpu_sockets, host.cpu_cores, host.cpu_threads) == (2, 40, 80)
    assert host.cpu_frequency_hz == 2100000000
    assert host.cpu_model == "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"
    assert host.memory_bytes == 743072333824
    assert (host.ip, host.cvm_ip) == ("192.168.1.143", "192.168.1.147")
    assert (host.block_serial, host.block_model) == ("20SM6K300373", "NX-3060-G7")
    cluster_ids = {c.ext_id for c in map(clusters.from_v4,
                                          envelope.v4_items(load("v4-clusters-list.json")))}
    assert {hosts.from_v4(i).cluster_ext_id for i in items} <= cluster_ids


def v3_host_filled() -> dict:
    """The doc sample with its blanked uuids given values (the shape is real, values are not)."""
    entity = copy.deepcopy(envelope.v3_items(load("v3-hosts-list.json"))[0])
    entity["metadata"]["uuid"] = "5ad9e6e1-0000-4000-8000-000000000001"
    entity["status"]["cluster_reference"]["uuid"] = "000633d6-6577-7490-6614-ac1f6b3d8797"
    entity["status"]["resources"]["controller_vm"]["ip"] = "10.0.0.5"
    return entity


def test_v3_host_doc_sample():
    (blank,) = envelope.v3_items(load("v3-hosts-list.json"))
    with pytest.raises(BadResponse, match="no identifier"):
        hosts.from_v3(blank)  # its uuid was blanked to ""
    host = hosts.from_v3(v3_host_filled())
    assert_model(host)
    assert host.cluster_ext_id == "000633d6-6577-7490-6614-ac1f6b3d8797"
    assert host.cvm_ip == "10.0.0.5"
    assert host.name == ""
    assert host.block_model == "null"  # the sample's own text
    assert host.memory_bytes is None and host.hypervisor_type is None  # v3 has no type


def test_v3_host_fields_from_the_terraform_struct():
    entity = v3_host_filled()
    entity["status"]["name"] = "node-1"
    entity["status"]["resources"].update({
        "num_cpu_sockets": 2, "num_cpu_cores": 40, "cpu_model": "Xeon",
        "memory_capacity_mib": 708640,
        "hypervisor": {"ip": "10.0.0.4", "hypervisor_full_name": "AHV 10.0.1", "num_vms": 8},
    })
    host = hosts.from_v3(entity)
    assert (host.name, host.cpu_sockets, host.cpu_cores) == ("node-1", 2, 40)
    assert host.cpu_model == "Xeon"
    assert host.memory_bytes == 708640 * 1024 * 1024
    assert (host.ip, host.hypervisor_name, host.num_vms) == ("10.0.0.4", "AHV 10.0.1", 8)


# ---------------------------------------------------------------- subnets, images, VGs, projects

def test_subnet_values():
    mgmt, uvm = map(subnets.from_v4, envelope.v4_items(load("v4-subnets-list.json")))
    assert (mgmt.name, mgmt.subnet_type, mgmt.vlan_id) == ("Nutanix Private Management", "VLAN", 1)
    assert (mgmt.cidr, mgmt.gateway) == ("10.0.0.128/28", "10.0.0.129")
    assert mgmt.cluster_ext_id == "0006411c-0286-bc71-9f02-191e334d457b"
    assert (uvm.vlan_id, uvm.cidr, uvm.gateway) == (2, "10.0.0.192/26", "10.0.0.193")

    sherlock, ext, overlay = map(subnets.from_v3, envelope.v3_items(load("v3-subnets-list.json")))
    assert (sherlock.vlan_id, sherlock.cidr, sherlock.gateway) == (508, "10.40.142.0/24",
                                                                   "10.40.142.1")
    assert sherlock.cluster_ext_id == "0005b0f1-8f43-a0f2-02b7-3cecef193712"
    assert ext.vlan_id == 1409
    assert (overlay.subnet_type, overlay.vlan_id, overlay.cluster_ext_id) == ("OVERLAY", None, None)
    assert overlay.cidr == "192.168.0.0/24"
    assert subnets.from_v3(load("v3-subnet-get.json")) == sherlock


def test_v4_overlay_network_id_is_not_a_vlan():
    item = copy.deepcopy(envelope.v4_items(load("v4-subnets-list.json"))[0])
    item.update(subnetType="OVERLAY", networkId=5001, ipConfig=[], ipPrefix="172.16.0.0/16")
    subnet = subnets.from_v4(item)
    assert (subnet.vlan_id, subnet.cidr, subnet.gateway) == (None, "172.16.0.0/16", None)


def test_v3_image_values():
    image = images.from_v3(envelope.v3_items(load("v3-images-list.json"))[0])
    assert (image.name, image.image_type, image.size_bytes) == ("Ubuntu", "DISK_IMAGE", 33554432)
    assert image.description == "adasdasdsad"
    assert image.cluster_ext_ids == ("00000000-0000-0000-0000-000000000000",)
    assert image.created_at == utc(2022, 6, 9, 12, 44, 17)


V4_IMAGE = {  # built from the SDK model vmm.v4.content.Image: no real v4 image was found
    "$objectType": "vmm.v4.content.Image", "extId": "4eb7a90d-2dee-4bda-8ec3-05bfc648e425",
    "name": "ubuntu-22.04", "type": "ISO_IMAGE", "sizeBytes": 5044094976,
    "clusterLocationExtIds": ["000633d6-6577-7490-6614-ac1f6b3d8797",
                              "0006411c-0286-bc71-9f02-191e334d457b",
                              "000633d6-6577-7490-6614-ac1f6b3d8797"],
    "createTime": "2025-04-28T14:27:39.495755123Z", "description": "installer",
}


def test_v4_image_from_the_sdk_model():
    image = images.from_v4(V4_IMAGE)
    assert_model(image)
    assert (image.image_type, image.size_bytes) == ("ISO_IMAGE", 5044094976)
    assert image.cluster_ext_ids == ("000633d6-6577-7490-6614-ac1f6b3d8797",
                                     "0006411c-0286-bc71-9f02-191e334d457b")
    assert image.created_at == datetime(2025, 4, 28, 14, 27, 39, 495755, tzinfo=UTC)  # ns cut


def test_volume_group_values():
    vg = volume_groups.from_v4(envelope.v4_items(load("v4-volume-groups-list.json"))[0])
    assert vg.name == "pvc-fe5b5bd7-4b01-4b2c-9c0f-ef8eaa40dc3f"
    assert vg.cluster_ext_id == "0006411c-0286-bc71-9f02-191e334d457b"
    assert (vg.sharing_status, vg.usage_type, vg.num_attachments) == ("NOT_SHARED", "INTERNAL", 1)
    assert vg.description.startswith("FS:ext4, PVC:prometheus-k8s-db")


V3_VOLUME_GROUP = {  # built from the v3 swagger fields: no real v3 volume group was found
    "metadata": {"kind": "volume_group", "uuid": "a358cec4-c0dd-468a-b696-dbd1bc34b89e"},
    "status": {"name": "pvc-fe5b5bd7", "description": "FS:ext4",
               "cluster_reference": {"kind": "cluster",
                                     "uuid": "0006411c-0286-bc71-9f02-191e334d457b"},
               "resources": {"sharing_status": "NOT_SHARED", "usage_type": "INTERNAL",
                             "attachment_list": [{"vm_reference": {"kind": "vm", "uuid": "x"}},
                                                 {"iscsi_initiator_name": "iqn.x"}]}},
}


def test_v3_volume_group_from_the_swagger():
    vg = volume_groups.from_v3(V3_VOLUME_GROUP)
    assert_model(vg)
    assert (vg.cluster_ext_id, vg.num_attachments) == ("0006411c-0286-bc71-9f02-191e334d457b", 2)


def test_project_values():
    project = projects.from_v3(load("v3-project-get.json"))
    assert project.ext_id == "csb38ebbf-de15-4239-8197-cedcf27ec88d"  # malformed in the source
    assert (project.name, project.description, project.is_default) == (
        "integration_test_project", None, False)
    assert projects.SPEC.v4_path is None and projects.SPEC.from_v4 is None
    assert projects.SPEC.v3_path == "projects/list"


# ---------------------------------------------------------------- categories

def test_v4_category_values():
    values = [categories.from_v4(i) for i in envelope.v4_items(load("v4-categories-list.json"))]
    assert [(v.key, v.value, v.type) for v in values[:2]] == [
        ("ADGroup", "$Default", "SYSTEM"), ("AppFamily", "Nutanix", "INTERNAL")]
    assert values[0].description == "Default AD Group" and values[1].description is None
    assert categories.by_ext_id(values)["c1e404a3-de7d-524a-ae7a-9ede9aba3421"] == (
        "Environment", "Dev")


def test_v3_categories_expand_keys_into_pairs():
    keys = [categories.SPEC.from_v3(e, ParseContext())
            for e in envelope.v3_items(load("v3-categories-list.json"))]
    assert keys == ["AppType", "Environment"]
    assert categories.SPEC.v3_path == "categories/list"
    assert categories.values_path_v3("App Type/x") == "categories/App%20Type%2Fx/list"
    # shape of a categories/{key}/list answer (terraform-provider-nutanix test stub)
    answer = {"api_version": "3.1", "metadata": {"kind": "category", "total_matches": 2},
              "entities": [{"value": "Dev", "description": "Dev env", "system_defined": True},
                           {"value": "Team A", "system_defined": False}]}
    dev, team = categories.values_from_v3("Environment", answer)
    assert (dev.ext_id, dev.key, dev.value, dev.type, dev.description) == (
        None, "Environment", "Dev", "SYSTEM", "Dev env")
    assert (team.value, team.type) == ("Team A", "USER")
    with pytest.raises(BadResponse):
        categories.values_from_v3("Environment", {"entities": [{"description": "no value"}]})


# ---------------------------------------------------------------- alerts

def test_v4_alerts_render_their_templates():
    recovery, disk = map(alerts.from_v4, envelope.v4_items(load("v4-alerts-list.json")))
    assert recovery.title == "Degraded VM Recovery Point."
    assert recovery.message == ("Recovery Point for VM ubuntu-vm failed to capture associated "
                                "policies and categories because Management plane is not "
                                "available to get the configuration.")
    assert (recovery.severity, recovery.alert_type) == ("INFO", "A130172")
    assert recovery.source_entity == models.EntityRef(
        type="vm", ext_id="7b9d5b24-b99a-4c62-516c-0fe0c20411dd", name="ubuntu-vm")
    assert disk.title == "Disk space usage high for /var/log on Controller VM 10.0.0.108"
    # {ref_msg} is a StringValue without stringValue: empty, and the trailing space goes
    assert disk.message == ("Disk space usage for /var/log on Controller VM 10.0.0.108 "
                            "has exceeded 75%.")
    assert (disk.severity, disk.alert_type, disk.classifications) == ("WARNING", "A1031",
                                                                      ("Storage",))
    assert disk.cluster_ext_id == "00064715-c043-5d8f-ee4b-176ec875554d"
    assert disk.created_at == datetime(2026, 1, 6, 9, 24, 19, 32149, tzinfo=UTC)
    assert disk.last_updated_at == datetime(2026, 1, 15, 11, 48, 10, 613952, tzinfo=UTC)
    assert (disk.is_resolved, disk.resolved_at, disk.is_acknowledged) == (False, None, False)
    assert disk.affected_entities == (models.EntityRef(
        type="node", ext_id="d8787814-4fe8-4ba5-931f-e1ee31c294a6",
        name="10-0-0-103-aws-us-east-1a"),)


def test_alert_params_are_typed_and_skip_nameless_entries():
    item = envelope.v4_items(load("v4-alerts-list.json"))[1]
    params = alerts.alert_params(item)
    named = [p for p in item["parameters"] if "paramName" in p]
    assert len(params) == len(named) < len(item["parameters"])
    assert params["threshold"] == 75 and params["service_vm_id"] == 2
    assert params["mount_path"] == "/var/log"
    assert params["ref_msg"] == ""


def test_render_template_values_and_unknown_placeholders():
    params = alerts.alert_params({"parameters": [
        {"paramName": "big", "paramValue": {"intValue": 1046537006312362520}},
        {"paramName": "ok", "paramValue": {"$objectType": "monitoring.v4.common.BoolValue",
                                           "boolValue": False}},
        {"paramName": "pct", "paramValue": {"doubleValue": 97.5}},
        {"paramName": "f", "paramValue": {"floatValue": 0.25}},
        {"paramValue": {"stringValue": "nameless"}},
        {"paramName": "big", "paramValue": {"intValue": 1}},  # a repeat: the first wins
    ]})
    assert params == {"big": 1046537006312362520, "ok": False, "pct": 97.5, "f": 0.25}
    rendered = alerts.render_template("{big} {ok} {pct}% {f} {missing} {} {{x}}", params)
    assert rendered == "1046537006312362520 false 97.5% 0.25 {missing} {} {{x}}"
    assert alerts.render_template(None, params) == ""


V3_ALERT = {  # built from the v3 swagger / prism-go-client models: no real v3 alert was found
    "metadata": {"kind": "alert", "uuid": "c17420bd-d048-4a3a-ba02-fb485cae2aaf",
                 "creation_time": "2026-01-13T11:06:27Z"},
    "status": {"state": "COMPLETE", "resources": {
        "title": "Disk space usage high for {mount_path}",
        "default_message": "Usage {usage}% over {threshold}% ({ok}) {unknown}",
        "severity": "critical", "type": "A1031", "classification_list": ["Storage"],
        "creation_time": "2026-01-06T09:24:19.032149Z",
        "last_update_time": "2026-01-15T11:48:10.613952+01:00",
        "parameters": {"mount_path": {"string_value": "/home"}, "usage": {"double_value": 91.5},
                       "threshold": {"int_value": 90}, "ok": {"bool_value": True}},
        "resolution_status": {"is_true": True, "is_auto_resolved": True,
                              "time": "2026-01-16T00:00:00Z"},
        "acknowledged_status": {"is_true": False},
        "source_entity": {"cluster_uuid": "00064715-c043-5d8f-ee4b-176ec875554d",
                          "entity": {"type": "node", "name": "n1", "uuid": "d8787814"}},
        "affected_entity_list": [{"type": "node", "name": "n1", "uuid": "d8787814"}, "junk"],
    }},
}


def test_v3_alert_from_the_swagger():
    alert = alerts.from_v3(V3_ALERT)
    assert_model(alert)
    assert alert.title == "Disk space usage high for /home"
    assert alert.message == "Usage 91.5% over 90% (true) {unknown}"
    assert (alert.severity, alert.alert_type) == ("CRITICAL", "A1031")
    assert alert.last_updated_at == utc(2026, 1, 15, 10, 48, 10, 613952)  # +01:00 -> UTC
    assert (alert.is_resolved, alert.resolved_at) == (True, utc(2026, 1, 16))
    assert alert.cluster_ext_id == "00064715-c043-5d8f-ee4b-176ec875554d"
    assert alert.source_entity == models.EntityRef(type="node", ext_id="d8787814", name="n1")
    assert alert.affected_entities == (alert.source_entity,)


@pytest.mark.parametrize("fields, resolved, acknowledged", [
    ({}, False, False),
    ({"isResolved": True, "resolvedTime": "2026-01-16T00:00:00Z"}, True, False),
    ({"isAutoResolved": True, "resolvedTime": "2026-01-16T00:00:00Z"}, True, False),
    ({"status": "AUTO_RESOLVED", "resolvedTime": "2026-01-16T00:00:00Z"}, True, False),
    ({"isAcknowledged": True}, False, True),
    ({"status": "ACKNOWLEDGED"}, False, True),
    ({"isResolved": "yes", "isAcknowledged": 1}, False, False),
])
def test_v4_alert_resolution(fields, resolved, acknowledged):
    item = dict(envelope.v4_items(load("v4-alerts-list.json"))[0], **fields)
    alert = alerts.from_v4(item)
    assert (alert.is_resolved, alert.is_acknowledged) == (resolved, acknowledged)
    assert alert.resolved_at == (utc(2026, 1, 16) if resolved else None)


@pytest.mark.parametrize("raw, expected", [
    ("warning", "WARNING"), (" Critical ", "CRITICAL"), ("INFO", "INFO"),
    ("$UNKNOWN", "INFO"), (None, "INFO"), (3, "INFO"),
])
def test_alert_severity_is_normalised(raw, expected):
    item = dict(envelope.v4_items(load("v4-alerts-list.json"))[0], severity=raw)
    assert alerts.from_v4(item).severity == expected


# ---------------------------------------------------------------- stats

def test_vm_stats_pivot_tuples_into_series():
    body = load("v4-vm-stats.json")
    series = {s.metric: s.points for s in stats.vm_stats_from_v4(body)}
    sampled = body["data"]["stats"][2]
    expected = {k for k in sampled if k != "timestamp"} | {"memoryReservedBytes"}
    assert set(series) == expected  # no cluster, hypervisorType, timestamp, $objectType
    at = utc(2025, 10, 24, 20, 22)
    assert series["hypervisorCpuUsagePpm"] == ((at, 201140),)
    assert series["numVcpusUsedPpm"] == ((at, 1206840),)
    assert series["memoryReservedBytes"] == (
        (datetime(2025, 10, 16, 8, 33, 4, 971699, tzinfo=UTC), 30064771072),)
    assert stats.vm_stats_from_v4(body["data"]) == stats.vm_stats_from_v4(body)


@pytest.mark.parametrize("name", ["v4-cluster-stats.json", "v4-host-stats.json"])
def test_entity_stats_come_out_oldest_first(name):
    body = load(name)
    result = stats.entity_stats_from_v4(body)
    assert [s.metric for s in result] == sorted(
        k for k in body["data"] if not k.startswith("$") and k != "extId")
    for s in result:
        raw = body["data"][s.metric]
        assert [v for _, v in s.points] == [p["value"] for p in reversed(raw)]
        assert [t for t, _ in s.points] == sorted(t for t, _ in s.points)
        assert_model(s)


def test_entity_stats_values():
    cluster = {s.metric: s.points
               for s in stats.entity_stats_from_v4(load("v4-cluster-stats.json"))}
    assert cluster["controllerNumIops"] == ((utc(2026, 2, 25, 17, 26), 109),
                                            (utc(2026, 2, 25, 17, 28), 62))
    host = {s.metric: s.points for s in stats.entity_stats_from_v4(load("v4-host-stats.json"))}
    assert host["memoryCapacityBytes"] == (
        (datetime(2025, 12, 29, 15, 11, 59, 233212, tzinfo=UTC), 404834222080),)


@pytest.mark.parametrize("parse", [stats.vm_stats_from_v4, stats.entity_stats_from_v4])
def test_stats_refuse_a_body_without_data(parse):
    for body in (None, [], {"data": []}, {"data": "x"}):
        with pytest.raises(BadResponse):
            parse(body)
    assert parse({"data": {}}) == []


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_message_of_every_error_fixture(name):
    assert envelope.error_message(load(name)) == ERRORS[name]
    raw = (FIXTURES / name).read_bytes()
    assert envelope.error_message(raw) == ERRORS[name]
    assert envelope.error_message(raw.decode()) == ERRORS[name]


def test_error_message_of_a_schema_validation_error():
    body = {"$dataItemDiscriminator": "vmm.v4.error.ErrorResponse", "data": {
        "$errorItemDiscriminator": "vmm.v4.error.SchemaValidationError",
        "error": {"$objectType": "vmm.v4.error.SchemaValidationError", "statusCode": 400,
                  "error": "Bad Request", "path": "/api/vmm/v4.0/ahv/config/vms",
                  "validationErrorMessages": [
                      {"location": "query", "attributePath": "$limit",
                       "message": "must be less than or equal to 100"},
                      {"message": "unknown field"}]}}}
    assert envelope.error_message(body) == (
        "Bad Request: $limit: must be less than or equal to 100; unknown field")


@pytest.mark.parametrize("body", [
    None, "", "<html>401</html>", b"\xff\xfe", b"", [], 3, {}, {"message": ""},
    {"data": {"error": "x"}}, {"data": {"error": [{"code": "X"}]}}, {"message_list": "x"},
    {"message_list": [{"details": "Basic realm"}]}, {"data": []}, "null", '"text"',
])
def test_error_message_is_none_when_nothing_usable(body):
    assert envelope.error_message(body) is None


# ---------------------------------------------------------------- v3 and v4 agree on types

def first_v4(name: str, parse) -> Any:
    return parse(envelope.v4_items(load(name))[0])


def first_v3(name: str, parse) -> Any:
    return parse(envelope.v3_items(load(name))[0])


SAME_KIND = {  # (v4 model, v3 model): real fixtures unless the id says synthetic
    "vms": lambda: (first_v4("v4-vms-list.json", vms.from_v4),
                    first_v3("v3-vms-list.json", vms.from_v3)),
    "clusters": lambda: (first_v4("v4-clusters-list.json", clusters.from_v4),
                         first_v3("v3-clusters-list.json", clusters.from_v3)),
    "hosts": lambda: (first_v4("v4-hosts-list.json", hosts.from_v4),
                      hosts.from_v3(v3_host_filled())),
    "subnets": lambda: (first_v4("v4-subnets-list.json", subnets.from_v4),
                        first_v3("v3-subnets-list.json", subnets.from_v3)),
    "categories": lambda: (first_v4("v4-categories-list.json", categories.from_v4),
                           categories.value_from_v3("AppType", {"value": "Web",
                                                                "system_defined": True,
                                                                "description": "d"})),
    "images-synthetic-v4": lambda: (images.from_v4(V4_IMAGE),
                                    first_v3("v3-images-list.json", images.from_v3)),
    "volume-groups-synthetic-v3": lambda: (first_v4("v4-volume-groups-list.json",
                                                    volume_groups.from_v4),
                                           volume_groups.from_v3(V3_VOLUME_GROUP)),
    "alerts-synthetic-v3": lambda: (first_v4("v4-alerts-list.json", alerts.from_v4),
                                    alerts.from_v3(V3_ALERT)),
}


@pytest.mark.parametrize("kind", sorted(SAME_KIND))
def test_v3_and_v4_give_the_same_field_types(kind):
    v4, v3 = SAME_KIND[kind]()
    assert type(v4) is type(v3)
    assert_model(v4)
    assert_model(v3)
    assert_same_types(v4, v3)


def test_vm_core_fields_are_filled_by_both_apis():
    v4, v3 = SAME_KIND["vms"]()
    for name in ("name", "power_state", "cluster_ext_id", "num_sockets", "num_cores_per_socket",
                 "num_threads_per_core", "memory_bytes", "machine_type", "created_at",
                 "description"):
        assert getattr(v4, name) is not None and getattr(v3, name) is not None, name
    assert v4.disks and v3.disks and v4.nics and v3.nics
    assert_same_types(v4.disks[0], v3.disks[0])
    assert_same_types(v4.nics[0], v3.nics[0])


# ---------------------------------------------------------------- times

@pytest.mark.parametrize("raw, expected", [
    ("2025-05-29T05:59:01.36383Z", datetime(2025, 5, 29, 5, 59, 1, 363830, tzinfo=UTC)),
    ("2025-05-29T05:59:01.123456789Z", datetime(2025, 5, 29, 5, 59, 1, 123456, tzinfo=UTC)),
    ("2025-05-29T11:29:01+05:30", utc(2025, 5, 29, 5, 59, 1)),
    ("2025-05-29T05:59:01", utc(2025, 5, 29, 5, 59, 1)),  # v3 times are UTC
    (1749030437021784, datetime(2025, 6, 4, 9, 47, 17, 21784, tzinfo=UTC)),  # bootTimeUsecs
    (1749030437, utc(2025, 6, 4, 9, 47, 17)),
    (1749030437021, datetime(2025, 6, 4, 9, 47, 17, 21000, tzinfo=UTC)),
    (1749030437021784000, datetime(2025, 6, 4, 9, 47, 17, 21784, tzinfo=UTC)),
    ("", None), ("2025-13-01T00:00:00Z", None), ("yesterday", None), (0, None), (-5, None),
    (True, None), (10**40, None), (float("inf"), None), ("9999-12-31T23:59:59-01:00", None),
])
def test_timestamps(raw, expected):
    assert timestamp(raw) == expected


# ---------------------------------------------------------------- anything in, model or BadResponse

PARSERS = {f"{kind.__name__.rsplit('.', 1)[1]}.{api}": getattr(kind.SPEC, api)
           for kind in KINDS for api in ("from_v4", "from_v3") if getattr(kind.SPEC, api)}
PARSERS["categories.value_from_v3"] = lambda item, ctx: categories.value_from_v3("k", item)

SAMPLES = {  # real items each parser is fed, to mutate
    "vms.from_v4": envelope.v4_items(load("v4-vms-list.json")),
    "vms.from_v3": [load("v3-vm-get.json"), load("webhook-vm-event.json")["data"]["metadata"],
                    load("v3-vm-create-202.json")],
    "clusters.from_v4": envelope.v4_items(load("v4-clusters-list.json")),
    "clusters.from_v3": envelope.v3_items(load("v3-clusters-list.json")),
    "hosts.from_v4": envelope.v4_items(load("v4-hosts-list.json")),
    "hosts.from_v3": [v3_host_filled()],
    "subnets.from_v4": envelope.v4_items(load("v4-subnets-list.json")),
    "subnets.from_v3": envelope.v3_items(load("v3-subnets-list.json")),
    "images.from_v4": [V4_IMAGE],
    "images.from_v3": envelope.v3_items(load("v3-images-list.json")),
    "volume_groups.from_v4": envelope.v4_items(load("v4-volume-groups-list.json")),
    "volume_groups.from_v3": [V3_VOLUME_GROUP],
    "projects.from_v3": [load("v3-project-get.json")],
    "categories.from_v4": envelope.v4_items(load("v4-categories-list.json")),
    "categories.from_v3": envelope.v3_items(load("v3-categories-list.json")),
    "categories.value_from_v3": [{"value": "Dev", "system_defined": True}],
    "alerts.from_v4": envelope.v4_items(load("v4-alerts-list.json")),
    "alerts.from_v3": [V3_ALERT],
}
CTX = ParseContext(categories={"c1": ("Env", "Dev")})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=12)
    | st.sampled_from(["", "2025-05-29T05:59:01.36383Z", "VLAN", "CDROM", "c1", "ON"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


@st.composite
def mutated(draw, samples: list) -> Any:
    """A real item with a few of its values (at any depth) replaced, dropped or wrapped."""
    item = copy.deepcopy(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 4))):
        parent, key = None, None
        node = item
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = parent[key]
        if parent is None:
            if draw(st.integers(0, 9)) == 0:
                return draw(json_values)
            continue
        action = draw(st.sampled_from(["replace", "drop", "wrap"]))
        if action == "drop" and isinstance(parent, dict):
            del parent[key]
        elif action == "wrap":
            parent[key] = [parent[key]]
        else:
            parent[key] = draw(json_values)
    return item


def assert_model_or_bad_response(parse, item) -> None:
    try:
        result = parse(item, CTX)
    except BadResponse as err:
        assert len(str(err)) < 80  # short, and no payload echoed back
        return
    if isinstance(result, str):
        assert result.strip()
    else:
        assert_model(result)


FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(data=st.data())
def test_mutated_items_give_a_model_or_bad_response(name, data):
    assert_model_or_bad_response(PARSERS[name], data.draw(mutated(SAMPLES[name])))


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(item=json_values)
def test_random_json_gives_a_model_or_bad_response(name, item):
    assert_model_or_bad_response(PARSERS[name], item)


ERROR_AND_STATS_SAMPLES = [load(n) for n in (*ERRORS, *STATS)]


@FUZZ
@given(body=st.one_of(json_values, mutated(ERROR_AND_STATS_SAMPLES)))
def test_error_message_never_raises(body):
    message = envelope.error_message(body)
    assert message is None or (isinstance(message, str) and message == message.strip() != "")
    if not isinstance(body, str):  # as Prism sends it: JSON text
        assert envelope.error_message(json.dumps(body)) == message


@FUZZ
@given(body=st.one_of(json_values, mutated([load(n) for n in STATS])))
def test_stats_give_series_or_bad_response(body):
    for parse in (stats.vm_stats_from_v4, stats.entity_stats_from_v4):
        try:
            result = parse(body)
        except BadResponse:
            continue
        for series in result:
            assert_model(series)
            assert series.points
            assert [t for t, _ in series.points] == sorted(t for t, _ in series.points)


# ---------------------------------------------------------------- typed pages parse the same

TYPED = [(f"{kind.__name__.rsplit('.', 1)[1]}.from_{api}", api, kind.SPEC)
         for kind in KINDS for api in ("v4", "v3")
         if getattr(kind.SPEC, f"{api}_fields") is not None]


def outcome(parse, item) -> Any:
    try:
        return parse(item, CTX)
    except BadResponse as err:
        return str(err)


def through_typed_page(spec, api: str, items: list) -> list:
    """The items as the client reads them: a page of JSON text, read by the spec's TypedPage."""
    key = "data" if api == "v4" else "entities"
    page = getattr(spec, f"{api}_fields").loads(json.dumps({key: items, "metadata": {}}).encode())
    return page[key] if isinstance(page, dict) else page


def test_the_big_kinds_are_read_through_typed_pages():
    assert {name for name, _, _ in TYPED} >= {"vms.from_v4"}


@pytest.mark.parametrize("name,api,spec", TYPED)
def test_recorded_items_parse_the_same_through_the_typed_page(name, api, spec):
    parse = getattr(spec, f"from_{api}")
    items = SAMPLES[name]
    typed = through_typed_page(spec, api, items)
    assert not any(isinstance(item, dict) for item in typed)  # the fast path, not the fallback
    assert [outcome(parse, i) for i in typed] == [outcome(parse, i) for i in items]


@pytest.mark.parametrize("name,api,spec", TYPED)
@FUZZ
@given(data=st.data())
def test_mutated_items_parse_the_same_through_the_typed_page(name, api, spec, data):
    parse = getattr(spec, f"from_{api}")
    items = [data.draw(mutated(SAMPLES[name])) for _ in range(data.draw(st.integers(1, 3)))]
    typed = through_typed_page(spec, api, items)
    assert repr([outcome(parse, i) for i in typed]) == repr([outcome(parse, i) for i in items])


def test_spec_resources_of_another_shape_are_read_leniently():
    """Status has no resources yet (a PENDING create): spec's, read late, stand in."""
    entity = load("v3-vm-create-202.json")
    assert "resources" not in entity["status"]
    entity["spec"]["resources"]["num_sockets"] = "2"  # text: the typed shape refuses it
    (typed,) = through_typed_page(vms.SPEC, "v3", [entity])
    assert not isinstance(typed, dict)
    vm = vms.from_v3(typed)
    assert vm == vms.from_v3(entity) and vm.num_sockets == 2 and vm.disks


# ---------------------------------------------------------------- typed stats read the same

STATS_SAMPLE = load("v4-vm-stats.json")
STATS_METRICS = sorted({m for row in STATS_SAMPLE["data"]["stats"] for m in row
                        if not m.startswith("$") and m not in ("timestamp", "cluster",
                                                               "hypervisorType")})


def selected(found: list, metrics) -> list:
    return [s for s in found if s.metric in metrics]


@pytest.mark.parametrize("metrics", [STATS_METRICS[:1], STATS_METRICS[1:4], STATS_METRICS])
def test_recorded_stats_read_the_same_through_typed_stats(metrics):
    reader = stats.typed_stats(tuple(metrics))
    typed = reader.loads(json.dumps(STATS_SAMPLE).encode())
    assert not isinstance(typed["data"]["stats"][0], dict)  # the fast path
    found = stats.vm_stats_from_v4(typed)
    assert found and found == selected(stats.vm_stats_from_v4(STATS_SAMPLE), metrics)


def test_names_that_cannot_be_fields_get_no_typed_reader():
    assert stats.typed_stats(()) is None
    assert stats.typed_stats(("timestamp",)) is None
    assert stats.typed_stats(("a-b",)) is None
    assert stats.typed_stats(("x", "x")) is None


@FUZZ
@given(payload=mutated([STATS_SAMPLE]), count=st.integers(1, 3))
def test_mutated_stats_read_the_same_through_typed_stats(payload, count):
    metrics = tuple(STATS_METRICS[:count])
    try:
        expected = selected(stats.vm_stats_from_v4(payload), metrics)
    except BadResponse as err:
        expected = str(err)
    body = json.dumps(payload).encode()
    try:
        found = selected(stats.vm_stats_from_v4(stats.typed_stats(metrics).loads(body)), metrics)
    except BadResponse as err:
        found = str(err)
    assert repr(found) == repr(expected)
