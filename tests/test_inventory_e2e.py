"""Inventory end to end: gRPC stub -> plugin endpoint -> collect function -> simulator.

Every process is real: the plugin endpoint (`python -m functions.plugin`,
family inventory), the collect function under functions-framework, the
Prism Central simulator over HTTPS with its generated CA, and for the
claim-check a moto S3 server. The tests go in by CloudForet's door (the
spaceone-api stubs) and look at what streams out.
"""

from __future__ import annotations

import json
from collections import Counter

import grpc
import pytest
from google.protobuf import empty_pb2, json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from spaceone.api.inventory.plugin import (
    collector_pb2,
    collector_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)

from tests.conftest import PRISM_PASSWORD, PRISM_USERNAME
from tests.processes import collect_behind_plugin, start_function, start_plugin
from tests.test_state import BUCKET, CREDENTIALS, start_moto

TYPES = {"clusters": "Cluster", "hosts": "Host", "vms": "VirtualMachine", "subnets": "Subnet",
         "images": "Image", "volume_groups": "VolumeGroup", "projects": "Project"}


def secret_for(sim, **override) -> dict:
    return {"host": sim.host, "port": sim.port, "username": PRISM_USERNAME,
            "password": PRISM_PASSWORD, "ca_pem": sim.ca_pem, **override}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from collect_behind_plugin("inventory", tmp_path_factory)


def run_collect(channel, secret: dict, options: dict | None = None,
                task_options: dict | None = None) -> list[dict]:
    request = {"options": options or {}, "secret_data": secret}
    if task_options is not None:
        request["task_options"] = task_options
    stub = collector_pb2_grpc.CollectorStub(channel)
    stream = stub.collect(json_format.ParseDict(request, collector_pb2.CollectRequest()))
    return [json_format.MessageToDict(item, preserving_proto_field_name=True)
            for item in stream]


def by_type(resources: list[dict]) -> Counter:
    return Counter(r["resource"].get("cloud_service_type") for r in resources
                   if r["resource_type"] == "inventory.CloudService")


def expected_counts(inv) -> dict:
    return {"Cluster": len(inv.clusters), "Host": len(inv.hosts), "VirtualMachine": len(inv.vms),
            "Subnet": len(inv.subnets), "Image": len(inv.images),
            "VolumeGroup": len(inv.volume_groups), "Project": len(inv.projects)}


def assert_cloudforet_shape(item: dict) -> None:
    """What CloudForet's inventory service needs of every streamed message."""
    if item["resource_type"] == "inventory.ErrorResource":
        assert item["state"] == "FAILURE"
        assert item["message"]
        return
    assert item["state"] == "SUCCESS"
    resource = item["resource"]
    for paths in item["match_rules"].values():
        for path in paths:
            value = resource
            for part in path.split("."):
                value = value[part]
            assert value not in (None, "", [], {}), path
    if item["resource_type"] in ("inventory.CloudService", "inventory.CloudServiceType"):
        assert isinstance(json.loads(resource["json_metadata"]), dict)
    if item["resource_type"] == "inventory.CloudService":
        assert isinstance(json.loads(resource["json_data"]), dict)
        assert resource["provider"] == "nutanix"


def test_reflection_and_health_show_exactly_the_inventory_family(stack):
    channel, *_ = stack
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(stub.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answer.list_services_response.service}
    assert {"spaceone.api.inventory.plugin.Collector",
            "spaceone.api.inventory.plugin.Job"} <= names
    assert not any(".cost_analysis." in n or ".monitoring." in n for n in names)
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_init_publishes_metadata_with_the_options_schema(stack):
    channel, *_ = stack
    info = collector_pb2_grpc.CollectorStub(channel).init(collector_pb2.InitRequest())
    metadata = json_format.MessageToDict(info.metadata)
    assert "inventory.CloudService" in metadata["supported_resource_type"]
    assert metadata["options_schema"]["properties"]["kinds"]["type"] == "array"


