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
import time
from collections.abc import Callable
from dataclasses import replace
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
from shared.prism import Connection, KindPlan, PrismClient, paging, sessions
from shared.prism.kinds import vms
from shared.prism.pacing import Limiter
from shared.prism.paging import Page, iter_pages
from shared.prism.transport import Transport, parse_retry_after
from shared.retry import RetryPolicy
from tests.conftest import PRISM_PASSWORD, PRISM_USERNAME
from tests.simulator import Inventory, Simulator

FIXTURES = Path(__file__).parent / "fixtures" / "nutanix"
PASSWORD = "Nutanix/4u-s3cr3t"  # for servers that are not the simulator
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


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6)
SECRET_KEYS = ("host", "port", "username", "password", "api_key", "ca_pem", "verify_tls")


@given(st.dictionaries(st.sampled_from(SECRET_KEYS), JSONISH, max_size=7),
       st.dictionaries(st.sampled_from(("api", "concurrency", "timeout_s", "other")), JSONISH,
                       max_size=4))
def test_any_secret_yields_a_connection_or_invalid_input(secret, options):
    for key in ("password", "api_key"):
        if isinstance(secret.get(key), str):
            secret[key] = "Zq9#" + secret[key]  # a value no message could contain by chance
    try:
        conn = Connection.from_secret(secret, options)
    except InvalidInput as err:
        assert err.problems
        for key in ("password", "api_key"):
            if isinstance(secret.get(key), str):
                assert secret[key] not in str(err)
    else:
        assert conn.host and 1 <= conn.port <= 65535 and conn.api in ("auto", "v3", "v4")
        assert conn.api_key or (conn.username and conn.password)


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


def test_window_yields_in_order_and_stops_fetching_when_the_consumer_stops():
    fetched: list[int] = []
    lock = threading.Lock()

    def fetch(number: int) -> Page:
        time.sleep(0.001 * ((7 * number) % 5))  # finish out of order
        with lock:
            fetched.append(number)
        return Page(number, [number], 100)

    pages = iter_pages(fetch, Page(0, [0], 100), 100, workers=4)
    assert [next(pages).number for _ in range(10)] == list(range(10))
    pages.close()
    # never more than the window ahead of the consumer
    assert len(fetched) <= 9 + paging.LOOKAHEAD * 4


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
    read = {
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
    return {read(m) for m in models}


@pytest.mark.parametrize("api", ["v4", "v3"])
def test_every_kind_matches_the_inventory(prism_sim, prism_inventory, api):
    with client_for(prism_sim, api=api) as client:
        for kind in KINDS:
            models = list(client.iter_kind(kind))
            assert len(models) == len(expected(prism_inventory, kind)), kind
            assert seen(kind, models) == expected(prism_inventory, kind), kind


def comparable(model):
    """v3 and v4 agree on everything but the documented gaps (models.py)."""
    if hasattr(model, "project_ext_id"):
        model = replace(model, project_ext_id=None)  # v4 GA VMs carry no project
    if type(model).__name__ == "CategoryValue":
        model = replace(model, ext_id=None)  # v3 category values have no ext_id
    if getattr(model, "is_prism_central", False):
        # the PC pseudo-cluster differs for real: v4 counts its one node and has no
        # external address, v3 the reverse (fixtures v4-/v3-clusters-list.json)
        model = replace(model, num_nodes=None, external_ip=None)
    return model


KNOWN_GAPS = {  # v3/v4 differences the parsers or the simulator still have (see report)
    "hosts": "v3 host parser leaves hypervisor_type, cpu_threads, cpu_frequency_hz unset",
    "alerts": "v3 alerts lack cluster_ext_id and render {ref_msg} unfilled",
}


@pytest.mark.parametrize("kind", [
    pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[k]))
    if k in KNOWN_GAPS else k for k in KINDS])
def test_forced_v3_and_v4_give_equal_models(prism_sim_http, kind):
    with client_for(prism_sim_http, api="v4") as v4, client_for(prism_sim_http, api="v3") as v3:
        from_v4 = sorted(map(comparable, v4.iter_kind(kind)), key=repr)
        from_v3 = sorted(map(comparable, v3.iter_kind(kind)), key=repr)
    assert from_v4 == from_v3
    assert from_v4


