"""The Prism Central simulator against the recorded fixtures, over real HTTP(S) with `requests`.

Shapes are compared with `shape_problems`: every key a fixture object has must
exist in the simulator's object with the same JSON type, except the paths a
test lists as not simulated. Fixtures: tests/fixtures/nutanix/ (SOURCES.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests

from tests.simulator import Inventory, RateLimits, Simulator, stats
from tests.simulator.inventory import iso

FIXTURES = Path(__file__).parent / "fixtures" / "nutanix"
AUTH = ("admin", "Nutanix/4u")
VMS = "/api/vmm/v4.0/ahv/config/vms"
V3 = "/api/nutanix/v3"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def kind_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_problems(actual, expected, path: str = "$", skip: frozenset = frozenset()) -> list:
    """Keys of `expected` missing from `actual`, or typed differently (lists: first items)."""
    if path in skip:
        return []
    if kind_of(actual) != kind_of(expected):
        return [f"{path}: {kind_of(actual)} != {kind_of(expected)}"]
    if isinstance(expected, dict):
        problems = []
        for key, value in expected.items():
            if key not in actual:
                if f"{path}.{key}" not in skip:
                    problems.append(f"{path}.{key}: missing")
            else:
                problems += shape_problems(actual[key], value, f"{path}.{key}", skip)
        return problems
    if isinstance(expected, list) and expected and actual:
        return shape_problems(actual[0], expected[0], f"{path}[]", skip)
    return []


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return Inventory.generate(clusters=2, hosts_per_cluster=3, vms=120, seed=7)


@pytest.fixture(scope="module")
def sim(inv):
    with Simulator(inv, tls=True) as running:
        yield running


@pytest.fixture(scope="module")
def plain():
    """A separate plain-HTTP simulator whose faults and limits tests may change."""
    with Simulator(Inventory.generate(vms=30, seed=1), tls=False, api_key="k-123") as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(plain):
    yield
    plain.clear_faults()
    plain.set_rate_limits(None)
    plain.set_latency(0)


def call(sim: Simulator, path: str, method: str = "GET", auth=AUTH, **kw) -> requests.Response:
    """One request on a fresh connection (no cookie jar), verifying TLS with the sim's CA."""
    return requests.request(method, sim.url + path, auth=auth, timeout=10,
                            verify=sim.ca_path or True, **kw)


def v3_list(sim: Simulator, kind: str, body: dict | None = None, **kw) -> requests.Response:
    return call(sim, f"{V3}/{kind}/list", "POST", json=body or {}, **kw)


# -- inventory -----------------------------------------------------------------

def test_inventory_is_deterministic_for_a_seed():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    a = Inventory.generate(vms=50, seed=3, now=now)
    b = Inventory.generate(vms=50, seed=3, now=now)
    c = Inventory.generate(vms=50, seed=4, now=now)
    assert a.vms == b.vms and a.alerts == b.alerts and a.clusters == b.clusters
    assert a.vms[0].ext_id != c.vms[0].ext_id


def test_inventory_references_are_consistent(inv):
    clusters = {c.ext_id: c for c in inv.clusters}
    assert inv.clusters[-1].is_prism_central and len(inv.aos_clusters) == 2
    assert len(inv.hosts) == 6 and len(inv.categories) == 12  # 4 keys x 3 values
    states = {vm.power_state for vm in inv.vms}
    assert states == {"ON", "OFF"}
    for vm in inv.vms:
        assert not clusters[vm.cluster_ext_id].is_prism_central
        assert (vm.host_ext_id is not None) == (vm.power_state == "ON")
        if vm.host_ext_id:
            assert inv.find("hosts", vm.host_ext_id).cluster_ext_id == vm.cluster_ext_id
        for nic in vm.nics:
            assert inv.find("subnets", nic.subnet_ext_id).cluster_ext_id == vm.cluster_ext_id
        assert all(inv.find("categories", c) for c in vm.category_ext_ids)
        assert inv.find("projects", vm.project_ext_id) is not None
        assert vm.memory_bytes % 2**20 == 0 and vm.create_time.microsecond == 0
        assert inv.now - timedelta(days=366) < vm.create_time < inv.now
    assert sum(h.num_vms for h in inv.hosts) == sum(v.power_state == "ON" for v in inv.vms)
    assert {v.num_sockets * v.num_cores_per_socket for v in inv.vms} > {1, 2}


def test_inventory_generates_large_scale():
    inv = Inventory.generate(clusters=10, hosts_per_cluster=20, vms=3000, seed=0)
    assert len(inv.vms) == 3000 and len(inv.hosts) == 200 and len(inv.clusters) == 11
    assert len({vm.ext_id for vm in inv.vms}) == 3000
    assert len({vm.name for vm in inv.vms}) == 3000


# -- v4 shapes -----------------------------------------------------------------

