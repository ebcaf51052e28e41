"""The notify demo, and the webhook receiver that tests and the benchmark use too.

`make run` shows one notification going the way CloudForet sends it:
Notification.dispatch on the plugin endpoint (family `notification`) -> the
notify function -> a signed JSON POST to a local webhook receiver.

    rx = WebhookReceiver(signing_key=DEMO_SIGNING_KEY).start()
    sent = send_demo("127.0.0.1:50051", rx.url)      # one dispatch through gRPC
    (arrival,) = rx.wait_for(1)                      # path, headers, body, signature_ok

or all of it, receiver included: `run_demo(plugin_address) -> dict`.

    python -m tests.demo_notify --plugin HOST:PORT   dispatch to an own receiver, print it
    python -m tests.demo_notify                      start notify + plugin too (temp state)
    python -m tests.demo_notify --receive [--port N] only serve: `{"url": ...}`, then one
                                                     JSON line per notification received

`WebhookReceiver` records every POST and checks its X-Nutanix-Signature with
the recipe documented in shared/notify/channels.py (written out here again,
so the check is independent of the sender's code); `script` makes it answer
(status, headers, delay_s) entries in turn, then 200.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEMO_SIGNING_KEY = "demo-signing-key"  # a demo value, not a secret
DEMO_PATH = "/hooks/demo"
DEMO_MESSAGE = {
    "title": "[Alerting] Nutanix cluster-a CPU usage 95%",
    "description": "Cluster cluster-a has been above 90% CPU for 10 minutes.",
    "link": "https://console.example.com/alert-public-detail?alert_url=demo",
    "tags": [{"key": "Cluster", "value": "cluster-a", "options": {"short": True}},
             {"key": "Severity", "value": "CRITICAL", "options": {"short": True}},
             {"key": "Project", "value": "demo"}],
    "callbacks": [{"label": "Acknowledge", "url": "https://console.example.com/ack/demo"}],
    "domain_name": "demo",
}


def signature_ok(key: str, headers: dict, body: bytes, *, max_skew_s: float = 300) -> bool:
    """The receiver's side of X-Nutanix-Signature (recipe in shared/notify/channels.py)."""
    ts, given = headers.get("X-Nutanix-Timestamp", ""), headers.get("X-Nutanix-Signature", "")
    if not ts.isdigit() or not given:
        return False
    mac = hmac.new(key.encode(), ts.encode() + b"." + body, hashlib.sha256)
    return (hmac.compare_digest("sha256=" + mac.hexdigest(), given)
            and abs(time.time() - int(ts)) <= max_skew_s)


