"""Cost end to end: the simulator, the cost function and the gRPC endpoint as real processes.

Snapshots are recorded through the function (as the hourly PingSource
would), on a local folder and on a real S3 API (moto server); then
CloudForet's calls go in through spaceone-api stubs and what comes out is
checked against the simulator's inventory and the rate card by hand.
"""

from __future__ import annotations

import calendar
import gzip
import math
import re
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
import requests
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from spaceone.api.cost_analysis.plugin import (
    cost_pb2,
    cost_pb2_grpc,
    data_source_pb2,
    data_source_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)

from shared import events
from shared.cost import ratecard, snapshots, summary
from shared.cost.run import compute_costs, export_key
from shared.invoke import invoke
from shared.state import open_store
from shared.state.local import LocalStore
from tests.conftest import PRISM_PASSWORD, PRISM_USERNAME
from tests.processes import start_function, start_plugin
from tests.test_state import BUCKET, CREDENTIALS, start_moto

OPTIONS = {"vcpu_hour": 0.01, "memory_gib_hour": 0.005, "storage_gib_month": 0.31,
           "host_month": 744.0, "currency": "EUR"}
NOW = datetime.now(UTC)
MONTH_START = (NOW.date().replace(day=1) - timedelta(days=1)).replace(day=1)  # last month
MONTH = f"{MONTH_START:%Y-%m}"
DIM = calendar.monthrange(MONTH_START.year, MONTH_START.month)[1]
RECORDED = {(5, 0), (5, 8), (5, 16), (6, 12)}  # (day, hour) of last month with a snapshot
UNITS = {"vcpu": "vCPU-Hour", "memory": "GiB-Hour", "storage": "GiB-Day",
         "host_share": "Host-Hour"}


def struct(data: dict) -> Struct:
    value = Struct()
    value.update(data)
    return value


class Stack:
    def __init__(self, sim, store, function, plugin):
        self.sim, self.store, self.function, self.plugin = sim, store, function, plugin
        self.channel = grpc.insecure_channel(plugin.url)
        self.data_source = data_source_pb2_grpc.DataSourceStub(self.channel)
        self.job = job_pb2_grpc.JobStub(self.channel)
        self.cost = cost_pb2_grpc.CostStub(self.channel)
        self.secret = {"host": sim.url, "username": PRISM_USERNAME, "password": PRISM_PASSWORD}

    def record(self, day: int, hour: int) -> dict:
        at = datetime(MONTH_START.year, MONTH_START.month, day, hour, tzinfo=UTC)
        event = events.new_event(events.COST_RECORD, {"secret_data": self.secret,
                                                      "hour": f"{at:%Y-%m-%dT%H}"},
                                 source="/test")
        return invoke(self.function.url, event, timeout_s=60, store=self.store)

    def get_data(self, task_options: dict, options: dict | None = None) -> list:
        request = cost_pb2.GetDataRequest(options=struct(options or OPTIONS),
                                          secret_data=struct(self.secret),
                                          task_options=struct(task_options))
        return list(self.cost.get_data(request, timeout=120))


def _ping(url: str) -> requests.Response:
    """The hourly PingSource tick, exactly as knative/README.md says it arrives."""
    return requests.post(url, data=b"{}", timeout=60, headers={
        "ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping",
        "ce-source": "/apis/v1/namespaces/cloudforet-nutanix/pingsources/nutanix-cost-record",
        "ce-id": "tick-1", "ce-time": f"{NOW:%Y-%m-%dT%H}:07:00.213Z",
        "ce-nutanixtype": events.COST_RECORD, "content-type": "application/json"})


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request, prism_sim_http, tmp_path_factory):
    sim = prism_sim_http
    logs = tmp_path_factory.mktemp("cost-logs")
    port = sim.url.rsplit(":", 1)[1]
    env = {"NTNX_PRISM_HOST": "http://127.0.0.1", "NTNX_PRISM_PORT": port,
           "NTNX_PRISM_USERNAME": PRISM_USERNAME, "NTNX_PRISM_PASSWORD": PRISM_PASSWORD}
    moto = None
    if request.param == "local":
        url = tmp_path_factory.mktemp("cost-state").as_uri()
        store = open_store(url)
    else:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in CREDENTIALS.items():
                mp.setenv(name, value)
            moto, endpoint = start_moto()
            import boto3

            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
                Bucket=BUCKET)
            url = f"s3://{BUCKET}/cost-test"
            store = open_store(url, endpoint_url=endpoint, region="us-east-1")
        env.update(CREDENTIALS, NTNX_S3_ENDPOINT_URL=endpoint)
    env["NTNX_STATE_URL"] = url
    function = start_function("cost", env, log_dir=logs)
    plugin = start_plugin("cost", {**env, "NTNX_COST_URL": function.url}, log_dir=logs)
    built = Stack(sim, store, function, plugin)
    if request.param == "s3":
        with pytest.MonkeyPatch.context() as mp:  # the test process reads S3 too
            for name, value in CREDENTIALS.items():
                mp.setenv(name, value)
            yield from _recorded(built)
    else:
        yield from _recorded(built)
    built.channel.close()
    plugin.stop()
    function.stop()
    if moto is not None:
        moto.terminate()
        moto.wait(timeout=10)


