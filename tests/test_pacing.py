"""Pacing: the limiter on a fake clock, then the client against a rate-limited simulator.

Unit tests drive `shared.prism.pacing.Limiter` with an injected clock and
sleep and check the one invariant that keeps a server from answering 429:
no more than `limit` sends in any `period` window. Integration tests list
through `PrismClient` against the simulator with Prism's recorded budgets
(global 30/s, VM list 2/s) and count the 429s the simulator sent.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.prism import Connection, KindPlan, PrismClient
from shared.prism.pacing import Limiter, limiter_for
from shared.retry import RetryPolicy
from tests.conftest import PRISM_PASSWORD, PRISM_USERNAME
from tests.simulator import Inventory, RateLimits, Simulator

ROUTE = "GET /api/vmm/v4.0/ahv/config/vms"
OTHER = "GET /api/clustermgmt/v4.0/config/clusters"


class FakeClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds
        self.slept += seconds


def budget(limit: int | None = None, remaining: int | None = None, api_limit: int | None = None,
           api_remaining: int | None = None, period: float = 1.0) -> dict[str, str]:
    headers = {"X-Api-Ratelimit-Refresh-Period-Seconds": str(period)}
    for name, value in (("X-Ratelimit-Limit", limit), ("X-Ratelimit-Remaining", remaining),
                        ("X-Api-Ratelimit-Limit", api_limit),
                        ("X-Api-Ratelimit-Remaining", api_remaining)):
        if value is not None:
            headers[name] = str(value)
    return headers


def limiter(clock: FakeClock, margin_s: float = 0.1) -> Limiter:
    return Limiter(clock=clock, sleep=clock.sleep, margin_s=margin_s)


def most_in_window(times: list[float], window: float) -> int:
    """The most sends any half-open window of `window` seconds holds."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_first_send_goes_at_once_and_teaches_the_budget():
    clock = FakeClock()
    lim = limiter(clock)
    assert lim.acquire(ROUTE) == 0
    lim.release(ROUTE, budget(30, 29, 2, 1), 200)
    assert lim.limits() == {"*": 30, ROUTE: 2}
    assert lim.rate(ROUTE) == 2.0
    assert lim.rate(OTHER) == 30.0


def test_steady_sends_never_exceed_the_per_api_budget():
    clock = FakeClock()
    lim = limiter(clock)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(30, 29, 2, 1), 200)
    sent = [clock.now]
    for _ in range(20):
        lim.acquire(ROUTE)
        sent.append(clock.now)
        lim.release(ROUTE, budget(30, 29, 2, 1), 200)
    assert most_in_window(sent, 1.0) <= 2
    assert clock.slept > 0


def test_global_budget_binds_across_routes():
    clock = FakeClock()
    lim = limiter(clock)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(3, 2), 200)
    sent = [clock.now]
    for number in range(12):
        route = ROUTE if number % 2 else OTHER
        lim.acquire(route)
        sent.append(clock.now)
        lim.release(route, budget(3, 2), 200)
    assert most_in_window(sent, 1.0) <= 3


def test_remaining_below_our_count_books_foreign_sends():
    """Another process spends the same budget: Remaining says so, we wait."""
    clock = FakeClock()
    lim = limiter(clock)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(api_limit=10, api_remaining=0), 200)
    before = clock.now
    lim.acquire(ROUTE)
    assert clock.now - before >= 1.0


def test_429_blocks_for_retry_after_and_lowers_the_pace():
    clock = FakeClock()
    lim = limiter(clock)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(30, 29, 8, 7), 200)
    assert lim.rate(ROUTE) == 8.0
    lim.throttled(ROUTE, 3.0, budget(30, 29, 8, 0))
    assert lim.rate(ROUTE) < 8.0
    before = clock.now
    lim.acquire(ROUTE)
    assert clock.now - before >= 3.0
    assert lim.rate(OTHER) == 30.0  # the global budget was not the one spent


def test_pace_recovers_while_no_429_follows():
    clock = FakeClock()
    lim = limiter(clock)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(api_limit=8, api_remaining=7), 200)
    lim.throttled(ROUTE, 0.5, budget(api_limit=8, api_remaining=0))
    lowered = lim.rate(ROUTE)
    for _ in range(60):
        lim.acquire(ROUTE)
        lim.release(ROUTE, budget(api_limit=8, api_remaining=7), 200)
    assert lim.rate(ROUTE) > lowered


