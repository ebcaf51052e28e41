"""Account sync end to end: gRPC AccountCollector -> plugin -> collect -> simulator.

Both modes (clusters by default, projects by option), with and without the
per-account secret, checked field by field against the simulator's inventory.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from spaceone.api.identity.plugin import account_collector_pb2, account_collector_pb2_grpc

from shared import accounts
from shared.prism.models import Cluster, Project
from tests.processes import collect_behind_plugin
from tests.simulator import Inventory, Simulator

USERNAME, PASSWORD = "accounts-admin", "Accounts/Secret-17"


@pytest.fixture(scope="module")
def inventory():
    return Inventory.generate(clusters=3, hosts_per_cluster=1, vms=4, projects=4, seed=3)


@pytest.fixture(scope="module")
def sim(inventory):
    with Simulator(inventory, username=USERNAME, password=PASSWORD, tls=True) as started:
        yield started


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from collect_behind_plugin("account", tmp_path_factory)


def secret_for(sim, **override) -> dict:
    return {"host": sim.host, "port": sim.port, "username": USERNAME, "password": PASSWORD,
            "ca_pem": sim.ca_pem, **override}


def sync(channel, secret: dict, options: dict | None = None) -> list[dict]:
    request = json_format.ParseDict({"options": options or {}, "secret_data": secret,
                                     "domain_id": "domain-1"},
                                    account_collector_pb2.SyncRequest())
    reply = account_collector_pb2_grpc.AccountCollectorStub(channel).sync(request)
    return json_format.MessageToDict(reply, preserving_proto_field_name=True).get("results", [])


def test_reflection_shows_exactly_the_account_collector(stack):
    channel, *_ = stack
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(stub.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answer.list_services_response.service}
    assert "spaceone.api.identity.plugin.AccountCollector" in names
    assert not any(".inventory." in n or ".monitoring." in n for n in names)


def test_init_publishes_the_options_form(stack):
    channel, *_ = stack
    stub = account_collector_pb2_grpc.AccountCollectorStub(channel)
    info = stub.init(account_collector_pb2.InitRequest(domain_id="domain-1"))
    metadata = json_format.MessageToDict(info.metadata)
    assert metadata["options_schema"]["properties"]["account_by"]["enum"] == [
        "cluster", "project"]
    assert metadata["additional_options_schema"] == metadata["options_schema"]
    bad = json_format.ParseDict({"options": {"account_by": "planet"}},
                                account_collector_pb2.InitRequest())
    with pytest.raises(grpc.RpcError) as caught:
        stub.init(bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_clusters_are_the_accounts_by_default(stack, sim, inventory):
    channel, *_ = stack
    results = sync(channel, secret_for(sim))
    pc = inventory.prism_central
    assert sorted(r["resource_id"] for r in results) == sorted(
        c.ext_id for c in inventory.aos_clusters)  # the PC pseudo-cluster is not an account
    for account in results:
        cluster = inventory.find("clusters", account["resource_id"])
        assert account["name"] == cluster.name
        assert account["location"] == [{"name": pc.name, "resource_id": pc.ext_id}]
        assert account["data"] == {
            "prism_central": sim.host, "prism_central_ext_id": pc.ext_id,
            "account_by": "cluster", "ext_id": cluster.ext_id,
            "aos_version": cluster.version, "external_ip": cluster.external_ip}
        assert account["tags"] == {"prism_central": pc.name, "account_by": "cluster"}
        assert "secret_data" not in account
        assert "secret_schema_id" not in account


def test_projects_are_the_accounts_by_option(stack, sim, inventory):
    channel, *_ = stack
    results = sync(channel, secret_for(sim), {"account_by": "project",
                                              "skip_project_group": True})  # a sync option
    assert sorted((r["name"], r["resource_id"]) for r in results) == sorted(
        (p.name, p.ext_id) for p in inventory.projects)
    default = next(r for r in results if r["name"] == "default")
    assert default["data"]["is_default"] is True
    assert default["data"]["account_by"] == "project"
    other = next(r for r in results if r["name"] == "project-01")
    assert other["data"]["description"] == "Project 1"
    assert other["location"][0]["resource_id"] == inventory.prism_central.ext_id


@pytest.mark.parametrize("account_by", ["cluster", "project"])
def test_include_secret_gives_each_account_the_prism_secret(stack, sim, account_by):
    channel, collect, _ = stack
    secret = secret_for(sim)
    results = sync(channel, secret, {"account_by": account_by, "include_secret": True,
                                     "secret_schema_id": "nutanix-trusting"})
    assert results
    as_struct = {k: float(v) if isinstance(v, int) else v for k, v in secret.items()}
    for account in results:
        assert account["secret_schema_id"] == "nutanix-trusting"
        assert account["secret_data"] == as_struct  # Struct numbers are floats
    assert PASSWORD not in collect.log_text()  # the reply never carried it
    again = sync(channel, results[0]["secret_data"], {"account_by": account_by})
    assert {r["resource_id"] for r in again} == {r["resource_id"] for r in results}


def test_include_secret_defaults_to_the_trusting_schema(stack, sim):
    channel, *_ = stack
    results = sync(channel, secret_for(sim), {"include_secret": True})
    assert {r["secret_schema_id"] for r in results} == {accounts.TRUSTING_SCHEMA_ID}


def test_wrong_password_is_unauthenticated_and_never_logged(stack, sim):
    channel, collect, plugin = stack
    with pytest.raises(grpc.RpcError) as caught:
        sync(channel, secret_for(sim, password="Wrong-Password-99"))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for text in (collect.log_text(), plugin.log_text()):
        assert PASSWORD not in text
        assert "Wrong-Password-99" not in text


def test_bad_options_are_refused_before_prism(stack, sim):
    channel, *_ = stack
    sim.reset_counters()
    with pytest.raises(grpc.RpcError) as caught:
        sync(channel, secret_for(sim), {"include_secret": "yes"})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sim.counters["requests"] == 0


def test_to_account_names_the_secret_schema_only_when_asked():
    pc = {"address": "pc.example", "name": "pc-1", "ext_id": "pc-uuid"}
    opts = {"include_secret": False, "secret_schema_id": "x"}
    cluster = accounts.to_account(Cluster(ext_id="c-1", name="", version=None), pc, opts)
    assert cluster["name"] == "c-1"  # a nameless cluster is still an account
    assert cluster["data"]["aos_version"] == ""
    project = accounts.to_account(Project(ext_id="p-1", name="Finance"), pc,
                                  {**opts, "include_secret": True})
    assert project["secret_schema_id"] == "x"
    assert "secret_data" not in project and "secret_data" not in cluster
    assert project["location"] == [{"name": "pc-1", "resource_id": "pc-uuid"}]