V4_SHAPES = [
    ("v4-vms-list.json", VMS + "?$filter=powerState eq 'ON'", {
        "$.data[].cdRoms", "$.data[].nics[].networkInfo.ipv4Info"}),  # this VM: no CD, static IP
    ("v4-clusters-list.json", "/api/clustermgmt/v4.0/config/clusters",
     {"$.data[].config.authorizedPublicKeyList"}),
    ("v4-cluster-get.json", "/api/clustermgmt/v4.0/config/clusters/{cluster}",
     {"$.data.config.authorizedPublicKeyList"}),
    ("v4-hosts-list.json", "/api/clustermgmt/v4.0/config/hosts", set()),
    ("v4-subnets-list.json", "/api/networking/v4.0/config/subnets", set()),
    ("v4-volume-groups-list.json",
     "/api/volumes/v4.0/config/volume-groups?$filter=isHidden eq true", set()),
    ("v4-categories-list.json", "/api/prism/v4.0/config/categories", set()),
    ("v4-alerts-list.json", "/api/monitoring/v4.2/serviceability/alerts?$filter="
                            "alertType eq 'A130172'", set()),
]


@pytest.mark.parametrize(("name", "path", "skip"), V4_SHAPES, ids=[s[0] for s in V4_SHAPES])
def test_v4_answers_have_the_recorded_shape(sim, inv, name, path, skip):
    answer = call(sim, path.format(cluster=inv.clusters[0].ext_id))
    assert answer.status_code == 200
    body = answer.json()
    expected = fixture(name)
    assert shape_problems(body, expected, skip=frozenset(skip)) == []
    assert set(body) == set(expected)  # the same envelope keys
    assert body["$objectType"] == expected["$objectType"]
    first = body["data"][0] if isinstance(body["data"], list) else body["data"]
    recorded = expected["data"][0] if isinstance(expected["data"], list) else expected["data"]
    assert first["$objectType"] == recorded["$objectType"]


def test_v4_vm_get_is_data_only_with_an_etag(sim, inv):
    vm = next(v for v in inv.vms if v.power_state == "ON")
    answer = call(sim, f"{VMS}/{vm.ext_id}")
    assert set(answer.json()) == set(fixture("v4-vm-get.json")) == {"data"}
    assert shape_problems(answer.json(), fixture("v4-vm-get.json"), skip=frozenset({
        "$.data.isCrossClusterMigrationInProgress", "$.data.description", "$.data.cdRoms",
        "$.data.nics[].networkInfo.ipv4Info"})) == []
    prefix, _, digest = answer.headers["ETag"].partition(":")
    assert base64.b64decode(prefix) == b"application/json" and len(digest) == 64


def test_v4_elides_type_annotations_after_the_first_array_item(sim):
    body = call(sim, VMS + "?$limit=100").json()
    vm = next(v for v in body["data"] if len(v.get("disks", ())) > 1)
    assert "$objectType" in vm["disks"][0] and "$objectType" not in vm["disks"][1]
    assert "$objectType" in vm["disks"][1]["backingInfo"]  # nested objects keep theirs
    assert all("$objectType" in item for item in body["data"])
    assert all("$objectType" in flag for flag in body["metadata"]["flags"])
    links = body["metadata"]["links"]
    assert "$objectType" in links[0] and all("$objectType" not in x for x in links[1:])


def test_v4_omits_empty_fields(sim, inv):
    off = next(v for v in inv.vms if v.power_state == "OFF")
    item = call(sim, f"{VMS}/{off.ext_id}").json()["data"]
    assert "host" not in item and None not in item.values()
    pc = call(sim, f"/api/clustermgmt/v4.0/config/clusters/{inv.prism_central.ext_id}")
    assert pc.json()["data"]["config"]["clusterFunction"] == ["PRISM_CENTRAL"]
    assert "vmCount" not in pc.json()["data"]


def test_v4_unknown_entity_is_the_recorded_404(sim):
    answer = call(sim, f"{VMS}/aaaaaaaa-0000-0000-0000-aaaaaaaaaaaa")
    assert answer.status_code == 404
    expected = fixture("v4-error-404.json")
    assert answer.json() == expected  # the same message text too
    other = call(sim, "/api/networking/v4.0/config/subnets/nope")
    assert other.status_code == 404
    assert other.json()["data"]["error"][0]["errorGroup"] == "ENTITY_NOT_FOUND"


def test_unserved_version_is_the_plain_404(sim):
    for path in ("/api/vmm/v4.1/ahv/config/vms", "/api/monitoring/v4.3/serviceability/alerts",
                 "/api/prism/v4.0.b1/config/categories", "/api/multidomain/v4.3.b1/config/projects",
                 "/api/vmm/v4.0/ahv/config/nothing-here"):
        answer = call(sim, path)
        assert answer.status_code == 404, path
        assert answer.json() == fixture("v4-error-404-unknown-version.json")


def test_unversioned_info_names_the_highest_minor(sim):
    assert call(sim, "/api/monitoring/unversioned/info", "OPTIONS").json() == {"data": "v4.2"}
    assert call(sim, "/api/vmm/unversioned/info", "OPTIONS").json() == {"data": "v4.0"}
    assert call(sim, "/api/monitoring/v4.1/serviceability/alerts").status_code == 200


def test_console_answers_without_auth(sim):
    answer = call(sim, "/console", auth=None)
    assert answer.status_code == 200 and answer.headers["Server"] == "envoy"


# -- v4 paging and queries --------------------------------------------------------

