"""Prism Central's rate limits: a global and a per-API request budget per refresh window.

Recorded on pc.2024.3.1.1 (spec nutanix/README.md section 5): `X-Ratelimit-*`
for the global budget (30 per 1 s window), `X-Api-Ratelimit-*` per API (2 for
the VM list, 10 for VM GET), `X-Api-Ratelimit-Refresh-Period-Seconds: 1`.

Budgets are fixed windows of `refresh_period_s`; a budget of `per_s` requests
per second allows `max(1, int(per_s * refresh_period_s))` requests per window.
A request consumes one unit of the global budget and of its API's budget only
when both have one left; otherwise it is answered 429 with `Retry-After`: the
whole seconds (an integer, at least 1) until the exhausted window refreshes.
`X-*-Reset` headers carry the seconds left in the window, rounded down (0 for
1-second windows, as recorded). APIs without their own budget report the
global one in the `X-Api-*` headers.

Per-API keys are the route's `api` name: v4 `<namespace>.<kind>.<op>` with op
list/get/stats (`vmm.vms.list`, `vmm.vms.get`, `vmm.vms.stats`,
`vmm.images.list`, `clustermgmt.clusters.list`, `clustermgmt.hosts.list`,
`clustermgmt.clusters.stats`, `clustermgmt.hosts.stats`,
`networking.subnets.list`, `volumes.volume_groups.list`,
`prism.categories.list`, `monitoring.alerts.list`, ... `.get`) and v3
`v3.<kind>.list` / `v3.<kind>.get` (`v3.vms.list`, `v3.categories.values.list`,
`v3.prism_central.get`, `v3.users.get`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

GENEROUS = 10_000  # what the headers say when limiting is off


@dataclass(frozen=True)
class RateLimits:
    global_per_s: float | None = 30
    per_api: dict[str, float] | None = None
    refresh_period_s: float = 1.0

    @classmethod
    def recorded(cls) -> RateLimits:
        """The budgets seen on pc.2024.3.1.1 (MIQ recordings)."""
        return cls(global_per_s=30, per_api={"vmm.vms.list": 2, "vmm.vms.get": 10},
                   refresh_period_s=1.0)

    def budget(self, per_s: float | None) -> int | None:
        return None if per_s is None else max(1, int(per_s * self.refresh_period_s + 1e-9))


@dataclass
class _Window:
    budget: int
    start: float = 0.0
    used: int = 0


@dataclass
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class Limiter:
    """Thread-safe fixed-window budgets; `limits=None` counts but never refuses."""

    def __init__(self, limits: RateLimits | None, clock: Callable[[], float] = time.monotonic):
        self.clock = clock  # tests may pin it
        self._lock = threading.Lock()
        self.configure(limits)

    def configure(self, limits: RateLimits | None) -> None:
        with self._lock:
            self.enforce = limits is not None
            self.limits = limits or RateLimits(global_per_s=GENEROUS)
            self._windows: dict[str, _Window] = {}

    def _window(self, name: str, budget: int, now: float) -> _Window:
        period = self.limits.refresh_period_s
        start = math.floor(now / period) * period
        window = self._windows.get(name)
        if window is None or window.start != start or window.budget != budget:
            window = self._windows[name] = _Window(budget, start)
        return window

    def check(self, api: str | None, *, consume: bool) -> Decision:
        """Take one unit of the global and the API budget (when `consume`), with headers."""
        with self._lock:
            now = self.clock()
            limits = self.limits
            windows = []
            global_budget = limits.budget(limits.global_per_s)
            if global_budget is not None:
                windows.append(self._window("*", global_budget, now))
            api_budget = limits.budget((limits.per_api or {}).get(api)) if api else None
            if api_budget is not None:
                windows.append(self._window(api, api_budget, now))
            exhausted = [w for w in windows if w.used >= w.budget]
            allowed = not (consume and exhausted and self.enforce)
            if consume and allowed:
                for window in windows:
                    window.used += 1
            headers = self._headers(windows[0] if global_budget is not None else None,
                                    windows[-1] if api_budget is not None else None, now)
            retry = 0
            if not allowed:
                retry = max(1, math.ceil(max(w.start + limits.refresh_period_s - now
                                             for w in exhausted)))
            return Decision(allowed, headers, retry)

    def _headers(self, glob: _Window | None, api: _Window | None, now: float) -> dict[str, str]:
        period = self.limits.refresh_period_s

        def triple(window: _Window | None) -> tuple[str, str, str]:
            if window is None:
                return str(GENEROUS), str(GENEROUS), "0"
            reset = max(0, math.floor(window.start + period - now))
            return str(window.budget), str(max(0, window.budget - window.used)), str(reset)

        g, a = triple(glob), triple(api or glob)
        return {"X-Ratelimit-Limit": g[0], "X-Ratelimit-Remaining": g[1],
                "X-Ratelimit-Reset": g[2], "X-Api-Ratelimit-Limit": a[0],
                "X-Api-Ratelimit-Remaining": a[1], "X-Api-Ratelimit-Reset": a[2],
                "X-Api-Ratelimit-Refresh-Period-Seconds": f"{period:g}"}
