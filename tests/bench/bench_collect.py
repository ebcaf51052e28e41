"""Benchmark: a whole inventory collection through gRPC, CloudEvents and collect.

    python -m tests.bench.bench_collect [--vms N] [--clusters N] [--hosts-per-cluster N]

20,000 VMs on 10 clusters of 20 hosts, simulator latency 50 ms, no rate limits.
The path is the one CloudForet drives: Job.get_tasks, then one Collector.collect
per task (in parallel, as CloudForet's workers run them), each fanned out by the
endpoint into shard CloudEvents. The simulator runs in this process so its
request counter gives the requests the collection needed; the bound is the
bench-client bound over them: (1 + ceil((requests - 1) / 8)) x latency.
collect_peak_rss_mb is the collect function's worker process (VmHWM). The CPU
seconds each process spent while collecting are printed too (where the time goes).
Cold start: process start to first successful reply, for collect and for a
bare functions-framework function, in the same run. Last, the floor gRPC
alone sets (`grpc_floor`): the same number of ResourceInfo messages streamed
by a bare grpcio server process, nothing else in the time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import requests
from spaceone.api.inventory.plugin import collector_pb2, collector_pb2_grpc, job_pb2, job_pb2_grpc

from shared import events
from tests.bench import grpc_floor
from tests.bench.bench_client import add_inventory_args
from tests.processes import start_function, start_plugin
from tests.simulator import Inventory, Simulator

USERNAME, PASSWORD = "admin", "Nutanix/4u"
CONCURRENCY = 8
BARE = '''import functions_framework


@functions_framework.http
def main(request):
    return "ok"
'''


def tree_peak_rss_mb(pid: int) -> float:
    """Largest VmHWM among a process and its descendants (gunicorn forks a worker)."""
    peak, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
        todo += [int(c) for c in children]
    return peak


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants so far."""
    ticks, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        todo += [int(c) for c in children]
    return ticks / os.sysconf("SC_CLK_TCK")


def cold_start_ms(name: str, env: dict, log_dir: Path, source: Path | None = None) -> float:
    """Process start to the first successful reply of a real request."""
    began = time.perf_counter()
    if source is None:
        proc = start_function(name, env, log_dir=log_dir, timeout_s=60)
        event = events.new_event(events.COLLECT_VERIFY, {"options": {}, "secret_data": {}},
                                 source="/bench")
        from cloudevents.conversion import to_binary
        headers, body = to_binary(event, data_marshaller=events.encode)
        # a real request through the adapter; an error reply is still a reply
        ok = requests.post(proc.url, data=body, headers=headers, timeout=30).status_code < 500
    else:
        proc = start_function(name, env, log_dir=log_dir, timeout_s=60, source=source)
        ok = requests.get(proc.url, timeout=30).status_code == 200
    elapsed = (time.perf_counter() - began) * 1000
    proc.stop()
    if not ok:
        raise RuntimeError(f"{name} did not answer")
    return elapsed


def collect_all(address: str, secret: dict) -> tuple[int, bytes]:
    """Resources received, and one VM's ResourceInfo as it came (for `grpc_floor`)."""
    sample: list[bytes] = []
    with grpc.insecure_channel(address) as channel:
        tasks = job_pb2_grpc.JobStub(channel).get_tasks(job_pb2.GetTaskRequest()).tasks
        stub = collector_pb2_grpc.CollectorStub(channel)

        def one(task) -> int:
            request = collector_pb2.CollectRequest(task_options=task.task_options)
            request.secret_data.update(secret)
            count = 0
            for item in stub.collect(request):
                if item.state != collector_pb2.ResourceInfo.State.SUCCESS:
                    raise RuntimeError(f"collect failed: {item.message}")
                kind = item.resource.fields.get("cloud_service_type")
                if not sample and kind is not None and kind.string_value == "VirtualMachine":
                    sample.append(item.SerializeToString())
                count += 1
            return count

        with ThreadPoolExecutor(len(tasks)) as pool:
            return sum(pool.map(one, tasks)), sample[0]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_inventory_args(parser)
    parser.add_argument("--workers", type=int, default=1,
                        help="gunicorn workers of the collect function (Knative: pods)")
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000
    work = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    env = {"NTNX_STATE_URL": f"file://{work / 'state'}",
           "NTNX_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}

    bare_source = work / "bare" / "main.py"
    bare_source.parent.mkdir()
    bare_source.write_text(BARE)
    bare_ms = min(cold_start_ms("bare", {}, work, bare_source) for _ in range(3))
    collect_ms = min(cold_start_ms("collect", env, work) for _ in range(3))

    print(f"generating {args.vms} VMs ...", flush=True)
    inventory = Inventory.generate(clusters=args.clusters, hosts_per_cluster=args.hosts_per_cluster,
                                   vms=args.vms, seed=0)
    with Simulator(inventory, username=USERNAME, password=PASSWORD, tls=True) as sim:
        sim.prewarm()
        collect = start_function("collect", {**env, "WORKERS": str(args.workers)},
                                 log_dir=work)
        plugin = start_plugin("inventory", {**env, "NTNX_COLLECT_URL": collect.url,
                                            "NTNX_PLUGIN_CONCURRENCY": str(CONCURRENCY)},
                              log_dir=work)
        try:
            secret = {"host": sim.host, "port": sim.port, "username": USERNAME,
                      "password": PASSWORD, "ca_pem": sim.ca_pem}
            sim.set_latency(latency)
            sim.reset_counters()
            cpu_before = {"collect": tree_cpu_s(collect.process.pid),
                          "plugin": tree_cpu_s(plugin.process.pid),
                          "bench": time.process_time()}
            began = time.perf_counter()
            resources, sample = collect_all(plugin.url, secret)
            wall = time.perf_counter() - began
            cpu = {"collect": tree_cpu_s(collect.process.pid) - cpu_before["collect"],
                   "plugin": tree_cpu_s(plugin.process.pid) - cpu_before["plugin"],
                   "bench": time.process_time() - cpu_before["bench"]}
            requests_made = sim.counters["requests"]
            rss = tree_peak_rss_mb(collect.process.pid)
        finally:
            plugin.stop()
            collect.stop()
    bound = (1 + math.ceil((requests_made - 1) / CONCURRENCY)) * latency
    floor = grpc_floor.stream_floor_s(resources, sample)
    result = {"resources": resources, "wall_s": round(wall, 3), "bound_s": round(bound, 3),
              "ratio": round(wall / bound, 3), "collect_peak_rss_mb": round(rss, 1),
              "cold_start_ms": round(collect_ms, 1), "bare_cold_start_ms": round(bare_ms, 1)}
    print(f"{resources} resources in {wall:.2f} s with {requests_made} Prism requests "
          f"(bound {bound:.2f} s); collect peak RSS {rss:.0f} MB; cold start "
          f"{collect_ms:.0f} ms vs bare {bare_ms:.0f} ms; logs in {work}")
    print("CPU while collecting: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds
                                                in cpu.items())
          + " (bench = the simulator and the gRPC client; 2 cores give "
          f"{2 * wall:.2f} CPU s in this wall time)")
    print(f"gRPC alone: {resources} copies of one VM's ResourceInfo ({len(sample)} bytes) "
          f"streamed by a bare grpcio server process take {floor:.2f} s "
          f"({floor / bound:.1f} x the bound): the floor under any Python plugin endpoint")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