def test_v4_paging_math_and_links(sim, inv):
    total = len(inv.vms)
    pages = [call(sim, f"{VMS}?$page={p}&$limit=50").json() for p in range(4)]
    assert [len(p["data"]) for p in pages] == [50, 50, total - 100, 0]
    assert all(p["metadata"]["totalAvailableResults"] == total for p in pages)
    ids = [item["extId"] for p in pages for item in p["data"]]
    assert ids == [vm.ext_id for vm in inv.vms]
    rels = [{x["rel"]: x["href"] for x in p["metadata"]["links"]} for p in pages]
    assert set(rels[0]) == {"self", "first", "last", "next"}
    assert set(rels[1]) == {"self", "first", "last", "next", "prev"}
    assert set(rels[2]) == {"self", "first", "last", "prev"}
    assert rels[1]["next"] == f"{sim.url}{VMS}?$page=2&$limit=50"
    assert rels[0]["last"].endswith("$page=2&$limit=50")
    default = call(sim, VMS).json()
    assert len(default["data"]) == 50 and default["metadata"]["links"][0]["href"].endswith(
        "?$page=0&$limit=50")


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc"])
def test_v4_limit_out_of_range_is_a_schema_validation_error(sim, limit):
    answer = call(sim, f"{VMS}?$limit={limit}")
    assert answer.status_code == 400
    body = answer.json()
    assert body["$dataItemDiscriminator"] == "vmm.v4.error.ErrorResponse"
    assert body["data"]["$errorItemDiscriminator"] == "vmm.v4.error.SchemaValidationError"
    error = body["data"]["error"]
    assert error["$objectType"] == "vmm.v4.error.SchemaValidationError"
    assert error["statusCode"] == 400 and error["path"] == VMS
    assert error["validationErrorMessages"][0]["attributePath"] == "$limit"


def test_v4_limit_100_is_accepted(sim):
    assert len(call(sim, f"{VMS}?$limit=100").json()["data"]) == 100


def test_v4_filters(sim, inv):
    vm = inv.vms[17]

    def names(expression: str) -> list[str]:
        answer = call(sim, VMS, params={"$filter": expression, "$limit": 100})
        assert answer.status_code == 200, answer.text
        return [item["name"] for item in answer.json().get("data", [])]

    assert names(f"name eq '{vm.name}'") == [vm.name]
    assert names("startswith(name, 'db-')") == [v.name for v in inv.vms if v.name.startswith("db-")]
    cluster = inv.clusters[1].ext_id
    assert names(f"powerState eq 'OFF' and cluster/extId eq '{cluster}'") == [
        v.name for v in inv.vms if v.power_state == "OFF" and v.cluster_ext_id == cluster]
    cut = sorted(v.create_time for v in inv.vms)[60]
    later = names(f"createTime gt {iso(cut)}")
    assert later == [v.name for v in inv.vms if v.create_time > cut] and len(later) == 59
    assert names(f"createTime lt {iso(cut)} and not (powerState eq 'ON')") == [
        v.name for v in inv.vms if v.create_time < cut and v.power_state != "ON"]


def test_v4_orderby_both_spellings_and_select(sim, inv):
    expected = [v.name for v in sorted(inv.vms, key=lambda v: v.create_time, reverse=True)][:10]
    for param in ("$orderby", "$orderBy"):
        body = call(sim, VMS, params={param: "createTime desc", "$limit": 10}).json()
        assert [i["name"] for i in body["data"]] == expected
    body = call(sim, VMS, params={"$select": "name,powerState", "$limit": 3}).json()
    assert all(set(i) == {"$reserved", "$objectType", "name", "powerState"} for i in body["data"])


@pytest.mark.parametrize("query", [{"$filter": "nosuch eq 1"}, {"$filter": "name eq"},
                                   {"$orderby": "name sideways"}, {"$page": "-2"}])
def test_v4_bad_queries_are_400(sim, query):
    answer = call(sim, VMS, params=query)
    assert answer.status_code == 400
    assert answer.json()["data"]["error"]["statusCode"] == 400


def test_alert_filters_need_monitoring_v42(sim, inv):
    v40 = "/api/monitoring/v4.0/serviceability/alerts"
    v42 = "/api/monitoring/v4.2/serviceability/alerts"
    assert call(sim, v40).json()["metadata"]["totalAvailableResults"] == len(inv.alerts)
    assert call(sim, v40, params={"$filter": "severity eq 'CRITICAL'"}).status_code == 400
    cut = sorted(a.creation_time for a in inv.alerts)[5]
    body = call(sim, v42, params={"$filter": f"creationTime gt {iso(cut)}",
                                  "$orderBy": "creationTime asc"}).json()
    times = [item["creationTime"] for item in body["data"]]
    assert times == sorted(times) and len(times) == len(inv.alerts) - 6


def test_v4_hosts_of_a_cluster_and_of_prism_central(sim, inv):
    cluster = inv.clusters[0]
    body = call(sim, f"/api/clustermgmt/v4.0/config/clusters/{cluster.ext_id}/hosts").json()
    assert {h["extId"] for h in body["data"]} == set(cluster.host_ext_ids)
    assert all(h["cluster"]["uuid"] == cluster.ext_id for h in body["data"])
    pc = call(sim, f"/api/clustermgmt/v4.0/config/clusters/{inv.prism_central.ext_id}/hosts")
    assert pc.status_code == 404


