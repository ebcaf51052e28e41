"""`make run`: the whole suite on this machine, wired the way Knative wires it.

Starts the Prism Central simulator (unless NTNX_PRISM_HOST names a real one),
each function as its own functions-framework process, one plugin endpoint per
protocol family, and a local stand-in for the PingSources (same CloudEvents,
schedules shortened). Then it does what CloudForet would do, through gRPC,
and prints what came out. It keeps serving until Ctrl-C (`--once` stops after
the walk-through: the tests use it to keep this command true).

Environment: the same NTNX_* names as the Knative manifests (shared/config.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import grpc
import requests
from google.protobuf import json_format
from spaceone.api.inventory.plugin import collector_pb2, collector_pb2_grpc, job_pb2, job_pb2_grpc

from shared.config import Settings
from tests.processes import ROOT, Proc, start_function, start_plugin

USERNAME, PASSWORD = "admin", "Nutanix/4u"  # the simulator's demo login
# PingSource stand-ins: knative/base/pingsources.yaml schedules, shortened for the demo
SCHEDULES = {  # nutanixtype -> (function, seconds between ticks, Knative schedule)
    "io.cloudforet.nutanix.cost.record.v1": ("cost", 60, "7 * * * * (hourly)"),
    "io.cloudforet.nutanix.alert.poll.v1": ("alert_ingest", 15, "* * * * * (every minute)"),
}


def say(text: str = "") -> None:
    print(text, flush=True)


class Demo:
    """Owns every process it starts and stops them all on exit."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.state_dir).resolve()
        self.logs = self.work / "logs"
        self.procs: list[Proc] = []
        self.stack = contextlib.ExitStack()
        self.env = {"NTNX_STATE_URL": f"file://{self.work / 'state'}",
                    "NTNX_LOG_LEVEL": os.environ.get("NTNX_LOG_LEVEL", "INFO")}
        self.functions: dict[str, Proc] = {}
        self.plugins: dict[str, Proc] = {}
        self.secret: dict = {}
        self.sim = None

    # -- processes -------------------------------------------------------------
    def start_prism(self) -> None:
        settings = Settings.from_env()
        if settings.prism.host:
            self.secret = settings.prism.as_secret_data()
            say(f"Prism Central: {settings.prism.host}:{settings.prism.port} (from NTNX_PRISM_*)")
            return
        from tests.simulator import Inventory, Simulator

        inventory = Inventory.generate(clusters=3, hosts_per_cluster=4, vms=self.args.vms,
                                       alerts=6, seed=7)
        self.sim = self.stack.enter_context(
            Simulator(inventory, username=USERNAME, password=PASSWORD, tls=True))
        self.secret = {"host": self.sim.host, "port": self.sim.port, "username": USERNAME,
                       "password": PASSWORD, "ca_pem": self.sim.ca_pem}
        say(f"Prism Central simulator: {self.sim.url} ({len(inventory.vms)} VMs, "
            f"{len(inventory.aos_clusters)} clusters, {len(inventory.hosts)} hosts)")
        prism_env = {"NTNX_PRISM_HOST": self.sim.host, "NTNX_PRISM_PORT": str(self.sim.port),
                     "NTNX_PRISM_USERNAME": USERNAME, "NTNX_PRISM_PASSWORD": PASSWORD,
                     "NTNX_PRISM_CA_PEM": self.sim.ca_path}
        self.env.update(prism_env)

    def start_function(self, name: str, extra: dict | None = None) -> Proc:
        proc = start_function(name, {**self.env, **(extra or {})}, log_dir=self.logs)
        self.procs.append(proc)
        self.functions[name] = proc
        say(f"  function {name:<13} {proc.url}")
        return proc

    def start_plugin(self, family: str) -> Proc:
        urls = {f"NTNX_{name.upper()}_URL": proc.url for name, proc in self.functions.items()}
        proc = start_plugin(family, {**self.env, **urls}, log_dir=self.logs)
        self.procs.append(proc)
        self.plugins[family] = proc
        say(f"  plugin   {family:<13} grpc://{proc.url}")
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.stack.close()

    # -- what CloudForet would do -----------------------------------------------
    def inventory(self) -> None:
        say("\n== Inventory: Job.get_tasks, then Collector.collect per task (as CloudForet) ==")
        channel = self.stack.enter_context(grpc.insecure_channel(self.plugins["inventory"].url))
        began = time.monotonic()
        tasks = job_pb2_grpc.JobStub(channel).get_tasks(job_pb2.GetTaskRequest()).tasks
        stub = collector_pb2_grpc.CollectorStub(channel)
        counts: Counter = Counter()
        failures = []
        for number, task in enumerate(tasks, 1):
            request = collector_pb2.CollectRequest(task_options=task.task_options)
            request.secret_data.update(self.secret)
            kinds = ", ".join(json_format.MessageToDict(task.task_options).get("kinds", []))
            for item in stub.collect(request):
                resource = json_format.MessageToDict(item.resource)
                if item.state == collector_pb2.ResourceInfo.State.FAILURE:
                    failures.append(item.message)
                    continue
                label = resource.get("cloud_service_type") or item.resource_type.split(".")[-1]
                counts[label] += 1
                if sum(counts.values()) % 250 == 0:
                    print(f"\r  task {number}/{len(tasks)} ({kinds}): "
                          f"{sum(counts.values())} resources", end="", flush=True)
            print(f"\r  task {number}/{len(tasks)} ({kinds}): done" + " " * 20, flush=True)
        elapsed = time.monotonic() - began
        for label, count in sorted(counts.items()):
            say(f"  {label:<18} {count:>7}")
        say(f"  {sum(counts.values())} resources in {elapsed:.1f} s"
            + (f", {len(failures)} errors: {failures[:3]}" if failures else ", no errors"))

    # -- PingSource stand-in ------------------------------------------------------
    def tick(self, nutanixtype: str) -> int:
        """One PingSource delivery, exactly as knative/README.md describes it."""
        function, _, _ = SCHEDULES[nutanixtype]
        headers = {"ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping",
                   "ce-source": "/apis/v1/namespaces/cloudforet-nutanix/pingsources/local",
                   "ce-id": str(uuid.uuid4()), "ce-nutanixtype": nutanixtype,
                   "content-type": "application/json"}
        answer = requests.post(self.functions[function].url, data=b"{}", headers=headers,
                               timeout=300)
        return answer.status_code

    def scheduler(self, stop: threading.Event) -> None:
        due = {t: 0.0 for t in SCHEDULES}
        while not stop.wait(1.0):
            now = time.monotonic()
            for nutanixtype, (function, every, _) in SCHEDULES.items():
                if function in self.functions and now >= due[nutanixtype]:
                    due[nutanixtype] = now + every
                    with contextlib.suppress(requests.RequestException):
                        status = self.tick(nutanixtype)
                        say(f"  [schedule] {nutanixtype.split('.')[-2]}: HTTP {status}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Nutanix plugin suite locally.")
    parser.add_argument("--once", action="store_true", help="stop after the walk-through")
    parser.add_argument("--vms", type=int, default=600)
    parser.add_argument("--state-dir", default=str(ROOT / ".state" / "demo"))
    args = parser.parse_args(argv)
    demo = Demo(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        say("== Starting (logs in %s) ==" % demo.logs)
        demo.start_prism()
        for name in ("collect",):
            demo.start_function(name)
        for family in ("inventory",):
            demo.start_plugin(family)
        demo.inventory()
        if args.once:
            return 0
        say("\nServing. PingSource stand-ins: " + "; ".join(
            f"{t.split('.')[-2]} every {every}s (Knative: {cron})"
            for t, (_, every, cron) in SCHEDULES.items()))
        say("Press Ctrl-C to stop.")
        stop = threading.Event()
        threading.Thread(target=demo.scheduler, args=(stop,), daemon=True).start()
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
        stop.set()
        return 0
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
