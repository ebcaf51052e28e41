"""The simulator process side: HTTP(S) server, routing, auth, sessions, faults, counters.

One request goes: route (unknown path or unserved version -> 404 `{"message"}`)
-> latency -> injected `status`/`reset` faults -> auth -> rate limit -> the API
module -> injected `truncated`/`invalid_json` faults -> headers.

Auth (spec nutanix/README.md section 1): a valid session cookie wins; else a
non-empty `X-ntnx-api-key` (an empty one is ignored, as PC 2024.3 does); else
HTTP Basic. A Basic/API-key success counts as a login and opens a session:
every authenticated answer sets `NTNX_IAM_SESSION`, `NTNX_MERCURY_IAM_SESSION`
and `NTNX_MERCURY_IAM_REFRESH_TOKEN` (15 minutes, `Path=/; Secure; HttpOnly;
SameSite=Lax`; `Secure` is left out on plain HTTP so cookie jars send them
back). `/console` needs no auth. Every answer carries `Server: envoy`,
`X-Ntnx-Env: pc`, `X-Ntnx-Product`, `Cache-Control` and the rate-limit headers.

Concurrency: a thread per connection (daemon), HTTP/1.1 keep-alive, TLS
handshakes in the connection's thread, `TCP_NODELAY`, one write per answer.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
import socket
import ssl
import struct
import tempfile
import threading
import time
import traceback
from base64 import b64decode
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.simulator import v3, v4
from tests.simulator.faults import INVALID_BODY, Faults
from tests.simulator.inventory import Inventory
from tests.simulator.ratelimit import Limiter, RateLimits
from tests.simulator.wire import Match, Request, Response, not_found

DEFAULT_V4_VERSIONS = {"vmm": "v4.0", "clustermgmt": "v4.0", "networking": "v4.0",
                       "volumes": "v4.0", "prism": "v4.0", "monitoring": "v4.2"}
SESSION_S = 15 * 60
COOKIES = ("NTNX_IAM_SESSION", "NTNX_MERCURY_IAM_SESSION", "NTNX_MERCURY_IAM_REFRESH_TOKEN")
CONSOLE = b"<!DOCTYPE html><html><head><title>Prism Central</title></head><body></body></html>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections end after this

    def do_GET(self) -> None:
        self.server.sim._serve(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read counters, not access logs."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, sim: Simulator, context: ssl.SSLContext | None) -> None:
        self.sim = sim
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.context is not None:
            try:
                request.settimeout(_Handler.timeout)
                request = self.context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        with self.connections_lock:
            self.connections.add(request)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            with self.connections_lock:
                self.connections.discard(request)
            if self.context is not None:
                request.close()

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class Simulator:
    """A Prism Central on 127.0.0.1 serving v4 and v3 from an `Inventory` (see package doc)."""

    def __init__(self, inventory: Inventory, username: str = "admin",
                 password: str = "Nutanix/4u",  # noqa: S107 - the simulator's default login
                 api_key: str | None = None, tls: bool = True,
                 version: str = "pc.2024.3.1.1", serve_v4: bool = True, serve_v3: bool = True,
                 v4_versions: dict[str, str] | None = None, latency_s: float = 0.0,
                 rate_limits: RateLimits | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.inventory = inventory
        self.username = username
        self._password = password
        self._api_key = api_key
        self.tls = tls
        self.version = version if version.startswith("pc.") else f"pc.{version}"
        self.serve_v4, self.serve_v3 = serve_v4, serve_v3
        self.v4_versions = dict(DEFAULT_V4_VERSIONS if v4_versions is None else v4_versions)
        self.host, self.port = host, port
        self._latency_s = latency_s
        self.limiter = Limiter(rate_limits)
        self.faults = Faults()
        self.v4 = v4.V4Api(inventory, self.version, lambda: self.url)
        self.v3 = v3.V3Api(inventory, self.version, lambda: self.username)
        self._lock = threading.Lock()
        self._sessions: dict[str, float] = {}  # session token -> expiry (monotonic)
        self._in_flight = 0
        self.reset_counters()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.ca_pem: str | None = None
        self.ca_path: str | None = None
        self._context = self._tls_context() if tls else None

    def __repr__(self) -> str:
        return f"Simulator({self.url if self._server else 'stopped'}, {self.version})"

    # -- lifecycle ---------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA(organization_name="Prism Central simulator")
        names = ["127.0.0.1", "localhost", "::1"]
        if self.host not in names and self.host not in ("0.0.0.0", "::"):  # noqa: S104
            names.append(self.host)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*names).configure_cert(context)
        self.ca_pem = ca.cert_pem.bytes().decode()
        with tempfile.NamedTemporaryFile("w", suffix="-prism-sim-ca.pem", delete=False) as f:
            f.write(self.ca_pem)
            self.ca_path = f.name
        return context

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self) -> Simulator:
        self._server = _Server((self.host, self.port), self, self._context)
        self.port = self._server.server_address[1]
        self.refresh()  # cached items embed links with the base URL
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name=f"prism-sim-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self.ca_path:
            Path(self.ca_path).unlink(missing_ok=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- controls ----------------------------------------------------------

    def inject(self, path_regex: str, fault: str, *, times: int | None = None,
               status: int = 503, retry_after: float | None = None,
               delay_s: float = 0.0) -> None:
        self.faults.add(path_regex, fault, times=times, status=status,
                        retry_after=retry_after, delay_s=delay_s)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_rate_limits(self, limits: RateLimits | None) -> None:
        self.limiter.configure(limits)

    def set_latency(self, seconds: float) -> None:
        self._latency_s = seconds

    def prewarm(self) -> None:
        """Serialize every entity of both APIs now, so first list pages are served from cache.

        The CLI does this before it reports ready: a 20,000-VM benchmark must not
        measure first-time rendering (about 0.2 ms per entity and API).
        """
        for kind in v4.KINDS.values():
            for record in getattr(self.inventory, kind.name):
                self.v4.item(kind, record)
        for kind in v3.LISTS.values():
            for record in getattr(self.inventory, kind.word):
                self.v3.entity(kind, record)

    def refresh(self) -> None:
        """Forget cached serialized entities: call after editing inventory records."""
        self.inventory.reindex()
        self.v4.cache.clear()
        self.v3.cache.clear()

    @property
    def counters(self) -> dict:
        with self._lock:
            return copy.deepcopy(self._counters)

    def reset_counters(self) -> None:
        with self._lock:
            self._counters = {"requests": 0, "status": {}, "throttled": 0, "by_route": {},
                              "selects": {}, "logins": 0, "max_in_flight": self._in_flight,
                              "faults": 0}

    def raise_alert(self, severity: str = "CRITICAL", entity_type: str = "vm",
                    resolved: bool = False) -> dict:
        """A new alert created now, added to the inventory; returns its v4 object."""
        source = {"host": "node", "node": "node", "vm": "vm", "cluster": "cluster"}.get(
            entity_type, entity_type)
        with self._lock:
            now = datetime.now(UTC)
            record = self.inventory.add_alert(created=now, updated=now, severity=severity,
                                              source_type=source, resolved=resolved)
        return self.v4.item_dict(v4.KINDS["alerts"], record)

    def webhook_vm_event(self, vm_ext_id: str, event_type: str = "VM.ON") -> dict:
        """A body shaped like fixture webhook-vm-event.json for that VM."""
        vm = self.inventory.find("vms", vm_ext_id)
        if vm is None:
            raise KeyError(f"no VM {vm_ext_id}")
        intent = self.v3.render.vm(vm)
        return {"entity_reference": {"kind": "vm", "uuid": vm.ext_id},
                "data": {"metadata": {"status": intent["status"], "spec": intent["spec"],
                                      "api_version": v3.API_VERSION,
                                      "metadata": intent["metadata"]}},
                "version": "1.0", "event_type": event_type}

    def post_webhook(self, url: str, body: Any, headers: dict[str, str] | None = None) -> int:
        """POST a JSON body to `url` as Prism would push it; returns the HTTP status."""
        return requests.post(url, json=body, headers=headers or {}, timeout=30).status_code

    # -- request path ------------------------------------------------------

    def _count(self, key: str, sub: Any = None) -> None:
        with self._lock:
            if sub is None:
                self._counters[key] += 1
            else:
                bucket = self._counters[key]
                bucket[sub] = bucket.get(sub, 0) + 1

    def _route(self, req: Request) -> tuple[Match | None, str, str]:
        """(match, family, namespace); family is "v4", "v3" or "" (no API envelope)."""
        path = req.path
        if path == "/console" or path.startswith("/console/"):
            return Match("console", "", lambda r: Response(200, CONSOLE, content_type=(
                "text/html; charset=utf-8"))), "", ""
        parts = path.split("/", 4)  # "", "api", ns, version, rest
        if len(parts) < 4 or parts[1] != "api":
            return None, "", ""
        ns, version = parts[2], parts[3]
        rest = parts[4] if len(parts) > 4 else ""
        if ns == "nutanix" and version == "v3":
            req.namespace, req.version = ns, version
            match = self.v3.match(req.method, rest) if self.serve_v3 else None
            return match, "v3", ns
        highest = self.v4_versions.get(ns) if self.serve_v4 else None
        if highest is None:
            return None, "", ""
        if version == "unversioned" and rest == "info" and req.method in ("OPTIONS", "GET"):
            return Match(f"{ns}/unversioned/info", f"{ns}.info",
                         lambda r: Response.of(200, {"data": highest})), "v4", ns
        served = version.startswith("v4.") and version[3:].isdigit() and \
            v4.minor(version) <= v4.minor(highest)
        if not served or req.method != "GET":
            return None, "", ""
        req.namespace, req.version = ns, version
        return self.v4.match(ns, rest), "v4", ns

    def _error(self, family: str, ns: str, status: int, **headers: str) -> Response:
        if family == "v4":
            return v4.status_error(ns, status, **headers)
        if family == "v3":
            return v3.status_error(status, **headers)
        return Response.of(status, {"message": HTTPStatus(status).phrase}, **headers)

    def _authenticate(self, req: Request, target: str) -> tuple[bool, str | None]:
        """(authenticated, session token to set); counts logins, honours expired_auth."""
        cookies = {}
        for part in req.headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            cookies[name] = value
        tokens = [cookies[c] for c in COOKIES[:2] if c in cookies]
        now = time.monotonic()
        with self._lock:
            live = next((t for t in tokens if self._sessions.get(t, 0) > now), None)
        if live is not None:
            if self.faults.take(target, ("expired_auth",)):
                self._count("faults")
                with self._lock:
                    self._sessions.pop(live, None)
                return False, None
            with self._lock:
                self._sessions[live] = now + SESSION_S
            return True, live
        key = req.headers.get("x-ntnx-api-key", "").strip()
        if key:
            ok = self._api_key is not None and secrets.compare_digest(key, self._api_key)
        else:
            ok = self._basic_ok(req.headers.get("authorization", ""))
        if not ok:
            return False, None
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[token] = now + SESSION_S
            self._counters["logins"] += 1
        return True, token

    def _basic_ok(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = b64decode(encoded.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user.encode(), self.username.encode()) and \
            secrets.compare_digest(password.encode(), self._password.encode())

    def _cookie_headers(self, token: str) -> list[str]:
        expires = (datetime.now(UTC) + timedelta(seconds=SESSION_S)).strftime(
            "%a, %d-%b-%Y %H:%M:%S GMT")
        secure = ";Secure" if self.tls else ""
        values = (token, token, f"refresh-{token}")
        return [f"{name}={value};Expires={expires};Path=/{secure};HttpOnly;SameSite=Lax"
                for name, value in zip(COOKIES, values, strict=True)]

    def _answer(self, req: Request, target: str) -> tuple[Response | None, str, list[str], Any]:
        """(response or None for a reset, route key, Set-Cookie values, post fault)."""
        match, family, ns = self._route(req)
        if match is None:
            return not_found(), f"{req.method} (unmatched)", [], None
        route_key = f"{req.method} {match.name}"
        fault = self.faults.take(target, ("latency",))
        if fault:
            self._count("faults")
            time.sleep(fault.delay_s)
        fault = self.faults.take(target, ("status", "reset"))
        if fault:
            self._count("faults")
            if fault.kind == "reset":
                return None, route_key, [], None
            extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
            return self._error(family, ns, fault.status, **extra), route_key, [], None
        cookies: list[str] = []
        if family:
            ok, token = self._authenticate(req, target)
            if not ok:
                return self._error(family, ns, 401), route_key, [], None
            cookies = self._cookie_headers(token)
        decision = self.limiter.check(match.api if family else None, consume=bool(family))
        if not decision.allowed:
            self._count("throttled")
            response = self._error(family, ns, 429,
                                   **{"Retry-After": str(decision.retry_after)})
        else:
            response = match.call(req)
        response.headers.update(decision.headers)
        post = self.faults.take(target, ("truncated", "invalid_json"))
        if post:
            self._count("faults")
        return response, route_key, cookies, post

    def _serve(self, handler: _Handler) -> None:
        with self._lock:
            self._in_flight += 1
            self._counters["requests"] += 1
            self._counters["max_in_flight"] = max(self._counters["max_in_flight"],
                                                  self._in_flight)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
            split = urlsplit(handler.path)
            req = Request(handler.command, split.path,
                          parse_qsl(split.query, keep_blank_values=True),
                          {k.lower(): v for k, v in handler.headers.items()}, body)
            if self._latency_s > 0:
                time.sleep(self._latency_s)
            try:
                response, route_key, cookies, post = self._answer(req, handler.path)
            except Exception:  # a simulator bug: answer 500 and keep serving
                traceback.print_exc()
                response, route_key, cookies, post = Response.of(
                    500, {"message": "simulator error"}), f"{req.method} (error)", [], None
            self._count("by_route", route_key)
            select = dict(req.query).get("$select")
            if select is not None:  # which fields clients ask for, per route
                self._count("selects", f"{route_key} {select}")
            if response is None:
                self._reset(handler)
                return
            if "X-Ratelimit-Limit" not in response.headers:
                response.headers.update(self.limiter.check(None, consume=False).headers)
            self._count("status", response.status)
            self._write(handler, response, cookies, post)
        finally:
            with self._lock:
                self._in_flight -= 1

    @staticmethod
    def _reset(handler: _Handler) -> None:
        handler.close_connection = True
        conn = handler.connection
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def _write(self, handler: _Handler, response: Response, cookies: list[str], post) -> None:
        body, content_type = response.body, response.content_type
        if post is not None and post.kind == "invalid_json":
            body = INVALID_BODY
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
                   ("Date", formatdate(usegmt=True)), ("Server", "envoy"),
                   ("X-Envoy-Upstream-Service-Time", "3"), ("X-Ntnx-Env", "pc"),
                   ("X-Ntnx-Product", self.version),
                   ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
                   ("Pragma", "no-cache"), ("Expires", "0"), ("X-Content-Type-Options", "nosniff"),
                   ("X-Frame-Options", "SAMEORIGIN")]
        if self.tls:
            headers.append(("Strict-Transport-Security", "max-age=8640000:includeSubdomains"))
        headers += list(response.headers.items())
        headers += [("Set-Cookie", c) for c in cookies]
        if post is not None and post.kind == "truncated":
            body = body[:len(body) // 2]
            handler.close_connection = True
        if handler.close_connection:
            headers.append(("Connection", "close"))
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        try:
            handler.wfile.write(head.encode("latin-1") + body)
        except OSError:
            handler.close_connection = True