def test_lowered_limit_is_followed():
    clock = FakeClock()
    lim = limiter(clock)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(api_limit=10, api_remaining=9), 200)
    for _ in range(5):
        lim.acquire(ROUTE)
        lim.release(ROUTE, budget(api_limit=10, api_remaining=5), 200)
    lim.release(ROUTE, budget(api_limit=2, api_remaining=0), 200)  # the server lowered it
    sent = []
    for _ in range(6):
        lim.acquire(ROUTE)
        sent.append(clock.now)
        lim.release(ROUTE, budget(api_limit=2, api_remaining=1), 200)
    assert most_in_window(sent, 1.0) <= 2


def test_success_without_headers_means_no_limit_and_errors_teach_nothing():
    clock = FakeClock()
    lim = limiter(clock)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(api_limit=1, api_remaining=0), 200)
    lim.acquire(OTHER)
    lim.release(OTHER, {}, 404)  # an unserved version: no headers, nothing learned
    assert lim.limits()["*"] is None and lim.limits()[ROUTE] == 1
    lim.release(ROUTE, {}, 200)
    assert lim.limits()[ROUTE] is None
    before = clock.now
    for _ in range(10):
        lim.acquire(ROUTE)
    assert clock.now == before


def waits_for_an_answer(lim: Limiter, route: str, answered: str, remaining: int) -> None:
    """`route`'s send waits until `answered` comes back with its budget, then goes."""
    went = threading.Event()

    def send():
        lim.acquire(route)
        went.set()

    worker = threading.Thread(target=send)
    worker.start()
    assert not went.wait(0.05)
    lim.release(answered, budget(30, remaining, 5, 4), 200)
    assert went.wait(2)
    worker.join()


def test_unknown_budget_is_probed_one_request_at_a_time():
    lim = Limiter(poll_s=0.001)
    lim.acquire(ROUTE)
    waits_for_an_answer(lim, ROUTE, answered=ROUTE, remaining=29)


def test_an_unknown_global_budget_lets_two_routes_probe_together():
    """Auto mode's v4 and v3 probes go at once; a third API waits for an answer."""
    lim = Limiter(poll_s=0.001)
    lim.acquire(ROUTE)
    lim.acquire(OTHER)  # a second route: the global budget admits two probes
    waits_for_an_answer(lim, "POST /api/nutanix/v3/vms/list", answered=ROUTE, remaining=28)


def test_threads_share_one_budget():
    """Eight threads through one limiter stay within 5 sends per 0.2 s window."""
    lim = Limiter(margin_s=0.02)
    lim.acquire(ROUTE)
    lim.release(ROUTE, budget(api_limit=5, api_remaining=4, period=0.2), 200)
    sent: list[float] = []
    guard = threading.Lock()

    def work():
        for _ in range(4):
            lim.acquire(ROUTE)
            with guard:
                sent.append(time.monotonic())
            lim.release(ROUTE, budget(api_limit=5, api_remaining=4, period=0.2), 200)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 32
    assert most_in_window(sent, 0.2) <= 5


def test_one_limiter_per_prism_central():
    assert limiter_for("pc-a:9440") is limiter_for("pc-a:9440")
    assert limiter_for("pc-a:9440") is not limiter_for("pc-b:9440")


# -- against the simulator -----------------------------------------------------------------

FAST = RetryPolicy(attempts=6, base_s=0.01, cap_s=0.1, deadline_s=30.0)


def client_for(sim, **kw) -> PrismClient:
    secret = {"host": sim.url, "username": PRISM_USERNAME, "password": PRISM_PASSWORD}
    if sim.tls:
        secret["ca_pem"] = sim.ca_path
    return PrismClient(Connection.from_secret(secret), retry=FAST, limiter=Limiter(), **kw)


def test_paced_listing_draws_no_429(prism_sim, prism_inventory):
    """Prism's recorded budgets: 2 VM lists per second, 30 requests per second."""
    prism_sim.set_rate_limits(RateLimits.recorded())
    with client_for(prism_sim, api="v4", page_size=15) as client:
        vms = list(client.iter_vms())
        metrics = client.metrics
    assert len({v.ext_id for v in vms}) == len(prism_inventory.vms)
    assert prism_sim.counters["throttled"] == 0 and metrics["throttled"] == 0
    assert metrics["paced_wait_s"] > 0  # three VM pages cannot go in one window of two


