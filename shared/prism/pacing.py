"""Pacing: send no faster than a Prism Central says it accepts.

Prism Central advertises a global budget (`X-Ratelimit-Limit`/`-Remaining`)
and a per-API one (`X-Api-Ratelimit-Limit`/`-Remaining`/
`-Refresh-Period-Seconds`) on every answer (spec nutanix/v4.md section 5;
the VM list was allowed 2 per second on pc.2024.3.1.1). One `Limiter` per
Prism Central (`limiter_for(host:port)`, process-wide) learns both from the
answers and lets a request go only when neither budget is spent, so a steady
collection draws no 429 at all; concurrency still fills the latency gap
because only the *send rate* is limited, not the requests in flight.

Each budget is kept as a sliding window of send times: at most `limit` sends
in any `period + margin` seconds. That never exceeds a fixed-window, sliding-
log or token-bucket server of the same limit; the margin absorbs the jitter
between our send time and the server's arrival time. `Remaining` lower than
our own count means someone else spends the same budget (another function
process): the difference is booked as sends made now. A 429 that still comes
blocks the budget for its `Retry-After` and lowers the pace, which recovers
while no 429 follows. Until a budget has been seen in an answer, one request
at a time probes it; the global budget admits two (`GLOBAL_PROBES`), so that
the first sends of two APIs (auto mode's v4 and v3 probes) go together, far
below any published global limit (30 to 80 per second).

The limiter only waits; retrying is `shared/retry.py`'s job. Clock and sleep
are parameters so tests run on a fake clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

GLOBAL = "*"
H_LIMIT, H_REMAINING = "x-ratelimit-limit", "x-ratelimit-remaining"
H_API_LIMIT, H_API_REMAINING = "x-api-ratelimit-limit", "x-api-ratelimit-remaining"
H_API_PERIOD = "x-api-ratelimit-refresh-period-seconds"
MIN_FACTOR = 0.25  # a 429 storm slows to a quarter of the advertised budget, not to zero
GLOBAL_PROBES = 2  # requests in flight on an unknown global budget: two routes' first sends


@dataclass
class _Bucket:
    limit: int | None = None  # sends per period; None: the server advertises none
    known: bool = False  # an answer has told us about this budget
    period_s: float = 1.0
    factor: float = 1.0  # < 1 after a 429; recovers while none come
    changed_at: float = -math.inf
    blocked_until: float = 0.0
    probing: int = 0  # requests in flight while not yet known
    probes: int = 1  # how many may be in flight while not yet known
    sends: deque[float] = field(default_factory=deque)

    def delay(self, now: float, margin_s: float, poll_s: float) -> float:
        """Seconds until one more send fits; 0 when it fits now."""
        if now < self.blocked_until:
            return self.blocked_until - now
        if not self.known:
            return 0.0 if self.probing < self.probes else poll_s
        if self.limit is None:
            return 0.0
        window = self.period_s + margin_s
        self._prune(now, window)
        allowed = max(1, int(self.limit * self.factor))
        if len(self.sends) < allowed:
            return 0.0
        return max(poll_s / 10, self.sends[len(self.sends) - allowed] + window - now)

    def _prune(self, now: float, window: float) -> None:
        sends = self.sends
        while sends and sends[0] <= now - window:
            sends.popleft()

    def learn(self, limit: int | None, remaining: int | None, period_s: float | None,
              now: float, margin_s: float) -> None:
        self.known = True
        self.limit = limit
        if limit is None:
            self.sends.clear()
            return
        if period_s:
            self.period_s = period_s
        if self.factor < 1.0 and now - self.changed_at > 2 * (self.period_s + margin_s):
            self.factor, self.changed_at = min(1.0, self.factor + 0.1), now
        if remaining is None:
            return
        self._prune(now, self.period_s + margin_s)
        foreign = (limit - remaining) - len(self.sends)
        if foreign > 0:  # spent by someone we don't see: book it as sends made now
            self.sends.extend([now] * foreign)

    def throttle(self, now: float, retry_after: float | None, margin_s: float) -> None:
        wait = retry_after if retry_after is not None else self.period_s + margin_s
        self.blocked_until = max(self.blocked_until, now + wait)
        self.factor = max(MIN_FACTOR, self.factor * 0.75)
        self.changed_at = now

    def rate(self) -> float | None:
        if self.limit is None:
            return None
        return max(1, int(self.limit * self.factor)) / self.period_s


def _int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = int(float(str(raw).strip()))
    except (ValueError, OverflowError):
        return None
    return value if value >= 0 else None


def _period(raw: str | None) -> float | None:
    try:
        period = float(raw) if raw is not None else None
    except ValueError:
        return None
    return period if period is not None and 0 < period < 3600 else None


def _lower(headers: Mapping[str, str]) -> Mapping[str, str]:
    """requests' CaseInsensitiveDict already ignores case; plain dicts are folded."""
    if hasattr(headers, "lower_items"):
        return headers
    return {str(k).lower(): v for k, v in headers.items()}


