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
from tests.receiver import grpc_parser

USERNAME, PASSWORD = "admin", "Nutanix/4u"  # the simulator's demo login
# PingSource stand-ins: knative/base/pingsources.yaml schedules, shortened for the demo
SCHEDULES = {  # nutanixtype -> (function, seconds between ticks, Knative schedule)
    "io.cloudforet.nutanix.cost.record.v1": ("cost", 60, "7 * * * * (hourly)"),
    "io.cloudforet.nutanix.alert.poll.v1": ("alert_ingest", 15, "* * * * * (every minute)"),
}


DEMO_WEBHOOK_TOKEN = "demo-token-change-me"  # noqa: S105 - the local demo's own token
DEMO_RATE_CARD = {"vcpu_hour": 0.012, "memory_gib_hour": 0.004, "storage_gib_month": 0.08,
                  "currency": "USD"}


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

    def start_receiver(self) -> None:
        """CloudForet's webhook URL: each POST goes to our Event.parse over gRPC."""
        from tests.receiver import Receiver

        self.receiver = self.stack.enter_context(Receiver())
        say(f"  CloudForet webhook stand-in {self.receiver.url}")

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

    def cost(self) -> None:
        from spaceone.api.cost_analysis.plugin import cost_pb2, cost_pb2_grpc
        from spaceone.api.cost_analysis.plugin import job_pb2 as cost_job_pb2
        from spaceone.api.cost_analysis.plugin import job_pb2_grpc as cost_job_pb2_grpc

        from shared.cost import summary

        say("\n== Cost: a PingSource record tick, then Job.get_tasks + Cost.get_data ==")
        status = self.tick("io.cloudforet.nutanix.cost.record.v1")
        say(f"  allocation snapshot recorded (HTTP {status})")
        channel = self.stack.enter_context(grpc.insecure_channel(self.plugins["cost"].url))
        month = time.strftime("%Y-%m", time.gmtime())
        request = cost_job_pb2.GetTasksRequest(start=f"{month}-01")
        request.options.update(DEMO_RATE_CARD)
        request.secret_data.update(self.secret)
        tasks = cost_job_pb2_grpc.JobStub(channel).get_tasks(request, timeout=120).tasks
        results = []
        for task in tasks:
            data = cost_pb2.GetDataRequest(task_options=task.task_options)
            data.options.update(DEMO_RATE_CARD)
            data.secret_data.update(self.secret)
            for message in cost_pb2_grpc.CostStub(channel).get_data(data, timeout=300):
                results.extend(message.results)
        names = {}
        if self.sim is not None:
            names = {c.ext_id: c.name for c in self.sim.inventory.aos_clusters}
        table = summary.from_cost_infos(results, month=month,
                                        currency=DEMO_RATE_CARD["currency"], names=names)
        say(f"  {len(results)} daily cost records from {len(tasks)} tasks (month {month}; "
            "days before the first snapshot are estimated)")
        say("  " + summary.render(table).replace("\n", "\n  "))

    def alerts(self) -> None:

        say("\n== Alerts: Prism pushes to alert_ingest, CloudForet's webhook parses ==")
        if self.sim is None:
            say("  (skipped: a real Prism Central pushes through your Playbooks)")
            return
        for severity, entity in (("CRITICAL", "vm"), ("WARNING", "host"), ("INFO", "cluster")):
            alert = self.sim.raise_alert(severity=severity, entity_type=entity)
            status = self.sim.post_webhook(self.functions["alert_ingest"].url, alert,
                                           {"X-Webhook-Token": DEMO_WEBHOOK_TOKEN})
            say(f"  Prism pushed a {severity} {entity} alert: HTTP {status}")
        self.receiver.wait_for_keys(3, timeout_s=15)
        for event in self.receiver.events[:6]:
            say(f"  arrived in CloudForet: [{event['severity']}] {event['event_type']} "
                f"{event['title'][:70]}")
        status = self.tick("io.cloudforet.nutanix.alert.poll.v1")
        say(f"  alert poll tick (the path that always works): HTTP {status}; "
            f"{len(self.receiver.keys)} distinct alerts in CloudForet so far")

    def notify(self) -> None:
        from tests.demo_notify import DEMO_SIGNING_KEY, WebhookReceiver, send_demo

        say("\n== Notify: Notification.dispatch to a webhook channel ==")
        with WebhookReceiver(signing_key=DEMO_SIGNING_KEY) as receiver:
            sent = send_demo(self.plugins["notification"].url, receiver.url)
            arrivals = receiver.wait_for(1, timeout_s=10)
        if not arrivals:
            raise RuntimeError("the webhook receiver got nothing")
        body = json.loads(arrivals[0]["body"])
        say(f"  dispatched in {sent['elapsed_ms']} ms; the receiver got "
            f"\"{body.get('title', '')}\" (signature valid: {arrivals[0]['signature_ok']})")

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
        say(f"== Starting (logs in {demo.logs}) ==")
        demo.start_prism()
        demo.start_receiver()
        for name in ("collect", "cost", "notify"):
            demo.start_function(name)
        demo.start_function("alert_ingest", {"NTNX_WEBHOOK_TOKEN": DEMO_WEBHOOK_TOKEN,
                                             "NTNX_ALERT_FORWARD_URL": demo.receiver.url})
        for family in ("inventory", "cost", "monitoring_webhook", "notification"):
            demo.start_plugin(family)
        demo.receiver.parser = grpc_parser(demo.plugins["monitoring_webhook"].url)
        demo.inventory()
        demo.cost()
        demo.alerts()
        demo.notify()
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
