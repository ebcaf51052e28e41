"""Benchmark: a month of daily costs for 20,000 VMs with hourly snapshots, through gRPC.

    python -m tests.bench.bench_cost [--vms N] [--clusters N] [--hosts-per-cluster N]

1. The simulator (its own process) serves N VMs; one real record run of the
   cost function snapshots them (what the hourly PingSource triggers).
2. A past 30-day month of hourly history is built from that snapshot with
   churn (power changes, resizes, VMs created mid-month), folded hour by hour
   by the record run's own code (`RollupBuilder.add_hour`), and stored as the
   record runs leave it after compaction: one rollup per cluster and day.
3. Timed: fresh cost function and gRPC endpoint processes; `Job.get_tasks`
   from that month, then `Cost.get_data` of the month's tasks, in parallel as
   CloudForet's workers would, each stream read to the end by a real stub.

Peak RSS is each timed server process's own high-water mark (VmHWM; the
function's gunicorn worker, not its master), the larger of the two reported.
`snapshot_bytes_per_vm_hour` is what the month keeps in the store (rollups)
per VM-hour; the raw hourly snapshot, kept 3 days, is printed above it.
The last line is the JSON summary.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from spaceone.api.cost_analysis.plugin import cost_pb2, cost_pb2_grpc, job_pb2, job_pb2_grpc

from shared import events
from shared.cost import snapshots
from shared.cost.snapshots import RollupBuilder, VmRow
from shared.invoke import invoke
from shared.state import open_store
from tests.processes import start_function, start_plugin, start_simulator

USERNAME, PASSWORD = "admin", "Nutanix/4u"  # the simulator's defaults
OPTIONS = {"vcpu_hour": 0.012, "memory_gib_hour": 0.004, "storage_gib_month": 0.1,
           "host_month": 900.0, "currency": "USD",
           "category_multipliers": {"Environment:Production": 1.5},
           "cluster_rates": {"cluster-02": {"vcpu_hour": 0.015}}}
TOGGLE, RESIZE, NEW = 0.02, 0.005, 0.01  # per day, per day, per month: share of VMs


def struct(data: dict) -> Struct:
    value = Struct()
    value.update(data)
    return value


def bench_month(today: date) -> date:
    """The latest 30-day month before the current one (every day of it is past)."""
    first = today.replace(day=1)
    while True:
        first = (first - timedelta(days=1)).replace(day=1)
        if calendar.monthrange(first.year, first.month)[1] == 30:
            return first


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pid(pid: int) -> int:
    """functions-framework runs gunicorn: the request-serving worker is the master's child."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else pid


def record_now(url: str, store, secret: dict) -> tuple[dict, float]:
    hour = snapshots.hour_of(datetime.now(UTC))
    event = events.new_event(events.COST_RECORD, {"secret_data": secret,
                                                  "hour": f"{hour:%Y-%m-%dT%H}"},
                             source="/bench")
    began = time.perf_counter()
    reply = invoke(url, event, timeout_s=600, store=store)
    return reply, time.perf_counter() - began


def build_history(store, snap: snapshots.Snapshot, month: date, rng: random.Random) -> dict:
    """30 days x 24 hours of snapshots with churn, folded into per-cluster daily rollups."""
    base = snap.rows
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    days = calendar.monthrange(month.year, month.month)[1]
    long_ago = int((start - timedelta(days=40)).timestamp())
    hosts: dict[str, list[str]] = {}
    for row in base:
        if row.host:
            hosts.setdefault(row.cluster, []).append(row.host)
    created = {}
    for i in rng.sample(range(len(base)), int(len(base) * NEW)):
        created[i] = int(start.timestamp()) + rng.randrange(days * 86400)
    base = [r._replace(created=created.get(i, long_ago)) for i, r in enumerate(base)]
    by_cluster: dict[str, list[int]] = {}
    for i, row in enumerate(base):
        by_cluster.setdefault(row.cluster, []).append(i)
    stored = rows_folded = 0
    for d in range(days):
        day = (start + timedelta(days=d)).date()
        day_start = int((start + timedelta(days=d)).timestamp())
        changes: dict[int, list[tuple[int, VmRow]]] = {}  # hour -> (index, row from then)
        for i in rng.sample(range(len(base)), int(len(base) * TOGGLE)):
            row = base[i]
            flipped = row._replace(power_state="OFF", host="") if row.is_on else \
                row._replace(power_state="ON", host=rng.choice(hosts[row.cluster]))
            changes.setdefault(rng.randrange(24), []).append((i, flipped))
        for i in rng.sample(range(len(base)), int(len(base) * RESIZE)):
            changes.setdefault(rng.randrange(24), []).append(
                (i, base[i]._replace(vcpus=base[i].vcpus * 2)))
        for cluster, members in by_cluster.items():
            builder = RollupBuilder(day, cluster)
            current = {i: base[i] for i in members}
            for hour in range(24):
                for i, row in changes.get(hour, ()):
                    if i in current:
                        current[i] = row
                moment = day_start + hour * 3600 + 7 * 60  # taken at :07, as the PingSource
                rows = [r for r in current.values() if r.created <= moment]
                builder.add_hour(hour, rows, cluster_name=snap.clusters.get(cluster, ""),
                                 projects=snap.projects, prism_central=snap.prism_central)
                rows_folded += len(rows)
            stored += snapshots.write_rollup(store, builder.build())
    return {"bytes": stored, "vm_hours": rows_folded}