# -- stats ----------------------------------------------------------------------

def hand_value(ext_id: str, metric: str, t: int | None, lo: int, hi: int) -> int:
    key = f"{ext_id}|{metric}" if t is None else f"{ext_id}|{metric}|{t}"
    u = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return lo + math.floor((hi - lo) * u)


def test_vm_stats_follow_the_documented_formula(sim, inv):
    vm = next(v for v in inv.vms if v.power_state == "ON")
    end = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    params = {"$startTime": iso(end - timedelta(minutes=4)), "$endTime": iso(end),
              "$samplingInterval": "120", "$statType": "AVG", "$select": "*"}
    answer = call(sim, f"/api/vmm/v4.0/ahv/stats/vms/{vm.ext_id}", params=params)
    body = answer.json()
    assert shape_problems(body, fixture("v4-vm-stats.json"), skip=frozenset({
        "$.data.stats[].controllerAvgReadIoSizeKb"})) == []
    samples = [t for t in body["data"]["stats"] if "hypervisorCpuUsagePpm" in t]
    assert [t["timestamp"] for t in samples] == [iso(end - timedelta(minutes=m)) for m in (4, 2, 0)]
    for tup in samples:
        bucket = int(datetime.fromisoformat(tup["timestamp"].replace("Z", "+00:00")).timestamp())
        points = [hand_value(vm.ext_id, "hypervisorCpuUsagePpm", t, 10_000, 900_000)
                  for t in (bucket - 90, bucket - 60, bucket - 30, bucket)]
        assert tup["hypervisorCpuUsagePpm"] == (2 * sum(points) + 4) // 8  # mean, half up
        assert tup["diskCapacityBytes"] == sum(d.size_bytes for d in vm.data_disks)
    again = call(sim, f"/api/vmm/v4.0/ahv/stats/vms/{vm.ext_id}", params=params).json()
    assert again == body
    assert all("$objectType" in flag for flag in body["metadata"]["flags"])
    assert "$objectType" not in body["data"]["stats"][1]  # elided after the first tuple


@pytest.mark.parametrize("stat_type", ["MIN", "MAX", "SUM", "COUNT", "LAST"])
def test_stat_types_aggregate_the_base_points(sim, inv, stat_type):
    cluster = inv.clusters[0]
    end = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    body = call(sim, f"/api/clustermgmt/v4.0/stats/clusters/{cluster.ext_id}", params={
        "$startTime": iso(end - timedelta(minutes=2)), "$endTime": iso(end),
        "$samplingInterval": "120", "$statType": stat_type}).json()
    series = body["data"]["controllerNumIops"]
    assert [p["timestamp"] for p in series] == [iso(end), iso(end - timedelta(minutes=2))]
    bucket = int(end.timestamp())
    points = [stats.sample(sim.inventory, cluster, "controllerNumIops", t)
              for t in range(bucket - 90, bucket + 1, 30)]
    expected = {"MIN": min(points), "MAX": max(points), "SUM": sum(points), "COUNT": 4,
                "LAST": points[-1]}[stat_type]
    assert series[0]["value"] == expected


def test_cluster_and_host_stats_have_the_recorded_shape(sim, inv):
    cluster, end = inv.clusters[0], datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    params = {"$startTime": iso(end - timedelta(minutes=2)), "$endTime": iso(end),
              "$samplingInterval": "120", "$statType": "AVG"}
    body = call(sim, f"/api/clustermgmt/v4.0/stats/clusters/{cluster.ext_id}",
                params=params).json()
    assert shape_problems(body, fixture("v4-cluster-stats.json")) == []
    host = inv.find("hosts", cluster.host_ext_ids[0])
    path = f"/api/clustermgmt/v4.0/stats/clusters/{cluster.ext_id}/hosts/{host.ext_id}"
    body = call(sim, path, params=params).json()
    assert shape_problems(body, fixture("v4-host-stats.json")) == []
    assert body["data"]["memoryCapacityBytes"][0]["value"] == host.memory_bytes
    assert len(body["data"]["cpuCapacityHz"]) == 1
    missing = call(sim, path, params={"$endTime": iso(end)})
    assert missing.status_code == 400
    assert missing.json()["data"]["error"]["validationErrorMessages"][0]["attributePath"] == \
        "$startTime"


# -- v3 -----------------------------------------------------------------------------

