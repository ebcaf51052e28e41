"""CLI: `python -m tests.simulator --port 9440 [--tls] [--vms N ...]`.

Prints one JSON line (`url`, `ca_path` with --tls, `version`, entity counts)
on stdout once it listens, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from tests.simulator import Inventory, RateLimits, Simulator
from tests.simulator.inventory import parse_iso


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9440, help="0 picks a free port")
    p.add_argument("--tls", action="store_true", help="HTTPS with a generated CA")
    for name, default in (("clusters", 2), ("hosts-per-cluster", 3), ("vms", 40),
                          ("subnets-per-cluster", 2), ("images", 4), ("volume-groups", 6),
                          ("projects", 3), ("categories", 4), ("alerts", 12), ("seed", 0)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--now", type=parse_iso, default=None,
                   help="inventory reference time (ISO-8601); default: today 00:00 UTC")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--rate-limits", choices=("recorded", "off"), default="off")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default="Nutanix/4u")
    p.add_argument("--api-key", default=None)
    p.add_argument("--version", default="pc.2024.3.1.1", help="Prism Central version string")
    p.add_argument("--v4-versions", default=None,
                   help="namespace=highest minor list, e.g. vmm=v4.0,monitoring=v4.2")
    p.add_argument("--no-prewarm", action="store_true",
                   help="skip serializing every entity before reporting ready")
    family = p.add_mutually_exclusive_group()
    family.add_argument("--v3-only", action="store_true")
    family.add_argument("--v4-only", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    inv = Inventory.generate(
        clusters=args.clusters, hosts_per_cluster=args.hosts_per_cluster, vms=args.vms,
        subnets_per_cluster=args.subnets_per_cluster, images=args.images,
        volume_groups=args.volume_groups, projects=args.projects, categories=args.categories,
        alerts=args.alerts, seed=args.seed, now=args.now)
    versions = None
    if args.v4_versions:
        versions = dict(item.split("=", 1) for item in args.v4_versions.split(","))
    sim = Simulator(
        inv, username=args.username, password=args.password, api_key=args.api_key,
        tls=args.tls, version=args.version, serve_v4=not args.v3_only, serve_v3=not args.v4_only,
        v4_versions=versions, latency_s=args.latency_ms / 1000,
        rate_limits=RateLimits.recorded() if args.rate_limits == "recorded" else None,
        host=args.host, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sim.start()
    if not args.no_prewarm:
        sim.prewarm()
    info = {"url": sim.url, "version": sim.version, "clusters": len(inv.clusters),
            "hosts": len(inv.hosts), "vms": len(inv.vms)}
    if sim.ca_path:
        info["ca_path"] = sim.ca_path
    print(json.dumps(info), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
