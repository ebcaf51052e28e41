"""Benchmark: list 20,000 VMs under Prism's recorded rate limits, API chosen by the client.

    python -m tests.bench.bench_ratelimit [--vms N] [--latency-ms N] [--concurrency N]

The simulator (its own process) enforces the budgets recorded on
pc.2024.3.1.1: 30 requests per second overall, 2 VM lists per second on v4
(spec nutanix/README.md section 5). The client runs with `api="auto"`.

Bound: for each path, the slower of the latency bound (first page alone, then
`concurrency` pages per round trip) and the rate bound (the pages that path
needs over its per-API budget, or the global one if tighter); the bound is the
path that makes it smallest. Targets: no 429 at all, and wall <= 1.2 x bound.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from shared.prism import PrismClient
from shared.prism.client import V3_MAX_PAGE, V4_MAX_PAGE
from shared.prism.pacing import Limiter
from tests.bench.bench_client import add_inventory_args, latency_bound, start
from tests.simulator.ratelimit import RateLimits

PER_API = {"v4": "vmm.vms.list", "v3": "v3.vms.list"}  # the simulator's budget names
PAGE = {"v4": V4_MAX_PAGE, "v3": V3_MAX_PAGE}


def bounds(items: int, concurrency: int, latency_s: float) -> dict[str, float]:
    """Seconds each path needs at best under the recorded budgets."""
    limits = RateLimits.recorded()
    found = {}
    for path, page in PAGE.items():
        pages = max(1, math.ceil(items / page))
        per_s = [r for r in (limits.global_per_s, (limits.per_api or {}).get(PER_API[path]))
                 if r is not None]
        rate = pages / min(per_s)
        found[path] = max(latency_bound(items, page, concurrency, latency_s), rate)
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_inventory_args(parser)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    sim, conn = start(args.vms, args.clusters, args.hosts_per_cluster, args.latency_ms,
                      "recorded")
    try:
        with PrismClient(conn, concurrency=args.concurrency, limiter=Limiter()) as client:
            began, cpu = time.perf_counter(), time.process_time()
            count = sum(1 for _ in client.iter_vms())
            wall = time.perf_counter() - began
            cpu = time.process_time() - cpu
            path = client.plan("vms").api  # cached: the choice the listing used
            metrics = client.metrics
    finally:
        sim.stop()
    per_path = bounds(count, args.concurrency, args.latency_ms / 1000)
    best = min(per_path, key=per_path.get)
    bound = per_path[best]
    result = {"vms": count, "requests": metrics["requests"], "throttled": metrics["throttled"],
              "wall_s": round(wall, 3), "bound_s": round(bound, 3),
              "ratio": round(wall / bound, 3), "path": path}
    print(f"listed {count} VMs from {path} (auto) in {wall:.2f} s: {metrics['requests']} "
          f"requests, {metrics['throttled']} throttled, {metrics['paced_wait_s']:.2f} s paced")
    print(f"client CPU {cpu:.2f} s ({cpu / wall:.0%} of wall)")
    print("bounds: " + ", ".join(f"{p} {b:.2f} s" for p, b in per_path.items())
          + f" -> {bound:.2f} s ({best}); ratio {wall / bound:.2f} (target <= 1.2, 0 throttled)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