def _recorded(built: Stack):
    for day, hour in sorted(RECORDED):
        assert built.record(day, hour)["vms"] == len(built.sim.inventory.vms)
    assert _ping(built.function.url).status_code == 202  # today's allocation, from env
    yield built


def _cluster(stack, index=0):
    return stack.sim.inventory.aos_clusters[index]


def test_snapshots_land_in_the_store_in_the_documented_layout(stack):
    keys = set(stack.store.list("cost/"))
    # the tick kept this hour's snapshot and compacted last month's into rollups
    assert {k for k in keys if k.startswith("cost/snapshots/")} == {
        f"cost/snapshots/{NOW:%Y-%m-%d}/{NOW:%H}.jsonl.gz"}
    for cluster in stack.sim.inventory.aos_clusters:
        assert f"cost/daily/{MONTH}-05/{cluster.ext_id}.json.gz" in keys
        assert f"cost/daily/{NOW:%Y-%m-%d}/{cluster.ext_id}.json.gz" in keys
    rollup = snapshots.load_rollup(stack.store, date(MONTH_START.year, MONTH_START.month, 5),
                                   _cluster(stack).ext_id)
    assert rollup.hours == 1 << 0 | 1 << 8 | 1 << 16


def test_get_data_streams_daily_costs_for_every_vm_and_day(stack):
    cluster = _cluster(stack)
    messages = stack.get_data({"month": MONTH, "cluster": cluster.ext_id,
                               "cluster_name": cluster.name, "days_per_call": 7})
    results = [r for m in messages for r in m.results]
    inventory = {vm.ext_id: vm for vm in stack.sim.inventory.vms}
    ours = {v for v, vm in inventory.items() if vm.cluster_ext_id == cluster.ext_id}
    recorded_days = {f"{MONTH}-{d:02d}" for d, _ in RECORDED}
    assert results
    for r in results:
        assert re.fullmatch(rf"{MONTH}-\d\d", r.billed_date)
        assert (r.provider, r.region_code, r.product) == ("nutanix", cluster.ext_id,
                                                           "VirtualMachine")
        assert r.usage_unit == UNITS[r.usage_type] and r.resource in ours
        assert r.cost >= 0 and r.usage_quantity > 0
        vm = inventory[r.resource]
        assert r.additional_info["VM Name"] == vm.name
        assert r.tags["Project"] == vm.project_name
        estimated = "Estimated" in r.additional_info
        assert not estimated or r.additional_info["Estimated"] == "true"
        assert estimated == (r.billed_date not in recorded_days)
    # by hand, on a recorded day: every hour of day 5 is covered by 00:00, 08:00, 16:00
    day5 = f"{MONTH}-05"
    for vm in (inventory[v] for v in ours):
        if vm.create_time >= datetime.combine(MONTH_START, datetime.min.time(), UTC):
            continue
        got = {r.usage_type: (r.usage_quantity, r.cost) for r in results
               if r.resource == vm.ext_id and r.billed_date == day5}
        disk_gib = sum(d.size_bytes for d in vm.data_disks) / 2**30
        assert got["storage"] == pytest.approx((disk_gib, disk_gib * 0.31 / DIM))
        if vm.power_state == "ON":
            vcpus = vm.num_sockets * vm.num_cores_per_socket
            assert got["vcpu"] == pytest.approx((vcpus * 24, vcpus * 24 * 0.01))
            mem = vm.memory_bytes / 2**30 * 24
            assert got["memory"] == pytest.approx((mem, mem * 0.005))
        else:
            assert set(got) == {"storage"}
    # each host's 24 hours of day 5 are spread over its running VMs, nothing lost
    old = datetime.combine(MONTH_START, datetime.min.time(), UTC)
    hosts = {vm.host_ext_id for v in ours if (vm := inventory[v]).power_state == "ON"
             and vm.create_time < old}
    shares = Counter()
    for r in results:
        if r.billed_date == day5 and r.usage_type == "host_share":
            shares[inventory[r.resource].host_ext_id] += r.cost
    assert hosts and all(shares[h] == pytest.approx(24 * 744.0 / (DIM * 24)) for h in hosts)