class WebhookReceiver:
    """A local webhook/Slack/Teams receiver on 127.0.0.1: records POSTs, answers a script."""

    def __init__(self, *, signing_key: str = "", port: int = 0, on_post=None) -> None:
        self.signing_key = signing_key
        self.port = port
        self.on_post = on_post
        self.received: list[dict] = []
        self.script: list[tuple[int, dict, float]] = []
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{DEMO_PATH}"

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, delay = receiver._next()
                if delay:
                    time.sleep(delay)  # a slow receiver: the sender times out first
                arrival = {"path": self.path, "headers": dict(self.headers), "body": body,
                           "status": status}
                if receiver.signing_key:
                    arrival["signature_ok"] = signature_ok(receiver.signing_key,
                                                           arrival["headers"], body)
                with receiver._lock:  # before answering: a sender told 200 finds it recorded
                    receiver.received.append(arrival)
                    receiver._lock.notify_all()
                reply = b"ok" if status < 300 else b"invalid_payload"
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                if receiver.on_post is not None:
                    receiver.on_post(arrival)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True, name="webhook-rx").start()
        return self

    def _next(self) -> tuple[int, dict, float]:
        with self._lock:
            return self.script.pop(0) if self.script else (200, {}, 0.0)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.script.clear()

    def delivered(self, path: str | None = None) -> list[dict]:
        """The 2xx-answered arrivals (on `path`), in order."""
        with self._lock:
            return [a for a in self.received
                    if a["status"] < 300 and (path is None or a["path"] == path)]

    def json(self, index: int = 0) -> dict:
        """The body of arrival `index`, parsed."""
        with self._lock:
            return json.loads(self.received[index]["body"])

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict]:
        """The arrivals once there are `count` (fewer if the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self.received) < count and time.monotonic() < deadline:
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            return list(self.received)

    def __enter__(self) -> WebhookReceiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dispatch(plugin_address: str, request: dict, *, family: str = "notification",
             timeout_s: float = 60.0) -> None:
    """Notification.dispatch as CloudForet calls it (request as a dict, enum by name)."""
    import grpc
    from google.protobuf import json_format

    if family == "alert_manager_notification":
        from spaceone.api.alert_manager.plugin import notification_pb2, notification_pb2_grpc
        message = notification_pb2.DispatchRequest()
    else:
        from spaceone.api.notification.plugin import notification_pb2, notification_pb2_grpc
        message = notification_pb2.PluginDispatchRequest()
    with grpc.insecure_channel(plugin_address) as channel:
        stub = notification_pb2_grpc.NotificationStub(channel)
        stub.dispatch(json_format.ParseDict(request, message), timeout=timeout_s)


def send_demo(plugin_address: str, receiver_url: str, *,
              signing_key: str = DEMO_SIGNING_KEY) -> dict:
    """One signed webhook notification through the endpoint; what was sent and how long."""
    message = {**DEMO_MESSAGE, "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                            time.gmtime())}
    request = {"options": {"channel": "webhook"}, "secret_data": {"signing_key": signing_key},
               "channel_data": {"url": receiver_url}, "message": message,
               "notification_type": "WARNING"}
    began = time.perf_counter()
    dispatch(plugin_address, request)
    return {"channel": "webhook", "receiver_url": receiver_url, "title": message["title"],
            "notification_type": "WARNING",
            "elapsed_ms": round((time.perf_counter() - began) * 1000, 1)}


def run_demo(plugin_address: str) -> dict:
    """send_demo to a receiver of our own; the sent summary, the received JSON, the check."""
    with WebhookReceiver(signing_key=DEMO_SIGNING_KEY) as rx:
        sent = send_demo(plugin_address, rx.url)
        arrivals = rx.wait_for(1, timeout_s=5)
    if not arrivals:
        raise RuntimeError("the webhook receiver got nothing")
    arrival = arrivals[0]
    return {"sent": sent, "received": json.loads(arrival["body"]),
            "signature_ok": arrival["signature_ok"],
            "idempotency_key": arrival["headers"].get("Idempotency-Key")}


def _with_own_stack() -> dict:
    """notify + plugin (family notification) on free ports, a temporary state folder."""
    from tests.processes import start_function, start_plugin

    with tempfile.TemporaryDirectory() as tmp:
        env = {"NTNX_STATE_URL": f"file://{tmp}/state"}
        logs = Path(tmp) / "logs"
        notify = start_function("notify", env, log_dir=logs)
        try:
            plugin = start_plugin("notification", {**env, "NTNX_NOTIFY_URL": notify.url},
                                  log_dir=logs)
            try:
                return run_demo(plugin.url)
            finally:
                plugin.stop()
        finally:
            notify.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", default="", help="host:port of a notification endpoint")
    parser.add_argument("--receive", action="store_true", help="only serve a receiver")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if args.receive:
        def show(arrival: dict) -> None:
            body = json.loads(arrival["body"] or b"{}")
            print(json.dumps({"path": arrival["path"], "signature_ok":
                              arrival.get("signature_ok"), "body": body}), flush=True)

        rx = WebhookReceiver(signing_key=DEMO_SIGNING_KEY, port=args.port, on_post=show).start()
        print(json.dumps({"url": rx.url}), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            rx.stop()
        return
    result = run_demo(args.plugin) if args.plugin else _with_own_stack()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    sys.exit(0 if result["signature_ok"] else 1)


if __name__ == "__main__":
    main()
