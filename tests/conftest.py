"""Session fixtures: the Prism Central simulator on 127.0.0.1, over HTTP and HTTPS.

`prism_inventory` is one small deterministic inventory; `prism_sim_http` and
`prism_sim_https` serve it for the whole session (the HTTPS one with a
generated CA: `ca_pem`, `ca_path`). `prism_sim` runs a test once per scheme
and leaves the simulator clean afterwards (faults, rate limits, latency,
counters), so tests can inject freely. Each test starts without the Prism
sessions an earlier one left in this process (`shared/prism/sessions.py`),
as a cold function would.
"""

from __future__ import annotations

import pytest

from shared.prism import sessions
from tests.simulator import Inventory, Simulator

PRISM_USERNAME, PRISM_PASSWORD = "admin", "Nutanix/4u"  # the simulator's login


@pytest.fixture(autouse=True)
def _no_kept_sessions():
    sessions.forget_all()


@pytest.fixture(scope="session")
def prism_inventory() -> Inventory:
    return Inventory.generate(clusters=2, hosts_per_cluster=3, vms=45, subnets_per_cluster=2,
                              images=4, volume_groups=6, projects=3, categories=4, alerts=12,
                              seed=0)


@pytest.fixture(scope="session")
def prism_sim_http(prism_inventory):
    with Simulator(prism_inventory, username=PRISM_USERNAME, password=PRISM_PASSWORD,
                   tls=False) as sim:
        yield sim


@pytest.fixture(scope="session")
def prism_sim_https(prism_inventory):
    with Simulator(prism_inventory, username=PRISM_USERNAME, password=PRISM_PASSWORD,
                   tls=True) as sim:
        yield sim


def _clean(sim: Simulator) -> None:
    sim.clear_faults()
    sim.set_rate_limits(None)
    sim.set_latency(0.0)
    sim.reset_counters()


@pytest.fixture(params=["http", "https"])
def prism_sim(request, prism_sim_http, prism_sim_https):
    """Each test runs against both schemes; the simulator is left as it was found."""
    sim = prism_sim_http if request.param == "http" else prism_sim_https
    _clean(sim)
    yield sim
    _clean(sim)