def test_get_data_equals_the_computation_in_process(stack):
    cluster = _cluster(stack, 1)
    results = [r for m in stack.get_data({"month": MONTH, "cluster": cluster.ext_id,
                                          "days_per_call": 31}) for r in m.results]
    days = [MONTH_START.replace(day=d) for d in range(1, DIM + 1)]
    expected = compute_costs(ratecard.parse(OPTIONS), stack.store, cluster.ext_id, days,
                             datetime.now(UTC))
    want = Counter((expected.vms[v][0], expected.days[d], t, round(c, 6))
                   for v, d, t, _, c in expected.iter_rows())
    types = ("vcpu", "memory", "storage", "host_share")
    got = Counter((r.resource, r.billed_date, types.index(r.usage_type), round(r.cost, 6))
                  for r in results)
    assert got == want
    assert {r.billed_date for r in results} == {d.isoformat() for d in days}


def test_get_tasks_sends_every_month_since_start_per_cluster(stack):
    reply = stack.job.get_tasks(job_pb2.GetTasksRequest(
        options=struct(OPTIONS), secret_data=struct(stack.secret), start=f"{MONTH}-15"),
        timeout=60)
    clusters = {c.ext_id for c in stack.sim.inventory.aos_clusters}
    current = f"{NOW:%Y-%m}"
    tasks = [json_format.MessageToDict(t.task_options) for t in reply.tasks]
    assert sorted((t["month"], t["cluster"]) for t in tasks) == sorted(
        (m, c) for m in (MONTH, current) for c in clusters)
    assert all(t["days_per_call"] == 31 for t in tasks)
    changed = [json_format.MessageToDict(c) for c in reply.changed]
    assert sorted(c["filter"]["region_code"] for c in changed) == sorted(clusters)
    assert all((c["start"], c["end"]) == (MONTH, current) for c in changed)


def test_init_verify_and_linked_accounts(stack):
    info = stack.data_source.init(data_source_pb2.InitRequest(options=struct(OPTIONS)),
                                  timeout=10)
    meta = json_format.MessageToDict(info.metadata)
    assert meta["currency"] == "EUR"
    assert meta["options_schema"]["required"] == list(ratecard.REQUIRED_PRICES)
    empty = stack.data_source.init(data_source_pb2.InitRequest(), timeout=10)
    assert json_format.MessageToDict(empty.metadata)["currency"] == "USD"
    stack.data_source.verify(data_source_pb2.PluginVerifyRequest(
        options=struct(OPTIONS), secret_data=struct(stack.secret)), timeout=60)
    accounts = stack.cost.get_linked_accounts(cost_pb2.GetLinkedAccountsRequest(
        options=struct(OPTIONS), secret_data=struct(stack.secret)), timeout=60)
    assert {(a.account_id, a.name) for a in accounts.results} == {
        (c.ext_id, c.name) for c in stack.sim.inventory.aos_clusters}
    projects = stack.cost.get_linked_accounts(cost_pb2.GetLinkedAccountsRequest(
        options=struct({**OPTIONS, "account_by": "project"}),
        secret_data=struct(stack.secret)), timeout=60)
    assert {a.name for a in projects.results} == {p.name for p in stack.sim.inventory.projects}


