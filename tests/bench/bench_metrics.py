"""Benchmark: Metric.get_data for 100 VMs over 30 days at 5-minute resolution.

    python -m tests.bench.bench_metrics [--vms N] [--days N] [--period S] [--latency-ms N]
                                        [--concurrency N] [--runs N]

One get_data call, as CloudForet sends a chunk (up to 200 resources), through
the plugin endpoint (family metric), one CloudEvent to the collect function,
and one Prism stats request per VM with `concurrency` in flight; simulator
latency 50 ms, HTTPS. 30 days at 300 s is 8,641 labels per VM.

The simulator's series cost ~45 us per 30 s sample (a sha256 each), ~0.4 s
per VM-month of one stat: the simulator's CPU, not the plugin's. So its
answers are memoised per request and filled by an untimed warm-up call (as
`prewarm` does for entities; in small calls, two requests at a time, so
that neither an answer nor a call outlasts its timeout); the timed calls get
the same bytes after the same 50 ms latency. The timed calls also find the
Prism session the warm-up logged in, as a warm function does
(`shared/prism/sessions.py`); a cold one first logs in alone, one more
latency before the parallel requests.

Bound: bound_s = ceil(vms / concurrency) x latency, the Prism rounds alone
(8 in flight by default: ceil(100 / 8) x 50 ms = 0.65 s). Everything else
(the plugin -> function hop, parsing, alignment, encoding) is inside the
ratio; the hop alone is printed, measured as the fastest of 5 Metric.list
calls (the same endpoint, CloudEvent and function, no Prism request).
wall_s is the median of `runs` timed calls. The LAST line is JSON: series (resources with
values), points (non-null values), wall_s, bound_s, ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf import json_format
from spaceone.api.monitoring.plugin import metric_pb2, metric_pb2_grpc

from tests.processes import start_function, start_plugin
from tests.simulator import Inventory, Simulator
from tests.simulator.wire import Response

USERNAME, PASSWORD = "admin", "Nutanix/4u"
WARM_UP_BATCH = 10


def memoise_vm_stats(sim: Simulator) -> dict:
    """Answer each distinct VM stats request once, then from memory (see module doc)."""
    original = sim.v4.op_vm_stats
    cache: dict = {}

    def answer(req, kind, ext_id):
        key = (ext_id, tuple(sorted(req.query)))
        found = cache.get(key)
        if found is None:
            found = cache[key] = original(req, kind=kind, ext_id=ext_id)
        return Response(found.status, found.body, dict(found.headers), found.content_type)

    sim.v4.op_vm_stats = answer
    return cache


def request(secret: dict, vms: list, start: datetime, end: datetime, period: int,
            concurrency: int) -> metric_pb2.MetricDataRequest:
    query = {f"cloud-svc-{i:04d}": {"entity_type": "vm", "ext_id": vm.ext_id,
                                    "cluster_ext_id": vm.cluster_ext_id,
                                    "region_name": vm.cluster_ext_id}
             for i, vm in enumerate(vms)}
    return json_format.ParseDict({
        "options": {"concurrency": concurrency}, "secret_data": secret,
        "metric_query": query, "metric": "cpu_usage", "stat": "AVERAGE", "period": period,
        "start": start.isoformat(), "end": end.isoformat()}, metric_pb2.MetricDataRequest())


def hop_s(stub, secret: dict, vm) -> float:
    """Fastest Metric.list: plugin -> CloudEvent -> collect -> reply, no Prism request."""
    listing = json_format.ParseDict({"secret_data": secret, "query": {
        "entity_type": "vm", "ext_id": vm.ext_id}}, metric_pb2.MetricRequest())
    times = []
    for _ in range(5):
        began = time.perf_counter()
        stub.list(listing)
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--period", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000
    work = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    env = {"NTNX_STATE_URL": f"file://{work / 'state'}", "NTNX_LOG_LEVEL": "WARNING"}

    inventory = Inventory.generate(clusters=2, hosts_per_cluster=4, vms=args.vms * 2, seed=0)
    vms = [vm for vm in inventory.vms if vm.power_state == "ON"][:args.vms]
    end = datetime.fromtimestamp(time.time() // args.period * args.period - 600, UTC)
    start = end - timedelta(days=args.days)
    with Simulator(inventory, username=USERNAME, password=PASSWORD, tls=True) as sim:
        cache = memoise_vm_stats(sim)
        collect = start_function("collect", env, log_dir=work)
        plugin = start_plugin("metric", {**env, "NTNX_COLLECT_URL": collect.url},
                              log_dir=work)
        channel = grpc.insecure_channel(plugin.url, options=[
            ("grpc.max_receive_message_length", 256 * 1024 * 1024)])
        try:
            secret = {"host": sim.host, "port": sim.port, "username": USERNAME,
                      "password": PASSWORD, "ca_pem": sim.ca_pem}
            stub = metric_pb2_grpc.MetricStub(channel)
            call = request(secret, vms, start, end, args.period, args.concurrency)
            print(f"warm-up: computing {len(vms)} simulator answers ...", flush=True)
            began = time.perf_counter()
            for first in range(0, len(vms), WARM_UP_BATCH):  # each call inside its deadline
                batch = vms[first:first + WARM_UP_BATCH]
                stub.get_data(request(secret, batch, start, end, args.period, 2), timeout=3600)
            print(f"warm-up took {time.perf_counter() - began:.1f} s "
                  f"({len(cache)} answers, {sum(len(r.body) for r in cache.values()) / 1e6:.0f}"
                  " MB)", flush=True)
            sim.set_latency(latency)
            hop = hop_s(stub, secret, vms[0])
            walls, reply = [], None
            for _ in range(args.runs):
                sim.reset_counters()
                began = time.perf_counter()
                reply = stub.get_data(call, timeout=3600)
                walls.append(time.perf_counter() - began)
                requests_made = sim.counters["by_route"].get("GET vmm/stats/vms/{extId}", 0)
                if requests_made != len(vms):
                    raise RuntimeError(f"{requests_made} Prism requests for {len(vms)} VMs")
        finally:
            channel.close()
            plugin.stop()
            collect.stop()
    series = len(reply.values)
    points = sum(1 for values in reply.values.values() for v in values.values
                 if v.WhichOneof("kind") == "number_value")
    wall = statistics.median(walls)
    bound = math.ceil(len(vms) / args.concurrency) * latency
    result = {"series": series, "points": points, "wall_s": round(wall, 3),
              "bound_s": round(bound, 3), "ratio": round(wall / bound, 3)}
    print(f"{series} series, {points} points, {len(reply.labels)} labels; runs "
          f"{', '.join(f'{w:.2f}' for w in walls)} s; bound = ceil({len(vms)}/"
          f"{args.concurrency}) x {latency * 1000:.0f} ms = {bound:.3f} s (hop "
          f"{hop * 1000:.1f} ms not in it); "
          f"logs in {work}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