def test_auto_logs_its_choice_once_per_kind(prism_sim_http, caplog):
    caplog.set_level(logging.INFO, logger="shared.prism.client")
    with client_for(prism_sim_http) as client:
        for _ in range(2):
            for kind in KINDS:
                assert list(client.iter_kind(kind)), kind
    choices = [(r.kind, r.api) for r in caplog.records if hasattr(r, "api")]
    assert sorted(k for k, _ in choices) == sorted(KINDS)
    assert dict(choices)["projects"] == "v3"  # v4 GA has no projects
    assert dict(choices)["vms"] == "v4"  # 45 VMs fit one v4 page: nothing is faster


def test_auto_probes_both_apis_of_a_big_kind_at_once(prism_sim_http, prism_inventory):
    """VMs: the v4 probe (a whole page, 45 VMs fit) and the v3 one are in flight together."""
    with client_for(prism_sim_http) as client:
        client.plan("clusters")  # sign in first: the first request goes alone (login)
        prism_sim_http.set_latency(0.2)
        prism_sim_http.reset_counters()
        assert len(list(client.iter_vms())) == len(prism_inventory.vms)
    counters = prism_sim_http.counters
    assert counters["by_route"] == {"GET vmm/vms": 1, "POST v3/vms/list": 1,
                                    "GET prism/categories": 1}  # v4 refs: the map
    assert counters["max_in_flight"] == 2