V3_SHAPES = [
    ("v3-vms-list.json", "vms", {"filter": "power_state==off", "sort_attribute": "name",
                                 "sort_order": "ASCENDING", "offset": 0, "length": 1},
     {"$.entities[].status.description", "$.entities[].spec.description"}),
    ("v3-clusters-list.json", "clusters", {},
     {"$.entities[].status.resources.config.ssl_key",  # not simulated
      "$.entities[].status.resources.config.authorized_public_key_list",
      "$.entities[].spec.resources.config.authorized_public_key_list"}),
    ("v3-subnets-list.json", "subnets", {"offset": 0, "length": 15},
     {"$.entities[].status.resources.ip_usage_stats"}),
    ("v3-hosts-list.json", "hosts", {"length": 6, "offset": 0, "sort_attribute": "",
                                     "sort_order": ""},
     {"$.entities[].spec.resources.controller_vm.oplog_usage",  # blanked to "" in the sample
      "$.entities[].status.resources.controller_vm.oplog_usage"}),
    ("v3-images-list.json", "images", {"filter": "image_type==DISK_IMAGE", "length": 2,
                                       "offset": 0}, set()),
    ("v3-categories-list.json", "categories", {"filter": "", "length": 2, "offset": 0}, set()),
]


@pytest.mark.parametrize(("name", "kind", "body", "skip"), V3_SHAPES,
                         ids=[s[0] for s in V3_SHAPES])
def test_v3_lists_have_the_recorded_shape(sim, name, kind, body, skip):
    answer = v3_list(sim, kind, body)
    assert answer.status_code == 200
    result, expected = answer.json(), fixture(name)
    assert shape_problems(result, expected, skip=frozenset(skip)) == []
    assert set(result["metadata"]) == set(expected["metadata"])


def test_v3_gets_have_the_recorded_shape(sim, inv):
    vm = next(v for v in inv.vms if v.power_state == "OFF" and v.description is None)
    body = call(sim, f"{V3}/vms/{vm.ext_id}").json()
    assert shape_problems(body, fixture("v3-vm-get.json"), skip=frozenset({
        "$.spec.description", "$.status.description"})) == []
    listed = v3_list(sim, "vms", {"filter": f"uuid=={vm.ext_id}"}).json()["entities"][0]
    assert body == {"api_version": "3.1", **listed}
    cluster = call(sim, f"{V3}/clusters/{inv.clusters[0].ext_id}").json()
    assert shape_problems(cluster, fixture("v3-cluster-get.json"), skip=frozenset({
        "$.spec.resources.config.authorized_public_key_list", "$.status.resources.config.ssl_key",
        "$.status.resources.config.authorized_public_key_list"})) == []
    project = call(sim, f"{V3}/projects/{inv.projects[1].ext_id}").json()
    assert shape_problems(project, fixture("v3-project-get.json")) == []
    pc = call(sim, f"{V3}/prism_central").json()
    assert shape_problems(pc, fixture("v3-prism-central-get.json"), skip=frozenset({
        "$.resources.cmsp_config"})) == []
    assert pc["resources"]["version"] == "pc.2024.3.1.1"
    assert pc["resources"]["cluster_uuid"] == inv.prism_central.ext_id
    me = call(sim, f"{V3}/users/me")
    assert me.status_code == 200 and me.json()["status"]["name"] == "admin"
    missing = call(sim, f"{V3}/vms/00000000-1111-2222-3333-444444444444")
    assert missing.status_code == 404
    assert set(missing.json()) == set(fixture("v3-error-403.json"))
    assert missing.json()["message_list"][0]["reason"] == "ENTITY_NOT_FOUND"


def test_v3_paging_filters_sort_and_echo(sim, inv):
    total = len(inv.vms)
    pages = [v3_list(sim, "vms", {"kind": "vm", "offset": o, "length": 50}).json()
             for o in (0, 50, 100, 150)]
    assert [len(p["entities"]) for p in pages] == [50, 50, total - 100, 0]
    assert pages[0]["metadata"] == {"kind": "vm", "offset": 0, "length": 50,
                                    "total_matches": total}
    ids = [e["metadata"]["uuid"] for p in pages for e in p["entities"]]
    assert ids == [vm.ext_id for vm in inv.vms]
    bare = v3_list(sim, "clusters").json()
    assert bare["metadata"] == {"kind": "cluster", "total_matches": 3}
    services = [e["status"]["resources"]["config"]["service_list"] for e in bare["entities"]]
    assert services[-1] == ["PRISM_CENTRAL"] and services[0] == ["AOS"]
    cluster = inv.clusters[0]
    body = {"filter": f"power_state==on;cluster_name=={cluster.name}", "sort_attribute": "name",
            "sort_order": "DESCENDING", "length": 500}
    result = v3_list(sim, "vms", body).json()
    expected = sorted((v.name for v in inv.vms if v.power_state == "ON"
                       and v.cluster_ext_id == cluster.ext_id), reverse=True)
    assert [e["status"]["name"] for e in result["entities"]] == expected
    assert result["metadata"]["filter"] == body["filter"]
    assert result["metadata"]["sort_order"] == "DESCENDING"
    either = v3_list(sim, "vms", {"filter": "vm_name==web-00000,vm_name==db-00002"}).json()
    assert sorted(e["status"]["name"] for e in either["entities"]) == ["db-00002", "web-00000"]
    regex = v3_list(sim, "vms", {"filter": "vm_name==web-.*", "length": 500}).json()
    assert regex["metadata"]["total_matches"] == sum(v.name.startswith("web-") for v in inv.vms)


