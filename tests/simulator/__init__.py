"""A Prism Central simulator: real HTTP(S) serving v4 and v3 REST APIs from a synthetic inventory.

    from tests.simulator import Simulator, Inventory, RateLimits
    inv = Inventory.generate(clusters=2, vms=40, seed=0)
    with Simulator(inv, tls=True, rate_limits=RateLimits.recorded()) as sim:
        requests.get(sim.url + "/api/vmm/v4.0/ahv/config/vms", auth=("admin", "Nutanix/4u"),
                     verify=sim.ca_path)  # per request: REQUESTS_CA_BUNDLE beats Session.verify

Simulator: `start()`/`stop()` (or `with`), `url`, `host`, `port`, `ca_pem`,
`ca_path`; `inject(path_regex, fault, *, times, status, retry_after, delay_s)`
and `clear_faults()` (kinds in `faults.py`); `set_rate_limits()`,
`set_latency()`; `counters` (a snapshot: requests, status, throttled, by_route
"GET vmm/vms", logins, max_in_flight, faults) and `reset_counters()`;
`raise_alert()`, `webhook_vm_event()`, `post_webhook()`; `prewarm()` (serialize
every entity ahead; the CLI does it) and `refresh()` (after editing records).

Modules: `inventory` (records, generation), `v4`/`v4_entities` and
`v3`/`v3_entities` (routes and shapes per API family), `odata` ($filter),
`stats` (deterministic series; the formula is in its docstring), `ratelimit`
(budgets and per-API key names), `faults`, `server` (HTTP, auth, sessions,
counters), `__main__` (CLI). Shapes and behaviours follow spec nutanix/ and the
recorded fixtures; where a source was missing, the module making the choice
says so.
"""

from tests.simulator.inventory import Inventory
from tests.simulator.ratelimit import RateLimits
from tests.simulator.server import Simulator

__all__ = ["Inventory", "RateLimits", "Simulator"]
