"""Inventory mapping: Prism models in, CloudForet ResourceInfo dicts out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from spaceone.api.inventory.plugin import collector_pb2

from shared.errors import BadResponse, InvalidInput
from shared.mapping import inventory as inv
from shared.mapping.cloud_service_types import type_metadata
from shared.prism.models import (
    CategoryValue,
    Cluster,
    Disk,
    Host,
    Image,
    Nic,
    Project,
    Subnet,
    Vm,
    VolumeGroup,
)

PC = Cluster("pc-0001", "prism-central", is_prism_central=True, version="pc.2024.3")
CLU_A = Cluster(
    "clu-a",
    "cluster-a",
    hypervisor_types=("AHV",),
    version="6.10",
    num_nodes=3,
    external_ip="10.0.0.10",
)
CLU_B = Cluster(
    "clu-b",
    "cluster-b",
    hypervisor_types=("AHV", "ESX"),
    version="6.8",
    num_nodes=4,
    external_ip="10.0.1.10",
)
CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

VM = Vm(
    "vm-1",
    "web-01",
    power_state="ON",
    cluster_ext_id="clu-a",
    host_ext_id="host-1",
    description="front end",
    num_sockets=2,
    num_cores_per_socket=2,
    num_threads_per_core=1,
    memory_bytes=16 * 1024**3,
    machine_type="PC",
    created_at=CREATED,
    disks=(
        Disk("disk-1", 50 * 1024**3, bus_type="SCSI", index=0, storage_container_ext_id="sc-1"),
        Disk("disk-2", 10 * 1024**3, bus_type="SCSI", index=1, storage_container_ext_id="sc-1"),
    ),
    nics=(
        Nic("nic-1", "50:6b:8d:00:00:01", "sub-1", ("10.0.0.21", "10.0.0.22"), True),
        Nic("nic-2", "50:6b:8d:00:00:02", "sub-1", ("10.0.0.21",), False),
    ),
    categories=(("AppType", "Web"), ("Environment", "Dev"), ("Environment", "Prod")),
    project_ext_id="proj-1",
)
HOST = Host(
    "host-1",
    "node-a1",
    cluster_ext_id="clu-a",
    hypervisor_type="AHV",
    hypervisor_name="AHV 10.0.1",
    num_vms=12,
    cpu_sockets=2,
    cpu_cores=24,
    cpu_threads=48,
    cpu_model="Intel Xeon Gold 6226R",
    cpu_frequency_hz=2_900_000_000,
    memory_bytes=512 * 1024**3,
    ip="10.0.0.11",
    cvm_ip="10.0.0.12",
    block_serial="17SM3A000123",
    block_model="NX-3060-G7",
)
SUBNET = Subnet(
    "sub-1",
    "vlan-100",
    subnet_type="VLAN",
    vlan_id=100,
    cluster_ext_id="clu-a",
    cidr="10.0.0.0/24",
    gateway="10.0.0.1",
)
IMAGE = Image(
    "img-1",
    "ubuntu-24.04",
    image_type="DISK_IMAGE",
    size_bytes=3 * 1024**3,
    description="cloud image",
    cluster_ext_ids=("clu-a", "clu-b"),
    created_at=CREATED,
)
VG = VolumeGroup(
    "vg-1",
    "sql-data",
    cluster_ext_id="clu-b",
    description="db",
    sharing_status="SHARED",
    usage_type="USER",
    num_attachments=2,
)
PROJECT = Project("proj-1", "finance", description="finance team", is_default=False)
CATEGORY = CategoryValue("cat-1", "Environment", "Prod", type="USER", description="prod")

SAMPLES = {
    "clusters": CLU_A,
    "hosts": HOST,
    "vms": VM,
    "images": IMAGE,
    "volume_groups": VG,
    "subnets": SUBNET,
    "projects": PROJECT,
    "categories": CATEGORY,
}


def ctx(**overrides) -> inv.MappingContext:
    base = dict(
        prism_url="https://pc.example:9440/",
        clusters={c.ext_id: c for c in (PC, CLU_A, CLU_B)},
        hosts={"host-1": "node-a1"},
        subnets={"sub-1": "vlan-100"},
        projects={"proj-1": "finance"},
    )
    return inv.MappingContext(**(base | overrides))


def all_outputs(context: inv.MappingContext) -> list[dict]:
    return (
        [inv.to_cloud_service(m, context) for m in SAMPLES.values()]
        + inv.to_cloud_service_types()
        + inv.to_regions([PC, CLU_A, CLU_B], context)
        + [inv.error_resource(kind, "prism: 403 on vms/list") for kind in inv.KINDS]
    )


def walk(doc, path: str):
    """Value at a dotted path; through lists, the values of every item."""
    current = [doc]
    for part in path.split("."):
        nxt = []
        for node in current:
            items = node if isinstance(node, list) else [node]
            for one in items:
                if not isinstance(one, dict) or part not in one:
                    raise KeyError(path)
                nxt.append(one[part])
        current = nxt
    return current


def readable(output: dict) -> dict:
    """The resource as CloudForet stores it: data/metadata parsed."""
    res = dict(output["resource"])
    res["data"] = json.loads(res.pop("json_data"))
    res["metadata"] = json.loads(res.pop("json_metadata"))
    return res


@pytest.mark.parametrize("mode", ["cluster", "prism_central"])
def test_every_output_parses_into_resource_info(mode):
    for output in all_outputs(ctx(region_by=mode, pc_region_code="pc-main")):
        message = json_format.ParseDict(output, collector_pb2.ResourceInfo())
        assert collector_pb2.ResourceInfo.State.Name(message.state) == output["state"]


@pytest.mark.parametrize("mode", ["cluster", "prism_central"])
def test_match_rule_paths_are_present_and_non_empty(mode):
    for output in all_outputs(ctx(region_by=mode)):
        if output["state"] == "FAILURE":
            continue
        paths = output["match_rules"]["1"]
        assert paths
        for path in paths:
            (value,) = walk(output["resource"], path)
            assert isinstance(value, str) and value, (output["resource_type"], path)


def test_match_rules_per_resource_type():
    context = ctx()
    assert inv.to_cloud_service(VM, context)["match_rules"] == {
        "1": ["reference.resource_id", "provider", "cloud_service_type", "cloud_service_group"]
    }
    assert inv.to_cloud_service_types()[0]["match_rules"] == {"1": ["name", "group", "provider"]}
    assert inv.to_regions([CLU_A], context)[0]["match_rules"] == {"1": ["provider", "region_code"]}


def test_data_and_metadata_travel_as_json_strings():
    for output in all_outputs(ctx()):
        resource = output["resource"]
        assert "data" not in resource and "metadata" not in resource
        if output["resource_type"] == "inventory.CloudService":
            assert isinstance(json.loads(resource["json_data"]), dict)
        if "json_metadata" in resource:
            assert isinstance(json.loads(resource["json_metadata"]), dict)


def test_ints_survive_the_struct_round_trip_inside_json_data():
    out = inv.to_cloud_service(VM, ctx())
    message = json_format.ParseDict(out, collector_pb2.ResourceInfo())
    back = json_format.MessageToDict(message, preserving_proto_field_name=True)
    data = json.loads(back["resource"]["json_data"])
    assert data["num_vcpus"] == 4 and isinstance(data["num_vcpus"], int)
    assert back["resource"]["instance_size"] == 4.0


def test_vm_fields():
    res = readable(inv.to_cloud_service(VM, ctx()))
    assert res["provider"] == "nutanix"
    assert (res["cloud_service_group"], res["cloud_service_type"]) == ("Compute", "VirtualMachine")
    assert res["name"] == "web-01"
    assert res["instance_type"] == "4 vCPU / 16 GiB"
    assert res["instance_size"] == 4.0 and isinstance(res["instance_size"], float)
    assert res["ip_addresses"] == ["10.0.0.21", "10.0.0.22"]
    assert res["region_code"] == "clu-a"
    assert res["launched_at"] == "2024-05-06T07:08:09Z"
    assert res["reference"]["resource_id"] == "vm-1"
    assert res["reference"]["external_link"].startswith("https://pc.example:9440/console/")
    data = res["data"]
    assert data["ext_id"] == "vm-1"
    assert data["cluster"] == {"ext_id": "clu-a", "name": "cluster-a"}
    assert data["host"] == {"ext_id": "host-1", "name": "node-a1"}
    assert data["project"] == {"ext_id": "proj-1", "name": "finance"}
    assert data["memory_bytes"] == 16 * 1024**3 and data["memory_gib"] == 16.0
    assert data["disk_bytes"] == 60 * 1024**3 and data["disk_gib"] == 60.0
    assert [d["size_gib"] for d in data["disks"]] == [50.0, 10.0]
    assert data["nics"][0]["subnet_name"] == "vlan-100"
    assert data["nics"][0]["ip_addresses"] == ["10.0.0.21", "10.0.0.22"]
    assert data["created_at"] == "2024-05-06T07:08:09Z"


def test_tags_come_from_categories_with_values_joined():
    res = inv.to_cloud_service(VM, ctx())["resource"]
    assert res["tags"] == {"AppType": "Web", "Environment": "Dev, Prod"}
    assert inv.to_cloud_service(HOST, ctx())["resource"]["tags"] == {}


def test_unknown_fields_are_sent_as_null_so_the_merge_clears_them():
    bare = Vm("vm-2", "stopped", power_state="OFF")
    out = inv.to_cloud_service(bare, ctx())
    data = json.loads(out["resource"]["json_data"])
    full = json.loads(inv.to_cloud_service(VM, ctx())["resource"]["json_data"])
    assert data.keys() == full.keys()
    assert data["host"] == {"ext_id": None, "name": None}
    for absent in ("instance_type", "instance_size", "region_code", "launched_at"):
        assert absent not in out["resource"]
    json_format.ParseDict(out, collector_pb2.ResourceInfo())


def test_other_kinds_resolve_names_and_sizes():
    context = ctx()
    host = readable(inv.to_cloud_service(HOST, context))
    assert host["ip_addresses"] == ["10.0.0.11"]
    assert host["data"]["cluster"]["name"] == "cluster-a"
    assert host["data"]["memory_gib"] == 512.0 and host["data"]["cpu_frequency_ghz"] == 2.9
    image = readable(inv.to_cloud_service(IMAGE, context))
    assert [c["name"] for c in image["data"]["clusters"]] == ["cluster-a", "cluster-b"]
    assert image["data"]["size_gib"] == 3.0
    assert "region_code" not in image  # on two clusters: in no single region
    vg = readable(inv.to_cloud_service(VG, context))
    assert vg["region_code"] == "clu-b" and vg["data"]["cluster"]["name"] == "cluster-b"
    category = readable(inv.to_cloud_service(CATEGORY, context))
    assert category["name"] == "Environment: Prod"


def test_category_without_ext_id_is_identified_by_its_pair():
    v3_value = CategoryValue(None, "Environment", "Prod")
    out = inv.to_cloud_service(v3_value, ctx())
    assert out["resource"]["reference"]["resource_id"] == "Environment=Prod"


def test_missing_ext_id_is_a_bad_response():
    with pytest.raises(BadResponse):
        inv.to_cloud_service(replace(VM, ext_id=""), ctx())


def test_unmapped_model_is_a_type_error():
    with pytest.raises(TypeError):
        inv.to_cloud_service(object(), ctx())


def test_region_by_is_validated():
    with pytest.raises(InvalidInput):
        ctx(region_by="zone")


def test_one_region_per_cluster_without_prism_central():
    regions = inv.to_regions([PC, CLU_A, CLU_B, CLU_A], ctx())
    assert [r["resource"] for r in regions] == [
        {"name": "cluster-a", "region_code": "clu-a", "provider": "nutanix"},
        {"name": "cluster-b", "region_code": "clu-b", "provider": "nutanix"},
    ]


def test_prism_central_mode_has_one_region_used_by_every_service():
    context = ctx(region_by="prism_central", pc_region_code="pc-main")
    regions = inv.to_regions([PC, CLU_A, CLU_B], context)
    assert [r["resource"] for r in regions] == [
        {"name": "prism-central", "region_code": "pc-main", "provider": "nutanix"}
    ]
    for model in SAMPLES.values():
        assert inv.to_cloud_service(model, context)["resource"]["region_code"] == "pc-main"


def test_prism_central_region_code_falls_back_to_the_pc_cluster_then_host():
    context = ctx(region_by="prism_central")
    assert inv.to_regions([PC, CLU_A], context)[0]["resource"]["region_code"] == "pc-0001"
    bare = ctx(region_by="prism_central", clusters={})
    (region,) = inv.to_regions([CLU_A], bare)
    assert region["resource"]["region_code"] == "pc.example"
    assert region["resource"]["name"] == "Prism Central (pc.example)"
    assert inv.to_cloud_service(PROJECT, bare)["resource"]["region_code"] == "pc.example"


def test_cluster_mode_regions_cover_every_region_code_used():
    context = ctx()
    codes = {r["resource"]["region_code"] for r in inv.to_regions([PC, CLU_A, CLU_B], context)}
    for model in SAMPLES.values():
        code = inv.to_cloud_service(model, context)["resource"].get("region_code")
        assert code is None or code in codes
    assert "region_code" not in inv.to_cloud_service(PROJECT, context)["resource"]
    assert "region_code" not in inv.to_cloud_service(PC, context)["resource"]


def test_error_resource_names_the_failed_type():
    out = inv.error_resource("vms", "prism: 403 on /vms/list")
    assert out == {
        "state": "FAILURE",
        "resource_type": "inventory.ErrorResource",
        "message": "prism: 403 on /vms/list",
        "resource": {
            "provider": "nutanix",
            "resource_type": "inventory.CloudService",
            "cloud_service_group": "Compute",
            "cloud_service_type": "VirtualMachine",
        },
    }
    message = json_format.ParseDict(out, collector_pb2.ResourceInfo())
    assert message.state == collector_pb2.ResourceInfo.State.FAILURE
    unknown = inv.error_resource("widgets", "")
    assert unknown["state"] == "FAILURE" and unknown["message"]
    json_format.ParseDict(unknown, collector_pb2.ResourceInfo())


def test_kinds_types_and_mappers_agree():
    assert set(SAMPLES) == set(inv.KINDS)
    types = {(t["resource"]["group"], t["resource"]["name"]) for t in inv.to_cloud_service_types()}
    assert types == set(inv.KINDS.values())
    for kind, model in SAMPLES.items():
        res = inv.to_cloud_service(model, ctx())["resource"]
        assert (res["cloud_service_group"], res["cloud_service_type"]) == inv.KINDS[kind]
        meta = json.loads(res["json_metadata"])["view"]["sub_data"]["reference"]["options"]
        assert (meta["cloud_service_group"], meta["cloud_service_type"]) == inv.KINDS[kind]
    assert inv.KINDS["vms"] == ("Compute", "VirtualMachine")


def _layout_keys(metadata: dict):
    """(resource-relative path, list-item path or None) for every key shown."""
    view = metadata["view"]
    for f in view["table"]["layout"]["options"]["fields"]:
        yield f["key"], None
    for s in view["search"]:
        yield s["key"], None
    for tab in view["sub_data"]["layouts"]:
        root = tab["options"].get("root_path")
        for f in tab["options"]["fields"]:
            yield (root, f["key"]) if root else (f["key"], None)
    for widget in view["widget"]:
        for step in widget["query"]["aggregate"]:
            for k in step["group"].get("keys", []):
                yield k["key"], None
            for f in step["group"]["fields"]:
                if "key" in f:
                    yield f["key"], None


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_layouts_reference_only_fields_the_mapping_fills(kind):
    res = readable(inv.to_cloud_service(SAMPLES[kind], ctx()))
    metadata = json.loads(
        next(
            t["resource"]["json_metadata"]
            for t in inv.to_cloud_service_types()
            if t["resource"]["name"] == inv.KINDS[kind][1]
        )
    )
    assert metadata == type_metadata(kind)
    checked = 0
    for path, sub_key in _layout_keys(metadata):
        values = walk(res, path)
        if sub_key is not None:
            (rows,) = values
            assert isinstance(rows, list) and rows, path
            values = walk(rows, sub_key)
        assert values and all(v is not None for v in values), (kind, path, sub_key)
        checked += 1
    assert checked >= 5


def test_layout_walk_catches_a_wrong_key():
    res = readable(inv.to_cloud_service(VM, ctx()))
    with pytest.raises(KeyError):
        walk(res, "data.cluster.nmae")


def test_every_type_has_widgets_table_search_and_tabs():
    for output in inv.to_cloud_service_types():
        view = json.loads(output["resource"]["json_metadata"])["view"]
        assert view["table"]["layout"]["type"] == "query-search-table"
        assert view["search"] and view["sub_data"]["layouts"]
        assert view["widget"][0]["type"] == "card"
        for widget in view["widget"]:
            scope = {f["key"]: f["value"] for f in widget["query"]["filter"]}
            assert scope == {
                "provider": "nutanix",
                "cloud_service_group": output["resource"]["group"],
                "cloud_service_type": output["resource"]["name"],
            }


def test_vm_type_shows_power_state_disks_nics_and_capacity_widgets():
    (vm_type,) = [
        t for t in inv.to_cloud_service_types() if t["resource"]["name"] == "VirtualMachine"
    ]
    assert vm_type["resource"]["is_primary"] is True
    view = json.loads(vm_type["resource"]["json_metadata"])["view"]
    power = next(
        f for f in view["table"]["layout"]["options"]["fields"] if f["key"] == "data.power_state"
    )
    assert power["type"] == "enum" and power["options"]["ON"]["type"] == "state"
    memory = next(
        f for f in view["table"]["layout"]["options"]["fields"] if f["key"] == "data.memory_bytes"
    )
    assert memory["type"] == "size" and memory["options"]["source_unit"] == "BYTES"
    tabs = {t["name"]: t for t in view["sub_data"]["layouts"]}
    assert tabs["Disks"]["options"]["root_path"] == "data.disks"
    assert tabs["NICs"]["options"]["root_path"] == "data.nics"
    assert tabs["Categories"]["options"]["root_path"] == "data.categories"
    widgets = {w["name"]: w for w in view["widget"]}
    assert {
        "Total Count",
        "Count by Power State",
        "vCPUs by Cluster",
        "Memory (GiB) by Cluster",
    } <= set(widgets)
    (field,) = widgets["vCPUs by Cluster"]["query"]["aggregate"][0]["group"]["fields"]
    assert field == {"name": "value", "key": "data.num_vcpus", "operator": "sum"}


def test_metric_query_is_an_object_on_vms_hosts_clusters_only():
    on, off = ctx(), ctx(metric_data_source=False)
    for model, entity_type in ((VM, "vm"), (HOST, "host"), (CLU_A, "cluster")):
        (query,) = walk(readable(inv.to_cloud_service(model, on)), inv.METRIC_QUERY_KEY)
        assert query == {
            "entity_type": entity_type,
            "ext_id": model.ext_id,
            "cluster_ext_id": "clu-a",
        }
        assert walk(readable(inv.to_cloud_service(model, off)), inv.METRIC_QUERY_KEY) == [None]
    for model in (SUBNET, IMAGE, VG, PROJECT, CATEGORY):
        data = readable(inv.to_cloud_service(model, on))["data"]
        assert "prism_stats" not in data
    (pc_query,) = walk(readable(inv.to_cloud_service(PC, on)), inv.METRIC_QUERY_KEY)
    assert pc_query is None  # PC's pseudo-cluster has no stats


@pytest.mark.parametrize("mode", ["cluster", "prism_central"])
def test_outputs_are_deterministic(mode):
    first = json.dumps(all_outputs(ctx(region_by=mode)), sort_keys=True)
    second = json.dumps(all_outputs(ctx(region_by=mode)), sort_keys=True)
    assert first == second


def test_metadata_strings_are_built_once_and_shared():
    a = inv.to_cloud_service(VM, ctx())["resource"]["json_metadata"]
    b = inv.to_cloud_service(replace(VM, ext_id="vm-9"), ctx())["resource"]["json_metadata"]
    assert a is b
    t1, t2 = inv.to_cloud_service_types(), inv.to_cloud_service_types()
    assert t1 == t2 and t1 is not t2
    assert t1[0]["resource"]["json_metadata"] is t2[0]["resource"]["json_metadata"]


def test_unnamed_prism_central_region_is_named_after_its_host():
    unnamed = replace(PC, name="Unnamed")
    context = ctx(region_by="prism_central", clusters={unnamed.ext_id: unnamed})
    (region,) = inv.to_regions([unnamed, CLU_A], context)
    assert region["resource"] == {
        "name": "Prism Central (pc.example)",
        "region_code": "pc-0001",
        "provider": "nutanix",
    }
