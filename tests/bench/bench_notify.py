"""Benchmark: Notification.dispatch through gRPC to the webhook channel, warm, on loopback.

    python -m tests.bench.bench_notify [--dispatches N] [--warmup N] [--threads N]

The path is CloudForet's: a gRPC stub calls the plugin endpoint (family
notification, its own process), which sends one CloudEvent to the notify
function (functions-framework, gunicorn gthread, its own process, local
state folder for the repeat check), which POSTs the signed JSON to a webhook
receiver in this process. One call at a time, each timed from the stub's
call to its answer, which comes only after the receiver answered. Every
dispatch carries a distinct message (a repeat would be suppressed, not sent).
The last line is the JSON summary {"p50_ms", "p99_ms"}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import json_format
from spaceone.api.notification.plugin import notification_pb2, notification_pb2_grpc

from tests.demo_notify import DEMO_MESSAGE, DEMO_SIGNING_KEY, WebhookReceiver
from tests.processes import start_function, start_plugin


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def requests_for(count: int, url: str, run: str) -> list:
    """`count` dispatch requests with distinct messages, parsed before timing starts."""
    return [json_format.ParseDict({
        "options": {"channel": "webhook"},
        "secret_data": {"signing_key": DEMO_SIGNING_KEY},
        "channel_data": {"url": url},
        "message": {**DEMO_MESSAGE, "description": f"{run} dispatch {i}"},
        "notification_type": "ERROR",
    }, notification_pb2.PluginDispatchRequest()) for i in range(count)]


def timed(stub, requests: list) -> list[float]:
    latencies = []
    for request in requests:
        began = time.perf_counter()
        stub.dispatch(request, timeout=30)
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dispatches", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=8,
                        help="gunicorn threads of the notify function (the Containerfile's)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, \
            WebhookReceiver(signing_key=DEMO_SIGNING_KEY) as rx:
        env = {"NTNX_STATE_URL": f"file://{tmp}/state", "NTNX_LOG_LEVEL": "WARNING"}
        logs = Path(tmp) / "logs"
        notify = start_function("notify", {**env, "THREADS": str(args.threads),
                                           "WORKERS": "1"}, log_dir=logs)
        plugin = start_plugin("notification", {**env, "NTNX_NOTIFY_URL": notify.url},
                              log_dir=logs)
        try:
            with grpc.insecure_channel(plugin.url) as channel:
                stub = notification_pb2_grpc.NotificationStub(channel)
                timed(stub, requests_for(args.warmup, rx.url, "warm-up"))
                latencies = timed(stub, requests_for(args.dispatches, rx.url, "bench"))
        finally:
            plugin.stop()
            notify.stop()
        arrived = rx.delivered()
        signed = sum(1 for a in arrived if a.get("signature_ok"))
    print(json.dumps({"dispatches": len(latencies), "arrived": len(arrived),
                      "signature_ok": signed, "mean_ms": round(statistics.fmean(latencies), 2),
                      "min_ms": round(min(latencies), 2), "max_ms": round(max(latencies), 2),
                      "warmup": args.warmup}))
    summary = {"p50_ms": round(percentile(latencies, 0.50), 2),
               "p99_ms": round(percentile(latencies, 0.99), 2)}
    print(json.dumps(summary))
    summary["ok"] = len(arrived) == args.warmup + args.dispatches == signed
    return summary


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
