"""Benchmark: list 20,000 VMs at 50 ms latency, no rate limits; compare with the latency bound.

    python -m tests.bench.bench_client [--vms N] [--latency-ms N] [--concurrency N]

The simulator runs as its own process (its CLI), so the peak RSS measured here
(`ru_maxrss` of this process) is the client's alone. The bound is what a
perfect window achieves: the first page alone, then `concurrency` pages per
round trip, `(1 + ceil((pages - 1) / concurrency)) x latency`, with pages
counted at the API's largest page. v4 at 100 per page is the measure; when
auto would pick v3 (fewer, larger pages), v4 is forced and the summary says so.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time

from shared.prism import Connection, PrismClient
from shared.prism.client import V3_MAX_PAGE, V4_MAX_PAGE
from shared.prism.pacing import Limiter
from tests.processes import start_simulator

USERNAME, PASSWORD = "admin", "Nutanix/4u"  # the simulator's defaults


def add_inventory_args(parser: argparse.ArgumentParser) -> None:
    """The simulated Prism Central the listing benchmarks share: size and latency."""
    parser.add_argument("--vms", type=int, default=20_000)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--hosts-per-cluster", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=50)


def latency_bound(items: int, page: int, concurrency: int, latency_s: float) -> float:
    pages = max(1, math.ceil(items / page))
    return (1 + math.ceil((pages - 1) / concurrency)) * latency_s


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def start(vms: int, clusters: int, hosts: int, latency_ms: int, rate_limits: str):
    """The simulator process and a Connection to it (HTTPS with its CA)."""
    sim = start_simulator(["--tls", "--clusters", str(clusters), "--hosts-per-cluster",
                           str(hosts), "--vms", str(vms), "--latency-ms", str(latency_ms),
                           "--rate-limits", rate_limits])
    conn = Connection.from_secret({"host": sim.info["url"], "username": USERNAME,
                                   "password": PASSWORD, "ca_pem": sim.info["ca_path"]})
    return sim, conn


def list_vms(conn: Connection, api: str, concurrency: int) -> tuple[int, float, dict]:
    """Count the VMs; metrics gain `cpu_s`, this process's CPU time while listing."""
    with PrismClient(conn, api=api, concurrency=concurrency, limiter=Limiter()) as client:
        began, cpu = time.perf_counter(), time.process_time()
        count = sum(1 for _ in client.iter_vms())
        wall = time.perf_counter() - began
        return count, wall, {**client.metrics, "cpu_s": time.process_time() - cpu}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_inventory_args(parser)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    sim, conn = start(args.vms, args.clusters, args.hosts_per_cluster, args.latency_ms, "off")
    try:
        with PrismClient(conn, concurrency=args.concurrency, limiter=Limiter()) as chooser:
            auto = chooser.plan("vms").api
        api = "v4"
        note = ("auto picks v3 (fewer, larger pages): v4 forced for this measure"
                if auto == "v3" else "auto picks v4")
        count, wall, metrics = list_vms(conn, api, args.concurrency)
    finally:
        sim.stop()
    latency_s = args.latency_ms / 1000
    bound = latency_bound(count, V4_MAX_PAGE if api == "v4" else V3_MAX_PAGE,
                          args.concurrency, latency_s)
    result = {"vms": count, "requests": metrics["requests"], "wall_s": round(wall, 3),
              "bound_s": round(bound, 3), "ratio": round(wall / bound, 3),
              "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(f"listed {count} VMs from {api} ({note}) in {wall:.2f} s with "
          f"{metrics['requests']} requests, concurrency {args.concurrency}, "
          f"{args.latency_ms} ms latency")
    print(f"latency bound {bound:.2f} s -> ratio {wall / bound:.2f} (target <= 1.5); "
          f"peak RSS {result['peak_rss_mb']} MB (target < 150); client CPU "
          f"{metrics['cpu_s']:.2f} s ({metrics['cpu_s'] / wall:.0%} of wall: decoding and "
          "model building bound it when near 100%)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