def test_init_with_bad_options_is_invalid_argument(stack):
    channel, *_ = stack
    request = json_format.ParseDict({"options": {"region_by": "planet"}},
                                    collector_pb2.InitRequest())
    with pytest.raises(grpc.RpcError) as err:
        collector_pb2_grpc.CollectorStub(channel).init(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("ERROR_INVALID_ARGUMENT: ")
    assert "region_by" in err.value.details()


def test_verify_accepts_good_credentials(stack, prism_sim_https):
    channel, *_ = stack
    request = json_format.ParseDict({"options": {}, "secret_data": secret_for(prism_sim_https)},
                                    collector_pb2.VerifyRequest())
    assert collector_pb2_grpc.CollectorStub(channel).verify(request) == empty_pb2.Empty()


def test_verify_refuses_a_wrong_password_without_echoing_it(stack, prism_sim_https):
    channel, collect, plugin = stack
    wrong = "Wr0ng-pa55word!"
    request = json_format.ParseDict(
        {"options": {}, "secret_data": secret_for(prism_sim_https, password=wrong)},
        collector_pb2.VerifyRequest())
    with pytest.raises(grpc.RpcError) as err:
        collector_pb2_grpc.CollectorStub(channel).verify(request)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details().startswith("ERROR_UNAUTHENTICATED: ")
    assert wrong not in err.value.details()
    assert wrong not in collect.log_text() and wrong not in plugin.log_text()


def test_verify_without_host_lists_the_problem(stack):
    channel, *_ = stack
    request = json_format.ParseDict({"options": {}, "secret_data": {"username": "u"}},
                                    collector_pb2.VerifyRequest())
    with pytest.raises(grpc.RpcError) as err:
        collector_pb2_grpc.CollectorStub(channel).verify(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "host" in err.value.details()


def test_get_tasks_splits_vms_from_the_small_kinds(stack):
    channel, *_ = stack
    tasks = job_pb2_grpc.JobStub(channel).get_tasks(job_pb2.GetTaskRequest())
    kinds = [json_format.MessageToDict(t.task_options)["kinds"] for t in tasks.tasks]
    assert kinds[0] == ["vms"]
    assert sorted(k for group in kinds for k in group) == sorted(
        ["vms", "clusters", "hosts", "subnets", "images", "volume_groups", "projects",
         "categories"])


def test_collect_streams_every_entity_of_the_simulator(stack, prism_sim_https,
                                                       prism_inventory):
    channel, *_ = stack
    resources = run_collect(channel, secret_for(prism_sim_https))
    for item in resources:
        assert_cloudforet_shape(item)
    assert not [r for r in resources if r["state"] == "FAILURE"]
    counts = by_type(resources)
    for name, expected in expected_counts(prism_inventory).items():
        assert counts[name] == expected, name
    types = [r for r in resources if r["resource_type"] == "inventory.CloudServiceType"]
    assert {t["resource"]["name"] for t in types} >= set(TYPES.values())
    regions = {r["resource"]["region_code"] for r in resources
               if r["resource_type"] == "inventory.Region"}
    assert regions == {c.ext_id for c in prism_inventory.aos_clusters}
    vm_ids = {r["resource"]["reference"]["resource_id"] for r in resources
              if r["resource"].get("cloud_service_type") == "VirtualMachine"}
    assert vm_ids == {vm.ext_id for vm in prism_inventory.vms}


def test_sub_tasks_from_get_tasks_together_give_the_full_inventory(stack, prism_sim_https,
                                                                   prism_inventory):
    channel, *_ = stack
    tasks = job_pb2_grpc.JobStub(channel).get_tasks(job_pb2.GetTaskRequest())
    resources = []
    for task in tasks.tasks:
        resources += run_collect(channel, secret_for(prism_sim_https),
                                 task_options=json_format.MessageToDict(task.task_options))
    counts = by_type(resources)
    for name, expected in expected_counts(prism_inventory).items():
        assert counts[name] == expected, name


def test_a_failing_kind_gives_one_error_resource_and_the_others_arrive(
        stack, prism_sim_https, prism_inventory):
    channel, *_ = stack
    prism_sim_https.inject(r"volume-groups|volume_groups", "status", status=403)
    try:
        resources = run_collect(channel, secret_for(prism_sim_https))
    finally:
        prism_sim_https.clear_faults()
    errors = [r for r in resources if r["resource_type"] == "inventory.ErrorResource"]
    assert len(errors) == 1
    assert errors[0]["state"] == "FAILURE"
    assert errors[0]["resource"]["cloud_service_type"] == "VolumeGroup"
    counts = by_type(resources)
    assert counts["VolumeGroup"] == 0
    assert counts["VirtualMachine"] == len(prism_inventory.vms)
    assert counts["Host"] == len(prism_inventory.hosts)


def test_a_wrong_password_stops_the_collect(stack, prism_sim_https):
    channel, *_ = stack
    with pytest.raises(grpc.RpcError) as err:
        run_collect(channel, secret_for(prism_sim_https, password="nope-nope"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_small_shards_give_the_same_resources(stack, prism_sim_https, prism_inventory):
    channel, *_ = stack
    resources = run_collect(channel, secret_for(prism_sim_https),
                            options={"shard_size": 100, "api": "v3"},
                            task_options={"kinds": ["vms"]})
    vm_ids = [r["resource"]["reference"]["resource_id"] for r in resources
              if r["resource"].get("cloud_service_type") == "VirtualMachine"]
    assert sorted(vm_ids) == sorted(vm.ext_id for vm in prism_inventory.vms)


def claim_check_resources(sim, env: dict, tmp_path) -> tuple[list[dict], list[str]]:
    """A collect whose every reply is too big to travel inline."""
    env = {**env, "NTNX_REPLY_LIMIT_BYTES": "200"}
    collect = start_function("collect", env, log_dir=tmp_path)
    plugin = start_plugin("inventory", {**env, "NTNX_COLLECT_URL": collect.url},
                          log_dir=tmp_path)
    try:
        with grpc.insecure_channel(plugin.url) as channel:
            resources = run_collect(channel, secret_for(sim))
        return resources, collect.log_text().splitlines()
    finally:
        plugin.stop()
        collect.stop()


def test_claim_check_on_the_local_folder_returns_the_same_resources(
        stack, prism_sim_https, tmp_path):
    channel, *_ = stack
    inline = run_collect(channel, secret_for(prism_sim_https))
    state = tmp_path / "state"
    by_ref, log_lines = claim_check_resources(
        prism_sim_https, {"NTNX_STATE_URL": f"file://{state}"}, tmp_path)
    assert any("by dataref" in line for line in log_lines)
    assert list(state.glob("replies/*/*.json"))
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, by_ref)) == sorted(map(key, inline))


def test_claim_check_on_s3_returns_the_same_resources(stack, prism_sim_https, tmp_path):
    import boto3

    channel, *_ = stack
    inline = run_collect(channel, secret_for(prism_sim_https))
    moto, url = start_moto()
    try:
        boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                     aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
                     ).create_bucket(Bucket=BUCKET)
        env = {**CREDENTIALS, "NTNX_STATE_URL": f"s3://{BUCKET}/nutanix",
               "NTNX_S3_ENDPOINT_URL": url}
        by_ref, log_lines = claim_check_resources(prism_sim_https, env, tmp_path)
        listed = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
                              ).list_objects_v2(Bucket=BUCKET, Prefix="nutanix/replies/")
    finally:
        moto.terminate()
        moto.wait()
    assert listed.get("KeyCount", 0) > 0
    assert any("by dataref" in line for line in log_lines)
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, by_ref)) == sorted(map(key, inline))