@pytest.mark.parametrize("api", ["v4", "v3"])
@pytest.mark.parametrize("page_size", [45, 15, 20, 7, 1000])
def test_page_edges_lose_and_repeat_nothing(prism_sim, prism_inventory, api, page_size):
    """Exactly one page, page boundaries (15 x 3), a last partial page (20, 7), one big page."""
    with client_for(prism_sim, api=api, page_size=page_size) as client:
        vms = list(client.iter_vms())
    assert len(vms) == len({v.ext_id for v in vms}) == len(prism_inventory.vms)
    route = "GET vmm/vms" if api == "v4" else "POST v3/vms/list"
    size = min(page_size, 100 if api == "v4" else 500)
    assert prism_sim.counters["by_route"][route] == -(-45 // size)


@pytest.fixture(scope="module")
def empty_sim():
    inv = Inventory.generate(clusters=1, hosts_per_cluster=1, vms=0, images=0, volume_groups=0,
                             alerts=0, categories=0, seed=1)
    with Simulator(inv, tls=False) as sim:
        yield sim


@pytest.mark.parametrize("api", ["v4", "v3"])
def test_empty_lists_yield_nothing(empty_sim, api):
    with client_for(empty_sim, api=api) as client:
        for kind in ("vms", "images", "volume_groups", "alerts", "categories"):
            assert list(client.iter_kind(kind)) == [], kind
        assert client.plan("vms") == KindPlan("vms", api, 0, 100 if api == "v4" else 500, 0)


@pytest.mark.parametrize("api", ["v4", "v3"])
def test_shards_from_a_plan_cover_the_listing_once(prism_sim_http, prism_inventory, api):
    with client_for(prism_sim_http, api=api, page_size=10) as client:
        plan = client.plan("vms")
        assert (plan.api, plan.total, plan.page_size, plan.pages) == (api, 45, 10, 5)
        shards = [range(0, 2), range(2, 4), range(4, 5), range(5, 7)]  # the last is past the end
        found = [vm.ext_id for shard in shards
                 for vm in client.iter_kind("vms", api=plan.api, pages=shard,
                                            page_size=plan.page_size)]
    assert sorted(found) == sorted(v.ext_id for v in prism_inventory.vms)


# -- faults --------------------------------------------------------------------------------


def test_429_waits_retry_after_then_succeeds(prism_sim, prism_inventory):
    prism_sim.inject(r"ahv/config/vms", "status", status=429, retry_after=1, times=1)
    delays: list[float] = []
    with client_for(prism_sim, api="v4", sleep=delays.append) as client:
        vms = list(client.iter_vms())
        metrics = client.metrics
    assert len(vms) == len(prism_inventory.vms)
    assert metrics["throttled"] == 1 and metrics["retries"] == 1
    assert max(delays) >= 1.0  # Retry-After is a floor for the backoff


@pytest.mark.parametrize(("fault", "status"), [("status", 503), ("status", 502),
                                                ("status", 504), ("reset", 0)])
def test_transient_failures_are_retried(prism_sim, prism_inventory, fault, status):
    prism_sim.inject(r"ahv/config/vms", fault, status=status or 503, times=2)
    with client_for(prism_sim, api="v4") as client:
        assert len(list(client.iter_vms())) == len(prism_inventory.vms)
        assert client.metrics["retries"] == 2


def test_v4_vm_pages_ask_for_the_fields_the_parser_reads(prism_sim, prism_inventory):
    with client_for(prism_sim, api="v4") as client:
        listed = list(client.iter_vms())
    with client_for(prism_sim, api="v3") as client:
        from_v3 = [replace(vm, project_ext_id=None) for vm in client.iter_vms()]
    assert listed == from_v3  # the same VMs from whole v3 entities, projected when decoded
    selects = prism_sim.counters["selects"]
    assert selects == {f"GET vmm/vms {','.join(vms.SPEC.v4_fields.fields)}":
                       prism_sim.counters["by_route"]["GET vmm/vms"]}
    assert any(vm.nics and vm.disks and vm.categories for vm in listed)


def test_a_prism_central_that_refuses_select_gets_whole_items(prism_sim, prism_inventory,
                                                               caplog):
    prism_sim.inject(r"ahv/config/vms\?.*\$select=", "status", status=400)  # every time
    with client_for(prism_sim, api="v4", page_size=20) as client:
        listed = list(client.iter_vms())
    with client_for(prism_sim, api="v4") as client:
        prism_sim.clear_faults()
        assert listed == list(client.iter_vms())
    assert len(listed) == len(prism_inventory.vms)
    assert prism_sim.counters["status"].get(400) == 1  # asked once, then no more
    assert "refused $select" in caplog.text


@pytest.mark.parametrize("fault", ["truncated", "invalid_json"])
def test_unparsable_answers_are_bad_response_and_not_retried(prism_sim, fault):
    prism_sim.inject(r"ahv/config/vms", fault, times=1)
    with client_for(prism_sim, api="v4") as client, pytest.raises(BadResponse):
        list(client.iter_vms())
    assert prism_sim.counters["by_route"]["GET vmm/vms"] == 1


def test_expired_session_logs_in_again_and_continues(prism_sim, prism_inventory):
    prism_sim.inject(r"\$page=2\b", "expired_auth", times=1)
    with client_for(prism_sim, api="v4", page_size=10) as client:
        vms = list(client.iter_vms())
        assert client.metrics["logins"] == 2
    assert len({v.ext_id for v in vms}) == len(prism_inventory.vms)
    assert prism_sim.counters["logins"] == 2


def test_retries_stop_at_the_policy(prism_sim):
    prism_sim.inject(r"ahv/config/vms", "status", status=503)
    with client_for(prism_sim, api="v4") as client, pytest.raises(Unavailable, match="503"):
        list(client.iter_vms())
    assert prism_sim.counters["by_route"]["GET vmm/vms"] == FAST.attempts


# -- auth and TLS --------------------------------------------------------------------------


def test_wrong_password_is_authentication_failed_without_the_secret(prism_sim, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-" + PASSWORD
    client = PrismClient(connect(prism_sim, password=wrong), retry=FAST, limiter=Limiter())
    with client, pytest.raises(AuthenticationFailed) as caught:
        client.check()
    assert "Authentication required." in str(caught.value)
    with client_for(prism_sim) as good:  # the lines a working client logs, too
        list(good.iter_vms())
    captured = capsys.readouterr()
    text = caplog.text + captured.out + captured.err + repr(caught.value) + repr(client.metrics)
    for secret in (wrong, PRISM_PASSWORD):
        assert secret not in text
    assert prism_sim.counters["status"].get(401) == 1  # a bad login is not retried


@pytest.fixture(scope="module")
def key_sim(prism_inventory):
    with Simulator(prism_inventory, api_key="k3y-s3cr3t", tls=False) as sim:
        yield sim


def test_api_key_authenticates_and_a_wrong_key_fails(key_sim, prism_inventory):
    good = Connection.from_secret({"host": key_sim.url, "api_key": "k3y-s3cr3t"})
    with PrismClient(good, retry=FAST, limiter=Limiter()) as client:
        assert len(list(client.iter_vms())) == len(prism_inventory.vms)
    bad = Connection.from_secret({"host": key_sim.url, "api_key": "nope"})
    with PrismClient(bad, retry=FAST, limiter=Limiter()) as client, \
            pytest.raises(AuthenticationFailed):
        list(client.iter_vms())


def test_tls_is_verified_with_the_ca_as_path_or_pem(prism_sim_https, prism_inventory):
    for ca in (prism_sim_https.ca_path, prism_sim_https.ca_pem):
        conn = connect(prism_sim_https, ca_pem=ca)
        with PrismClient(conn, retry=FAST, limiter=Limiter()) as client:
            assert len(list(client.iter_clusters())) == len(prism_inventory.clusters)


def test_tls_without_the_ca_is_refused(prism_sim_https):
    prism_sim_https.reset_counters()
    conn = Connection.from_secret({"host": prism_sim_https.url, "username": PRISM_USERNAME,
                                   "password": PRISM_PASSWORD})
    with PrismClient(conn, retry=FAST, limiter=Limiter()) as client, \
            pytest.raises(InvalidInput, match="TLS verification"):
        client.check()
    assert prism_sim_https.counters["requests"] == 0  # refused before anything was sent


def test_insecure_switch_skips_verification(prism_sim_https, prism_inventory):
    conn = Connection.from_secret({"host": prism_sim_https.url, "username": PRISM_USERNAME,
                                   "password": PRISM_PASSWORD, "verify_tls": False})
    with PrismClient(conn, retry=FAST, limiter=Limiter()) as client:
        assert len(list(client.iter_hosts())) == len(prism_inventory.hosts)


# -- detection -----------------------------------------------------------------------------


def test_check_reports_version_and_served_apis(prism_sim):
    with client_for(prism_sim) as client:
        info = client.check()
    assert info.product == "pc.2024.3.1.1" and info.v3
    assert info.serves("vmm", "v4.0") and info.serves("monitoring", "v4.2")
    assert set(info.v4) == {"vmm", "clustermgmt", "networking", "volumes", "prism",
                            "monitoring"}


@pytest.fixture(scope="module")
def v3_only_sim(prism_inventory):
    with Simulator(prism_inventory, serve_v4=False, version="pc.2022.6", tls=False) as sim:
        yield sim


@pytest.fixture(scope="module")
def v4_only_sim(prism_inventory):
    with Simulator(prism_inventory, serve_v3=False, tls=False) as sim:
        yield sim


def test_v3_only_prism_central_is_read_through_v3(v3_only_sim, prism_inventory):
    with client_for(v3_only_sim) as client:
        info = client.check()
        assert (info.product, info.v3, dict(info.v4)) == ("pc.2022.6", True, {})
        for kind in KINDS:
            assert seen(kind, list(client.iter_kind(kind))) == expected(prism_inventory, kind)
        assert client.plan("vms").api == "v3"


def test_v4_only_prism_central_has_no_projects(v4_only_sim, prism_inventory):
    with client_for(v4_only_sim) as client:
        assert not client.check().v3
        assert seen("vms", list(client.iter_vms())) == expected(prism_inventory, "vms")
        with pytest.raises(NotFound):
            list(client.iter_projects())


# -- alerts and stats ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def alerts_v40_sim(prism_inventory):
    versions = {"vmm": "v4.0", "clustermgmt": "v4.0", "networking": "v4.0", "volumes": "v4.0",
                "prism": "v4.0", "monitoring": "v4.0"}
    with Simulator(prism_inventory, v4_versions=versions, tls=False) as sim:
        yield sim


@pytest.mark.parametrize(("where", "api"), [("v4.2", "auto"), ("v4.0", "auto"), ("v3", "v3")])
def test_alerts_since_a_watermark_oldest_first(prism_sim_http, alerts_v40_sim, prism_inventory,
                                               where, api):
    """v4.2 filters on the server (a server ignoring it would fail this); v4.0 and v3 here."""
    sim = alerts_v40_sim if where == "v4.0" else prism_sim_http
    times = sorted(a.last_updated_time for a in prism_inventory.alerts)
    since = times[len(times) // 2]
    want = [a.ext_id for a in sorted(prism_inventory.alerts, key=lambda a: a.last_updated_time)
            if a.last_updated_time > since]
    with client_for(sim, api=api) as client:
        got = list(client.iter_alerts(since=since))
        everything = list(client.iter_alerts())
    assert [a.ext_id for a in got] == want
    assert len(everything) == len(prism_inventory.alerts)


def test_stats_of_a_vm_a_cluster_and_a_host(prism_sim, prism_inventory):
    vm = next(v for v in prism_inventory.vms if v.power_state == "ON")
    cluster = prism_inventory.aos_clusters[0]
    host = next(h for h in prism_inventory.hosts if h.cluster_ext_id == cluster.ext_id)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    start = end - timedelta(hours=1)
    with client_for(prism_sim) as client:
        for series in (client.vm_stats(vm.ext_id, start, end, interval_s=300),
                       client.cluster_stats(cluster.ext_id, start, end, interval_s=300),
                       client.host_stats(cluster.ext_id, host.ext_id, start, end,
                                         interval_s=300, stat="MAX")):
            assert series and all(s.points for s in series)
            assert all(p[0] <= q[0] for s in series for p, q in zip(s.points, s.points[1:],
                                                                    strict=False))
        with pytest.raises(InvalidInput):
            client.vm_stats(vm.ext_id, end, start, interval_s=0, stat="MEDIAN")


# -- sessions and concurrency --------------------------------------------------------------


def test_one_login_then_cookies_and_bounded_concurrency(prism_sim, prism_inventory):
    prism_sim.set_latency(0.02)
    with client_for(prism_sim, api="v4", page_size=5, concurrency=3) as client:
        assert len(list(client.iter_vms())) == len(prism_inventory.vms)
        metrics = client.metrics
    counters = prism_sim.counters
    assert counters["logins"] == 1 == metrics["logins"]
    assert counters["requests"] == metrics["requests"]
    assert 1 < counters["max_in_flight"] <= 3


def test_the_next_client_with_the_same_credentials_keeps_the_session(prism_sim):
    """A warm function's next call starts with the cookies: no serialised login first."""
    with client_for(prism_sim, api="v4") as first:
        assert list(first.iter_clusters())
    with client_for(prism_sim, api="v4") as second:
        assert list(second.iter_clusters())
        assert second.metrics["logins"] == 0
    assert prism_sim.counters["logins"] == 1


def test_a_kept_session_never_admits_another_password(prism_sim):
    with client_for(prism_sim, api="v4") as client:
        assert list(client.iter_clusters())
    wrong = PrismClient(connect(prism_sim, password="wrong"), api="v4", retry=FAST,
                        limiter=Limiter())
    with wrong, pytest.raises(AuthenticationFailed):
        list(wrong.iter_clusters())
    assert prism_sim.counters["logins"] == 1  # the refused Basic call set no session


def test_a_kept_session_prism_dropped_logs_in_again(prism_sim):
    with client_for(prism_sim, api="v4") as client:
        assert list(client.iter_clusters())
    prism_sim.inject(r"clusters", "expired_auth", times=1)
    with client_for(prism_sim, api="v4") as client:
        assert list(client.iter_clusters())
        assert client.metrics["logins"] == 1
    assert prism_sim.counters["logins"] == 2


def test_a_kept_session_idle_too_long_is_not_sent():
    now = [0.0]
    jar = sessions.Jar(clock=lambda: now[0])
    jar.keep({"NTNX_IAM_SESSION": "a"})
    jar.keep({"NTNX_MERCURY_IAM_SESSION": "b"})
    assert jar.header() == "NTNX_IAM_SESSION=a; NTNX_MERCURY_IAM_SESSION=b"
    now[0] = sessions.MAX_IDLE_S
    assert jar.header() is not None
    jar.keep({"NTNX_IAM_SESSION": "c"})  # an answer set it again: the idle clock restarts
    now[0] = 2 * sessions.MAX_IDLE_S
    assert jar.header() == "NTNX_IAM_SESSION=c; NTNX_MERCURY_IAM_SESSION=b"
    now[0] = 2 * sessions.MAX_IDLE_S + 1
    assert jar.header() is None
    jar.keep({"NTNX_IAM_SESSION": "d"})
    jar.forget("NTNX_IAM_SESSION=stale")  # not the current one: kept
    assert jar.header() == "NTNX_IAM_SESSION=d"
    jar.forget("NTNX_IAM_SESSION=d")
    assert jar.header() is None


def test_kept_sessions_are_per_prism_central_user_and_password():
    jar = sessions.jar_for("pc:9440", "admin", "a")
    assert sessions.jar_for("pc:9440", "admin", "a") is jar
    others = {sessions.jar_for("pc:9440", "admin", "b"), sessions.jar_for("pc2:9440", "admin", "a"),
              sessions.jar_for("pc:9440", "other", "a")}
    assert jar not in others and len(others) == 3


def test_garbage_collector_is_back_on_after_listing_or_failing(prism_sim_http):
    import gc

    assert gc.isenabled()
    with client_for(prism_sim_http, api="v4", page_size=5) as client:
        assert list(client.iter_vms())
        assert gc.isenabled()
        prism_sim_http.inject(r"ahv/config/vms", "invalid_json", times=1)
        with pytest.raises(BadResponse):
            list(client.iter_vms())
    prism_sim_http.clear_faults()
    assert gc.isenabled()