def test_v3_length_above_500_is_served_as_500():
    inv = Inventory.generate(vms=600, seed=2)
    with Simulator(inv, tls=False) as small:
        body = v3_list(small, "vms", {"length": 800}).json()
        assert len(body["entities"]) == 500 and body["metadata"]["length"] == 500
        assert body["metadata"]["total_matches"] == 600


@pytest.mark.parametrize("body", [{"length": 0}, {"offset": -1}, {"filter": "nosuch==1"},
                                  {"length": "ten"}])
def test_v3_invalid_list_bodies_are_422(sim, body):
    answer = v3_list(sim, "vms", body)
    assert answer.status_code == 422
    assert set(answer.json()) == set(fixture("v3-error-422.json"))
    assert answer.json()["message_list"][0]["reason"] == "INVALID_REQUEST"


def test_v3_category_keys_and_values(sim, inv):
    keys = v3_list(sim, "categories", {"length": 50}).json()
    assert keys["metadata"]["kind"] == "category_key"
    names = [e["name"] for e in keys["entities"]]
    assert names == list(dict.fromkeys(c.key for c in inv.categories))
    values = call(sim, f"{V3}/categories/{names[0]}/list", "POST", json={}).json()
    assert [e["value"] for e in values["entities"]] == [
        c.value for c in inv.categories if c.key == names[0]]


def test_v3_and_v4_show_the_same_values(sim, inv):
    v4_items = {i["extId"]: i for i in call(sim, VMS + "?$limit=100").json()["data"]}
    v3_items = {e["metadata"]["uuid"]: e
                for e in v3_list(sim, "vms", {"length": 100}).json()["entities"]}
    categories = {c.ext_id: (c.key, c.value) for c in inv.categories}
    assert set(v4_items) == set(v3_items)
    for ext_id, item in v4_items.items():
        entity = v3_items[ext_id]
        status, res = entity["status"], entity["status"]["resources"]
        assert item["name"] == status["name"]
        assert item["memorySizeBytes"] == res["memory_size_mib"] * 2**20
        assert (item["numSockets"], item["numCoresPerSocket"]) == (
            res["num_sockets"], res["num_vcpus_per_socket"])
        assert item["createTime"] == entity["metadata"]["creation_time"]
        assert item["cluster"]["extId"] == status["cluster_reference"]["uuid"]
        assert item.get("host", {}).get("extId") == res.get("host_reference", {}).get("uuid")
        v4_disks = sorted((d["extId"], d["backingInfo"]["diskSizeBytes"])
                          for d in item.get("disks", []))
        v3_disks = sorted((d["uuid"], d["disk_size_bytes"]) for d in res["disk_list"]
                          if d["device_properties"]["device_type"] == "DISK")
        assert v4_disks == v3_disks
        assert [n["extId"] for n in item.get("nics", [])] == [n["uuid"] for n in res["nic_list"]]
        assert sorted(categories[c["extId"]] for c in item.get("categories", [])) == sorted(
            entity["metadata"]["categories"].items())


# -- auth, sessions, headers ------------------------------------------------------------

def test_wrong_credentials_get_each_familys_401(sim):
    v4 = call(sim, VMS, auth=("admin", "wrong"))
    assert v4.status_code == 401
    error = v4.json()["data"]["error"][0]
    assert error["errorGroup"] == "AUTHENTICATION_REQUIRED"
    assert v4.json()["$dataItemDiscriminator"] == "vmm.v4.error.ErrorResponse"
    v3 = v3_list(sim, "vms", auth=None)
    assert v3.status_code == 401 and v3.json() == fixture("v3-error-401.json")
    assert "Set-Cookie" not in v3.headers


def test_api_key_auth_and_empty_key_header(plain):
    ok = call(plain, VMS, auth=None, headers={"X-ntnx-api-key": "k-123"})
    assert ok.status_code == 200
    assert call(plain, VMS, auth=None, headers={"X-ntnx-api-key": "nope"}).status_code == 401
    assert call(plain, VMS, headers={"X-Ntnx-Api-Key": ""}).status_code == 200  # MIQ style
    assert call(plain, VMS, auth=None, headers={"X-Ntnx-Api-Key": ""}).status_code == 401