def test_paced_v3_listing_draws_no_429(prism_sim_http, prism_inventory):
    prism_sim_http.reset_counters()
    prism_sim_http.set_rate_limits(RateLimits(global_per_s=6, per_api={"v3.vms.list": 3}))
    try:
        with client_for(prism_sim_http, api="v3", page_size=9) as client:
            vms = list(client.iter_vms())
            assert client.metrics["throttled"] == 0
        assert len({v.ext_id for v in vms}) == len(prism_inventory.vms)
        assert prism_sim_http.counters["throttled"] == 0
    finally:
        prism_sim_http.set_rate_limits(None)


def test_lowered_budget_slows_the_client_without_errors_or_lost_items(prism_sim_http,
                                                                      prism_inventory):
    sim = prism_sim_http
    sim.reset_counters()
    sim.set_rate_limits(RateLimits(global_per_s=30, per_api={"vmm.vms.list": 4}))
    found = []
    try:  # 9 pages at 4 per second: pages 5 to 9 go out a second later, at the lower budget
        with client_for(sim, api="v4", page_size=5, concurrency=4) as client:
            for vm in client.iter_vms():
                found.append(vm.ext_id)
                if len(found) == 10:  # two pages in: Prism lowers the VM list budget
                    sim.set_rate_limits(RateLimits(global_per_s=30,
                                                   per_api={"vmm.vms.list": 3}))
            limits = client._transport.limiter.limits()
    finally:
        sim.set_rate_limits(None)
    assert sorted(found) == sorted(v.ext_id for v in prism_inventory.vms)
    assert limits["GET /api/vmm/v4.0/ahv/config/vms"] == 3  # learned from the headers


def test_kinds_collected_at_once_share_the_global_budget(prism_sim_http, prism_inventory):
    sim = prism_sim_http
    sim.reset_counters()
    sim.set_rate_limits(RateLimits(global_per_s=8))
    counts: dict[str, int] = {}
    errors: list[Exception] = []
    try:
        with client_for(sim, api="v4", page_size=2, concurrency=8) as client:
            def collect(kind: str) -> None:
                try:
                    counts[kind] = sum(1 for _ in client.iter_kind(kind))
                except Exception as err:  # noqa: BLE001 - reported below
                    errors.append(err)

            threads = [threading.Thread(target=collect, args=(k,))
                       for k in ("hosts", "subnets", "volume_groups", "images")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            metrics = client.metrics
    finally:
        sim.set_rate_limits(None)
    assert not errors
    assert counts == {"hosts": len(prism_inventory.hosts), "subnets": len(prism_inventory.subnets),
                      "volume_groups": len(prism_inventory.volume_groups),
                      "images": len(prism_inventory.images)}
    assert sim.counters["throttled"] == 0 and metrics["throttled"] == 0


def test_a_burst_at_first_contact_is_probed_not_thrown(prism_sim_http, prism_inventory):
    """Eight stats calls at once, before any budget is known: still no 429."""
    sim = prism_sim_http
    sim.reset_counters()
    sim.set_rate_limits(RateLimits(global_per_s=4))
    end = datetime.now(UTC).replace(microsecond=0)
    vms = prism_inventory.vms[:8]
    try:
        with client_for(sim) as client, ThreadPoolExecutor(8) as pool:
            series = list(pool.map(lambda vm: client.vm_stats(
                vm.ext_id, end - timedelta(hours=1), end, interval_s=600), vms))
    finally:
        sim.set_rate_limits(None)
    assert len(series) == 8
    assert sim.counters["throttled"] == 0


@pytest.fixture(scope="module")
def many_vms_sim():
    inv = Inventory.generate(clusters=1, hosts_per_cluster=2, vms=150, seed=3)
    with Simulator(inv, tls=False) as sim:
        yield sim


def test_auto_picks_the_api_that_lists_soonest_under_the_limits(many_vms_sim, caplog):
    """At 50 per page both APIs need 3 pages: v4 wins unlimited, v3 under a 2/s VM list."""
    with client_for(many_vms_sim, page_size=50) as client:
        assert client.plan("vms") == KindPlan("vms", "v4", 150, 50, 3)
    many_vms_sim.set_rate_limits(RateLimits.recorded())
    caplog.set_level(logging.INFO, logger="shared.prism.client")
    try:
        with client_for(many_vms_sim, page_size=50) as client:
            assert client.plan("vms") == KindPlan("vms", "v3", 150, 50, 3)
            assert len(list(client.iter_vms())) == 150
            assert client.metrics["throttled"] == 0
    finally:
        many_vms_sim.set_rate_limits(None)
    assert [(r.kind, r.api) for r in caplog.records if hasattr(r, "api")] == [("vms", "v3")]
