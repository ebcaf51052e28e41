"""Benchmark: a burst of pushed alerts into alert_ingest on loopback, forwarded to a receiver.

    python -m tests.bench.bench_alerts [--alerts N] [--concurrency N] [--threads N]

alert_ingest runs as its own functions-framework process (gunicorn gthread,
`--threads` per worker, as in the Containerfile); `--concurrency` senders
POST distinct v4 alerts (the recorded fixture with fresh ids), each over a
kept-alive connection, and time each request until its answer, which comes
only once the alert is delivered or kept. A local HTTP server plays
CloudForet's webhook and parses each forwarded body with our own Event.parse.
`delivered` counts distinct event keys that arrived, `lost` the alerts that
got neither a 2xx nor an arrival. The last line is the JSON summary.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from shared.mapping.alerts import event_key
from shared.prism.models import Alert
from tests.processes import ROOT, base_env, start_function
from tests.receiver import counts as receiver_counts

FIXTURE = ROOT / "tests" / "fixtures" / "nutanix" / "v4-alerts-list.json"
TOKEN = "bench-token-0123456789"


def alert_bodies(count: int, run: str = "bench") -> list[dict]:
    """`count` distinct v4 alert objects, cycling through the recorded ones."""
    recorded = json.loads(FIXTURE.read_text())["data"]
    bodies = []
    for index in range(count):
        item = copy.deepcopy(recorded[index % len(recorded)])
        item["extId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}-alert-{index}"))
        item["isResolved"] = False
        item["isAutoResolved"] = False
        bodies.append(item)
    return bodies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def burst(url: str, bodies: list[dict], concurrency: int) -> tuple[list[float], int, float]:
    """POST every body; (latencies in ms of the 2xx answers, failures, wall seconds).

    Plain `http.client`, one kept-alive connection per sender: the sender's
    own CPU competes with alert_ingest's on a small machine, so keep it light.
    """
    host, port = urlsplit(url).hostname, urlsplit(url).port
    local = threading.local()
    payloads = [json.dumps(b).encode() for b in bodies]
    headers = {"Content-Type": "application/json", "X-Webhook-Token": TOKEN}

    def send(payload: bytes) -> float | None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, port, timeout=30)
        began = time.perf_counter()
        try:
            conn.request("POST", "/", body=payload, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            local.conn = None
            return None
        elapsed = (time.perf_counter() - began) * 1000
        return elapsed if resp.status in (200, 202) else None

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, payloads))
    wall = time.perf_counter() - began
    latencies = [r for r in results if r is not None]
    return latencies, len(results) - len(latencies), wall


def start_receiver() -> tuple[subprocess.Popen, str]:
    """The receiver as its own process (CloudForet is another machine's CPU)."""
    process = subprocess.Popen([sys.executable, "-m", "tests.receiver", "--quiet"],
                               cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("receiver did not start")
    return process, json.loads(line)["url"]


def wait_for(url: str, keys: set[str], timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        seen = receiver_counts(url)
        if keys <= set(seen["keys"]) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8,
                        help="gunicorn threads (the Containerfile's THREADS)")
    parser.add_argument("--log-level", default="INFO", help="alert_ingest's NTNX_LOG_LEVEL")
    args = parser.parse_args(argv)

    bodies = alert_bodies(args.alerts)
    expected = {event_key(Alert(ext_id=b["extId"], title="", message="", severity=""))
                for b in bodies}
    receiver, receiver_url = start_receiver()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            proc = start_function("alert_ingest", {
                "NTNX_WEBHOOK_TOKEN": TOKEN, "NTNX_ALERT_FORWARD_URL": receiver_url,
                "NTNX_STATE_URL": f"file://{tmp}/state", "NTNX_LOG_LEVEL": args.log_level,
                "THREADS": str(args.threads), "WORKERS": "1"}, log_dir=Path(tmp) / "logs")
            try:
                burst(proc.url, alert_bodies(20, "warm-up"), 4)  # imports, connections
                latencies, failed, wall = burst(proc.url, bodies, args.concurrency)
                seen = wait_for(receiver_url, expected, timeout_s=30)
            finally:
                proc.stop()
            dead = list((Path(tmp) / "state" / "alerts" / "dead").glob("*.json"))
    finally:
        receiver.terminate()
        receiver.wait(10)
    keys = seen["keys"]
    arrived = expected & set(keys)
    duplicates = sum(n - 1 for k, n in keys.items() if k in expected and n > 1)
    print(json.dumps({"posts_to_receiver": seen["posts"], "events_per_post":
                      round(seen["events"] / max(1, seen["posts"]), 1),
                      "failed_requests": failed, "duplicates": duplicates,
                      "dead_letters": len(dead), "wall_s": round(wall, 2),
                      "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
                      "concurrency": args.concurrency, "threads": args.threads}))
    summary = {
        "alerts": len(bodies),
        "delivered": len(arrived),
        "per_s": round(len(bodies) / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
        "lost": len(expected - arrived),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    sys.exit(0 if main()["lost"] == 0 else 1)