def test_session_cookies_are_set_and_accepted_alone(sim):
    sim.reset_counters()
    first = call(sim, VMS)
    cookies = first.headers["Set-Cookie"]
    for name in ("NTNX_IAM_SESSION", "NTNX_MERCURY_IAM_SESSION", "NTNX_MERCURY_IAM_REFRESH_TOKEN"):
        assert first.cookies.get(name)
    assert "Path=/;Secure;HttpOnly;SameSite=Lax" in cookies
    expires = datetime.strptime(cookies.split("Expires=")[1].split(";")[0],
                                "%a, %d-%b-%Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    session = requests.Session()
    session.cookies.update(first.cookies)
    for _ in range(3):
        assert session.get(sim.url + VMS, verify=sim.ca_path, timeout=10).status_code == 200
    assert sim.counters["logins"] == 1
    bogus = requests.get(sim.url + VMS, verify=sim.ca_path, timeout=10,
                         cookies={"NTNX_IAM_SESSION": "forged"})
    assert bogus.status_code == 401


@pytest.mark.parametrize("path", [VMS, VMS + "/nope", "/api/vmm/v4.9/x", f"{V3}/users/me",
                                  "/console"])
def test_every_answer_carries_the_pc_headers(sim, path):
    headers = call(sim, path).headers
    assert headers["Server"] == "envoy" and headers["X-Ntnx-Env"] == "pc"
    assert headers["X-Ntnx-Product"] == "pc.2024.3.1.1"
    assert headers["Cache-Control"] == "no-cache, no-store, max-age=0, must-revalidate"
    for name in ("X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset",
                 "X-Api-Ratelimit-Limit", "X-Api-Ratelimit-Remaining", "X-Api-Ratelimit-Reset",
                 "X-Api-Ratelimit-Refresh-Period-Seconds"):
        assert headers[name].isdigit(), name


# -- faults -----------------------------------------------------------------------------

def test_status_fault_answers_each_familys_envelope_with_retry_after(plain):
    plain.inject(r"/vms", "status", status=503, retry_after=2, times=2)
    v4 = call(plain, VMS)
    assert v4.status_code == 503 and v4.headers["Retry-After"] == "2"
    assert v4.json()["data"]["error"][0]["errorGroup"] == "SERVICE_UNAVAILABLE"
    v3 = v3_list(plain, "vms")
    assert v3.status_code == 503 and v3.json()["state"] == "ERROR" and v3.json()["code"] == 503
    assert call(plain, VMS).status_code == 200  # times=2 used up


def test_throttling_fault_is_a_429(plain):
    plain.inject(r"ahv/config/vms", "status", status=429, retry_after=1)
    answer = call(plain, VMS)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert answer.json()["data"]["error"][0]["errorGroup"] == "RATE_LIMIT_EXCEEDED"


def test_reset_fault_drops_the_connection(plain):
    plain.inject(r"/vms\?", "reset", times=1)
    with pytest.raises(requests.ConnectionError):
        call(plain, VMS + "?$limit=5")
    assert call(plain, VMS + "?$limit=5").status_code == 200


def test_truncated_fault_cuts_the_body(plain):
    plain.inject(r"/vms", "truncated", times=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        call(plain, VMS)
    assert call(plain, VMS).json()["data"]


def test_invalid_json_fault(plain):
    plain.inject(r"/vms", "invalid_json", times=1)
    answer = call(plain, VMS)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()


def test_latency_fault_and_global_latency_still_answer(plain):
    plain.inject(r"/vms", "latency", delay_s=0.05, times=1)
    plain.set_latency(0.01)
    assert call(plain, VMS).status_code == 200
    assert plain.faults._faults[0].fired == 1


def test_expired_auth_forces_a_new_login(plain):
    session = requests.Session()
    session.auth = AUTH
    assert session.get(plain.url + VMS, timeout=10).status_code == 200
    cookie_only = requests.Session()
    cookie_only.cookies.update(session.cookies)
    plain.inject(r"/vms", "expired_auth", times=1)
    plain.reset_counters()
    assert cookie_only.get(plain.url + VMS, timeout=10).status_code == 401
    assert cookie_only.get(plain.url + VMS, timeout=10).status_code == 401  # session is gone
    assert plain.counters["logins"] == 0
    relogin = requests.get(plain.url + VMS, auth=AUTH, timeout=10)
    assert relogin.status_code == 200 and plain.counters["logins"] == 1


def test_unknown_fault_kind_is_rejected(plain):
    with pytest.raises(ValueError):
        plain.inject("x", "explode")


# -- rate limits --------------------------------------------------------------------------

def test_per_api_budget_answers_429_with_headers(plain):
    clock = [1000.25]
    plain.set_rate_limits(RateLimits(global_per_s=30, per_api={"vmm.vms.list": 2}))
    plain.limiter.clock = lambda: clock[0]
    plain.reset_counters()
    try:
        answers = [call(plain, VMS) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].headers["X-Api-Ratelimit-Limit"] == "2"
        assert answers[1].headers["X-Api-Ratelimit-Remaining"] == "0"
        assert answers[1].headers["X-Ratelimit-Limit"] == "30"
        assert answers[1].headers["X-Ratelimit-Remaining"] == "28"
        assert answers[2].headers["Retry-After"] == "1"
        assert answers[2].json()["data"]["error"][0]["errorGroup"] == "RATE_LIMIT_EXCEEDED"
        assert call(plain, f"{VMS}/{plain.inventory.vms[0].ext_id}").status_code == 200
        assert plain.counters["throttled"] == 1 and plain.counters["status"][429] == 1
        clock[0] = 1001.1  # the next window
        assert call(plain, VMS).status_code == 200
    finally:
        plain.limiter.clock = time.monotonic


def test_global_budget_throttles_v3_with_the_v3_envelope(plain):
    plain.set_rate_limits(RateLimits(global_per_s=1 / 3600, refresh_period_s=3600))
    plain.limiter.clock = lambda: 7200.5
    try:
        assert v3_list(plain, "vms").status_code == 200
        throttled = v3_list(plain, "vms")
        assert throttled.status_code == 429 and throttled.json()["state"] == "ERROR"
        assert int(throttled.headers["Retry-After"]) == 3600
        assert throttled.headers["X-Api-Ratelimit-Refresh-Period-Seconds"] == "3600"
    finally:
        plain.limiter.clock = time.monotonic


def test_recorded_rate_limits():
    limits = RateLimits.recorded()
    assert limits.global_per_s == 30 and limits.refresh_period_s == 1
    assert limits.per_api == {"vmm.vms.list": 2, "vmm.vms.get": 10}


# -- TLS, modes, counters, alerts, webhooks, CLI ---------------------------------------------

def test_tls_is_verified_with_the_generated_ca(sim):
    assert sim.url.startswith("https://127.0.0.1:")
    assert Path(sim.ca_path).read_text() == sim.ca_pem and "BEGIN CERTIFICATE" in sim.ca_pem
    assert requests.get(sim.url + "/console", verify=sim.ca_path, timeout=10).ok
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sim.url + "/console", verify=True, timeout=10)


def test_v3_only_and_v4_only_modes():
    inv = Inventory.generate(vms=5, seed=5)
    with Simulator(inv, tls=False, serve_v4=False, version="pc.2023.4") as old:
        assert v3_list(old, "vms").status_code == 200
        gone = call(old, VMS)
        assert gone.status_code == 404 and gone.json() == fixture(
            "v4-error-404-unknown-version.json")
        assert call(old, "/api/vmm/unversioned/info", "OPTIONS").status_code == 404
        assert call(old, "/console").headers["X-Ntnx-Product"] == "pc.2023.4"
    with Simulator(inv, tls=False, serve_v3=False, version="pc.7.3",
                   v4_versions={"vmm": "v4.1", "clustermgmt": "v4.0"}) as new:
        assert v3_list(new, "vms").status_code == 404
        body = call(new, "/api/vmm/v4.1/ahv/config/vms").json()
        assert body["$reserved"] == {"$fv": "v4.r1"}
        assert call(new, "/api/networking/v4.0/config/subnets").status_code == 404


def test_counters_count_requests_routes_statuses_and_concurrency(plain):
    plain.reset_counters()
    plain.set_latency(0.2)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: call(plain, VMS).status_code, range(4)))
    plain.set_latency(0)
    call(plain, "/api/vmm/v4.0/ahv/config/vms/nope")
    v3_list(plain, "hosts")
    counters = plain.counters
    assert statuses == [200] * 4
    assert counters["requests"] == 6 and counters["status"] == {200: 5, 404: 1}
    assert counters["by_route"] == {"GET vmm/vms": 4, "GET vmm/vms/{extId}": 1,
                                    "POST v3/hosts/list": 1}
    assert counters["logins"] == 6 and counters["throttled"] == 0
    assert counters["max_in_flight"] >= 2


