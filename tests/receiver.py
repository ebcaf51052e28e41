"""A local HTTP server playing CloudForet's webhook URL: tests, benchmarks and the demo.

CloudForet's webhook endpoint takes a JSON object, hands it to the plugin's
`Event.parse` and stores what comes back (spec cloudforet/monitoring.md B.2).
`Receiver` does the same on 127.0.0.1: each POST is parsed by `parser`
(default: our own parse, in process; `grpc_parser(address)` asks a running
plugin endpoint, as CloudForet would) and every event is recorded, so a test
can count events per `event_key`. It can refuse (`fail_with(503)`) or go away
entirely (`stop()`, then `start()` again on the same port: connection refused
in between).

    with Receiver() as rx:
        ...  # NTNX_ALERT_FORWARD_URL = rx.url
        rx.wait_for_keys(12)
        assert not rx.duplicates()

`python -m tests.receiver [--port N] [--quiet]` serves until interrupted:
first line `{"url": ...}`, then one JSON line per event (what `make run`
shows as "arrived in CloudForet"). A GET on any path answers the counts
(`posts`, `events`, `keys` {event_key: n}): `counts(url)` reads them from
another process (the benchmark runs the receiver as its own process, so its
CPU is not the sender's).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Parser = Callable[[dict], list[dict]]

ACCESS_PATH = "/monitoring/v1/webhook/webhook-local/access-key-local/events"


def local_parser(body: dict) -> list[dict]:
    from shared.alerts.run import parse_body

    return parse_body(body)


def grpc_parser(address: str, family: str = "monitoring_webhook",
                options: dict | None = None) -> Parser:
    """Parse through a running plugin endpoint's Event.parse, like CloudForet does."""
    import grpc
    from google.protobuf import json_format
    from google.protobuf.struct_pb2 import Struct

    if family == "alert_manager_webhook":
        from spaceone.api.alert_manager.plugin import event_pb2, event_pb2_grpc
    else:
        from spaceone.api.monitoring.plugin import event_pb2, event_pb2_grpc
    channel = grpc.insecure_channel(address)
    stub = event_pb2_grpc.EventStub(channel)

    def parse(body: dict) -> list[dict]:
        data, opts = Struct(), Struct()
        data.update(body)
        opts.update(options or {})
        reply = stub.parse(event_pb2.ParseRequest(options=opts, data=data), timeout=60)
        return [json_format.MessageToDict(r, preserving_proto_field_name=True)
                for r in reply.results]

    return parse


class Receiver:
    def __init__(self, parser: Parser | None = None, *, port: int = 0,
                 on_event: Callable[[dict], None] | None = None) -> None:
        self.parser = parser or local_parser
        self.on_event = on_event
        self.port = port
        self.posts = 0
        self.parse_errors = 0
        self.events: list[dict] = []
        self.keys: Counter[str] = Counter()
        self._status = 200
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ACCESS_PATH}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real ingress
            disable_nagle_algorithm = True  # headers and body must not wait on delayed ACKs
            wbufsize = 64 * 1024  # one write per response, flushed after each request

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, reply = receiver._receive(raw)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self) -> None:  # noqa: N802 - what a test in another process reads
                with receiver._lock:
                    reply = json.dumps({"posts": receiver.posts,
                                        "parse_errors": receiver.parse_errors,
                                        "events": len(receiver.events),
                                        "keys": dict(receiver.keys)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True,
                                        name="receiver")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (the port is kept: `start()` serves the same URL again)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:  # kept-alive connections too: "down" means down
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    def __enter__(self) -> Receiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_with(self, status: int) -> None:
        """Answer every POST with `status` (200 again: `fail_with(200)`)."""
        self._status = status

    def _receive(self, raw: bytes) -> tuple[int, bytes]:
        if self._status != 200:
            return self._status, b'{"error": "receiver told to fail"}'
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):  # CloudForet's Struct conversion refuses arrays
                raise ValueError("not an object")
            events = self.parser(body)
        except Exception as err:  # noqa: BLE001 - CloudForet records a parse error, answers
            with self._lock:
                self.posts += 1
                self.parse_errors += 1
            return 200, json.dumps({"parse_error": type(err).__name__}).encode()
        with self._lock:
            self.posts += 1
            self.events.extend(events)
            self.keys.update(e["event_key"] for e in events)
            self._lock.notify_all()
        if self.on_event is not None:
            for event in events:
                self.on_event(event)
        return 200, b"{}"

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(event_key, event_type) seen more than once: an ALERT and its RECOVERY are two."""
        with self._lock:
            seen = Counter((e["event_key"], e["event_type"]) for e in self.events)
        return {pair: n for pair, n in seen.items() if n > 1}

    def wait_for_keys(self, count: int, timeout_s: float = 10.0) -> bool:
        """True once `count` distinct event keys have arrived."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self.keys) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True


def counts(url: str) -> dict:
    """What a receiver in another process has recorded (its GET answer)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - our own loopback URL
        return json.loads(resp.read())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--plugin", default="", help="host:port of a webhook plugin endpoint")
    parser.add_argument("--quiet", action="store_true", help="do not print events")
    args = parser.parse_args(argv)

    def show(event: dict) -> None:
        print(json.dumps({k: event.get(k) for k in ("event_key", "event_type", "severity",
                                                    "title", "occurred_at")}), flush=True)

    rx = Receiver(grpc_parser(args.plugin) if args.plugin else None, port=args.port,
                  on_event=None if args.quiet else show).start()
    print(json.dumps({"url": rx.url}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        rx.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