def test_bad_options_are_invalid_argument_everywhere(stack):
    bad = {**OPTIONS, "vcpu_hour": -1}
    del bad["storage_gib_month"]
    calls = [
        lambda: stack.data_source.init(data_source_pb2.InitRequest(options=struct(bad)),
                                       timeout=10),
        lambda: stack.job.get_tasks(job_pb2.GetTasksRequest(
            options=struct(bad), secret_data=struct(stack.secret)), timeout=60),
        lambda: stack.get_data({"month": MONTH, "cluster": _cluster(stack).ext_id}, bad),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details().startswith("ERROR_INVALID_ARGUMENT: invalid rate card")
        assert "storage_gib_month: is required" in err.value.details()
        assert "vcpu_hour: must be >= 0" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stack.get_data({"cluster": _cluster(stack).ext_id})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_wrong_password_is_unauthenticated_and_never_echoed(stack):
    wrong = {**stack.secret, "password": "not-the-Password-42"}
    with pytest.raises(grpc.RpcError) as err:
        stack.data_source.verify(data_source_pb2.PluginVerifyRequest(
            options=struct(OPTIONS), secret_data=struct(wrong)), timeout=60)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "not-the-Password-42" not in err.value.details()
    for proc in (stack.function, stack.plugin):
        text = proc.log_text()
        assert PRISM_PASSWORD not in text and "not-the-Password-42" not in text


def test_export_writes_a_focus_month_matching_get_data(stack):
    event = events.new_event(events.COST_EXPORT, {"options": OPTIONS, "month": MONTH},
                             source="/test")
    reply = invoke(stack.function.url, event, timeout_s=120, store=stack.store)
    clusters = [c.ext_id for c in stack.sim.inventory.aos_clusters]
    assert sorted(f["key"] for f in reply["files"]) == sorted(export_key(MONTH, c)
                                                               for c in clusters)
    for file in reply["files"]:
        cluster = file["key"].rsplit("/", 1)[1].split(".")[0]
        rows = sum(len(m.results) for m in stack.get_data({"month": MONTH, "cluster": cluster}))
        text = gzip.decompress(stack.store.get(file["key"])).decode()
        assert file["rows"] == rows == len(text.splitlines()) - 1  # the header line
        assert text.startswith("AvailabilityZone,BilledCost,BillingAccountId,")


def test_nothing_stored_carries_a_credential(stack):
    for key in stack.store.list("cost/"):
        raw = stack.store.get(key)
        if key.endswith(".gz"):
            raw = gzip.decompress(raw)
        assert PRISM_PASSWORD.encode() not in raw, key


def test_summary_from_the_stream_equals_the_summary_from_the_store(stack):
    names = {c.ext_id: c.name for c in stack.sim.inventory.aos_clusters}
    streamed = [r for c in names for m in stack.get_data({"month": MONTH, "cluster": c})
                for r in m.results]
    got = summary.from_cost_infos(streamed, currency="EUR", names=names)
    want = summary.month_summary(stack.store, OPTIONS, MONTH)
    assert got == want
    assert [c["name"] for c in want["clusters"]] == sorted(names.values())
    assert want["clusters"][0]["estimated_days"] == DIM - 2  # days 5 and 6 were recorded
    text = summary.render(want)
    assert "cluster-01" in text and f"{want['total']:,.2f}" in text


def test_a_periodic_export_without_export_focus_writes_nothing(stack):
    stack.job.get_tasks(job_pb2.GetTasksRequest(  # saves the rate card periodic runs use
        options=struct(OPTIONS), secret_data=struct(stack.secret)), timeout=60)
    for cluster in stack.sim.inventory.aos_clusters:  # a periodic export: the previous month
        stack.store.delete(export_key(MONTH, cluster.ext_id))
    response = requests.post(stack.function.url, data=b"{}", timeout=60, headers={
        "ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping", "ce-source": "/ping",
        "ce-id": "tick-2", "ce-nutanixtype": events.COST_EXPORT,
        "content-type": "application/json"})
    assert response.status_code == 202  # the rate card saved by get_tasks has no export_focus
    assert not list(stack.store.list(f"cost/exports/focus/{MONTH}/"))


class FlakyProxy:
    """A real HTTP hop to the cost function that answers 503 to its first `fail` requests."""

    def __init__(self, target: str, fail: int) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with proxy.lock:  # the windows arrive in parallel
                    proxy.seen += 1
                    failing = proxy.seen <= fail
                if failing:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                resp = requests.post(target, data=body, headers=dict(self.headers), timeout=60)
                self.send_response(resp.status_code)
                for name, value in resp.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            def log_message(self, *args):
                pass

        self.seen = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_window_that_fails_for_now_is_sent_again(stack, tmp_path):
    if not isinstance(stack.store, LocalStore):
        pytest.skip("one store is enough: this is about the endpoint")
    proxy = FlakyProxy(stack.function.url, fail=2)
    env = {"NTNX_STATE_URL": stack.store.url(""), "NTNX_COST_URL": proxy.url}
    plugin = start_plugin("cost", env, log_dir=tmp_path)
    try:
        with grpc.insecure_channel(plugin.url) as channel:
            request = cost_pb2.GetDataRequest(
                options=struct(OPTIONS), secret_data=struct(stack.secret),
                task_options=struct({"month": MONTH, "cluster": _cluster(stack).ext_id,
                                     "days_per_call": 10}))
            flaky = [r for m in cost_pb2_grpc.CostStub(channel).get_data(request, timeout=60)
                     for r in m.results]
    finally:
        plugin.stop()
        proxy.server.shutdown()
    direct = [r for m in stack.get_data({"month": MONTH, "cluster": _cluster(stack).ext_id})
              for r in m.results]
    windows = math.ceil(calendar.monthrange(MONTH_START.year, MONTH_START.month)[1] / 10)
    assert proxy.seen == windows + 2  # 3 or 4 windows of 10 days, 2 of them twice
    key = lambda r: (r.resource, r.billed_date, r.usage_type)  # noqa: E731
    assert sorted(flaky, key=key) == sorted(direct, key=key)