def run_tasks(target: str, tasks: list[dict], secret: dict) -> int:
    def one(task_options: dict) -> int:
        with grpc.insecure_channel(target, options=[
                ("grpc.max_receive_message_length", 256 * 1024 * 1024)]) as channel:
            stub = cost_pb2_grpc.CostStub(channel)
            request = cost_pb2.GetDataRequest(options=struct(OPTIONS),
                                              secret_data=struct(secret),
                                              task_options=struct(task_options))
            return sum(len(message.results) for message in stub.get_data(request))

    with ThreadPoolExecutor(len(tasks)) as pool:
        return sum(pool.map(one, tasks))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=20_000)
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--hosts-per-cluster", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state", help="reuse (or keep) this state folder: history is built "
                                        "once; without it a temporary folder is removed")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="NTNX_PLUGIN_CONCURRENCY for the endpoint (default: its own)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.state) if args.state else Path(tempfile.mkdtemp(prefix="bench-cost-"))
    state_url = (work / "state").as_uri()
    store = open_store(state_url)
    sim = start_simulator(["--vms", str(args.vms), "--clusters", str(args.clusters),
                           "--hosts-per-cluster", str(args.hosts_per_cluster),
                           "--projects", "8", "--categories", "4"])
    secret = {"host": sim.info["url"], "username": USERNAME, "password": PASSWORD}
    env = {"NTNX_STATE_URL": state_url}
    procs = [sim]
    month = bench_month(datetime.now(UTC).date())
    try:
        history = store.get_json("bench/history.json")
        if history is None or history.get("month") != f"{month:%Y-%m}":
            history = prepare(store, env, secret, month, rng, work, procs)
            store.put_json("bench/history.json", history)
        print(f"record run: {history['vms']} VMs in {history['record_s']:.1f} s, peak RSS "
              f"{history['record_rss']:.0f} MB; hourly snapshot {history['hourly_bytes']} "
              f"bytes = {history['raw_per_vm_hour']:.1f} bytes per VM-hour (kept 3 days)")
        print(f"history {month:%Y-%m}: {history['vm_hours']} VM-hours folded in "
              f"{history['fold_s']:.1f} s; rollups {history['bytes']} bytes = "
              f"{history['per_vm_hour']:.2f} bytes per VM-hour", flush=True)

        plugin_env = {**env}
        if args.concurrency:
            plugin_env["NTNX_PLUGIN_CONCURRENCY"] = str(args.concurrency)
        function = start_function("cost", env, log_dir=work / "logs")
        plugin = start_plugin("cost", {**plugin_env, "NTNX_COST_URL": function.url},
                              log_dir=work / "logs")
        procs += [function, plugin]
        worker = worker_pid(function.process.pid)
        cpu_before = {"endpoint": cpu_s(plugin.process.pid), "function": cpu_s(worker),
                      "client": time.process_time()}
        began = time.perf_counter()
        with grpc.insecure_channel(plugin.url) as channel:
            reply = job_pb2_grpc.JobStub(channel).get_tasks(job_pb2.GetTasksRequest(
                options=struct(OPTIONS), secret_data=struct(secret),
                start=f"{month:%Y-%m}-01"), timeout=180)
        tasks = [t for t in (json_format.MessageToDict(t.task_options) for t in reply.tasks)
                 if t["month"] == f"{month:%Y-%m}"]
        tasks_s = time.perf_counter() - began
        records = run_tasks(plugin.url, tasks, secret)
        wall = time.perf_counter() - began
        cpu = {"endpoint": cpu_s(plugin.process.pid), "function": cpu_s(worker),
               "client": time.process_time()}
        rss = {"endpoint": peak_rss_mb(plugin.process.pid), "function": peak_rss_mb(worker)}
        print(f"get_tasks {tasks_s:.1f} s ({len(reply.tasks)} tasks, {len(tasks)} in "
              f"{month:%Y-%m}); get_data {records} records in {wall - tasks_s:.1f} s; CPU s "
              + ", ".join(f"{k} {cpu[k] - cpu_before[k]:.1f}" for k in cpu)
              + f"; peak RSS endpoint {rss['endpoint']:.0f} MB, function "
                f"{rss['function']:.0f} MB", flush=True)
        result = {"records": records, "wall_s": round(wall, 2),
                  "peak_rss_mb": round(max(rss.values()), 1),
                  "snapshot_bytes_per_vm_hour": round(history["per_vm_hour"], 2)}
        print(json.dumps(result), flush=True)
        return result
    finally:
        for proc in reversed(procs):
            proc.stop()
        if not args.state:
            shutil.rmtree(work, ignore_errors=True)


def prepare(store, env: dict, secret: dict, month: date, rng: random.Random, work: Path,
            procs: list) -> dict:
    """Phases 1 and 2: a real record run, then the month's history from its snapshot."""
    recorder = start_function("cost", env, log_dir=work / "logs-record")
    procs.append(recorder)
    summary, record_s = record_now(recorder.url, store, secret)
    record_rss = peak_rss_mb(worker_pid(recorder.process.pid))
    recorder.stop()
    hour = datetime.strptime(summary["hour"], "%Y-%m-%dT%H").replace(tzinfo=UTC)
    hourly = len(store.get(snapshots.hourly_key(hour)) or b"")
    began = time.perf_counter()
    history = build_history(store, snapshots.read_hourly(store, hour), month, rng)
    return {"month": f"{month:%Y-%m}", "vms": summary["vms"], "record_s": record_s,
            "record_rss": record_rss, "hourly_bytes": hourly,
            "raw_per_vm_hour": hourly / max(1, summary["vms"]),
            "fold_s": time.perf_counter() - began, "bytes": history["bytes"],
            "vm_hours": history["vm_hours"],
            "per_vm_hour": history["bytes"] / history["vm_hours"]}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