class Limiter:
    """Budgets of one Prism Central: a global one and one per API route. Thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, margin_s: float = 0.1,
                 poll_s: float = 0.005) -> None:
        self._clock, self._sleep = clock, sleep
        self._margin_s, self._poll_s = margin_s, poll_s
        self._lock = threading.Lock()
        self._global = _Bucket(probes=GLOBAL_PROBES)
        self._routes: dict[str, _Bucket] = {}

    def _bucket(self, route: str) -> _Bucket:
        bucket = self._routes.get(route)
        if bucket is None:
            bucket = self._routes[route] = _Bucket()
        return bucket

    def acquire(self, route: str) -> float:
        """Block until both budgets allow one send, book it; return seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                api = self._bucket(route)
                delay = max(self._global.delay(now, self._margin_s, self._poll_s),
                            api.delay(now, self._margin_s, self._poll_s))
                if delay <= 0:
                    for bucket in (self._global, api):
                        bucket.sends.append(now)
                        if not bucket.known:
                            bucket.probing += 1
                    return waited
            self._sleep(delay)
            waited += delay

    def release(self, route: str, headers: Mapping[str, str] | None = None,
                status: int | None = None) -> None:
        """End one send; learn the budgets from its answer's headers.

        An error answer without rate-limit headers (a 404 on an unserved
        version, a reset) teaches nothing; a success without them means the
        server advertises no limit.
        """
        with self._lock:
            now = self._clock()
            api = self._bucket(route)
            for bucket in (self._global, api):
                if bucket.probing:
                    bucket.probing -= 1
            if headers is None:
                return
            h = _lower(headers)
            if not any(name in h for name in (H_LIMIT, H_API_LIMIT)) \
                    and not (status is not None and 200 <= status < 300):
                return
            period = _period(h.get(H_API_PERIOD))
            self._global.learn(_int(h, H_LIMIT), _int(h, H_REMAINING), period, now,
                               self._margin_s)
            api.learn(_int(h, H_API_LIMIT), _int(h, H_API_REMAINING), period, now,
                      self._margin_s)

    def throttled(self, route: str, retry_after: float | None,
                  headers: Mapping[str, str] | None = None) -> None:
        """A 429 came anyway: block the spent budget(s) and slow down."""
        h = _lower(headers or {})
        api_spent = _int(h, H_API_REMAINING) == 0
        global_spent = _int(h, H_REMAINING) == 0
        with self._lock:
            now = self._clock()
            buckets = []
            if api_spent or not global_spent:
                buckets.append(self._bucket(route))
            if global_spent or not api_spent:
                buckets.append(self._global)
            for bucket in buckets:
                bucket.throttle(now, retry_after, self._margin_s)

    def rate(self, route: str) -> float | None:
        """Sends per second this route may use now (None: no advertised limit)."""
        with self._lock:
            rates = [r for r in (self._global.rate(), self._bucket(route).rate())
                     if r is not None]
        return min(rates) if rates else None

    def limits(self) -> dict[str, int | None]:
        """Learned limits by route (`*` is the global one): for logs and tests."""
        with self._lock:
            found = {GLOBAL: self._global.limit}
            found.update({route: b.limit for route, b in self._routes.items()})
        return found


_REGISTRY: dict[str, Limiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(key: str) -> Limiter:
    """The process-wide limiter of one Prism Central (`host:port`)."""
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if limiter is None:
            limiter = _REGISTRY[key] = Limiter()
        return limiter