def test_raise_alert_appears_in_the_alert_list(plain):
    before = datetime.now(UTC) - timedelta(seconds=1)
    alert = plain.raise_alert(severity="CRITICAL", entity_type="vm")
    assert alert["$objectType"] == "monitoring.v4.serviceability.Alert"
    assert alert["severity"] == "CRITICAL" and alert["isResolved"] is False
    assert alert["sourceEntity"]["type"] == "vm"
    body = call(plain, "/api/monitoring/v4.2/serviceability/alerts",
                params={"$filter": f"creationTime gt {iso(before)}"}).json()
    assert [a["extId"] for a in body["data"]] == [alert["extId"]]
    assert body["data"][0] == alert


def test_webhook_vm_event_and_post_webhook(plain):
    received: list = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((json.loads(self.rfile.read(length)), self.headers["X-Test"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        vm = next(v for v in plain.inventory.vms if v.power_state == "ON")
        body = plain.webhook_vm_event(vm.ext_id, "VM.ON")
        assert shape_problems(body, fixture("webhook-vm-event.json")) == []
        assert body["data"]["metadata"]["status"]["resources"]["host_reference"]["uuid"] == \
            vm.host_ext_id
        url = f"http://127.0.0.1:{server.server_address[1]}/listener/callback"
        assert plain.post_webhook(url, body, {"X-Test": "yes"}) == 204
        assert received == [(body, "yes")]
    finally:
        server.shutdown()
        server.server_close()


def test_prewarm_serves_the_same_bytes(plain):
    cold = call(plain, VMS).content
    plain.refresh()
    plain.prewarm()
    assert len(plain.v4.cache) >= len(plain.inventory.vms)
    assert call(plain, VMS).content == cold


def test_cli_prints_its_url_and_serves_until_sigterm():
    from tests.processes import start_simulator

    proc = start_simulator(["--tls", "--vms", "7", "--clusters", "1", "--rate-limits",
                            "recorded"], timeout_s=60)
    try:
        assert proc.info["url"].startswith("https://127.0.0.1:") and proc.info["vms"] == 7
        answer = requests.get(proc.info["url"] + VMS, auth=AUTH, verify=proc.info["ca_path"],
                              timeout=10)
        assert answer.status_code == 200 and answer.headers["X-Api-Ratelimit-Limit"] == "2"
        assert answer.json()["metadata"]["totalAvailableResults"] == 7
    finally:
        proc.process.terminate()
        assert proc.process.wait(timeout=10) == 0
