"""The Prism Central client: one facade over transport, detection, paging and kinds.

Everything that reads Prism Central goes through `PrismClient`. It owns the
choice of API per kind (v4 first, v3 where v4 is missing or slower under the
rate limits), page windows, the categories map v4 VMs need, alerts since a
watermark and stats. It builds models only through the pure parsers in
`shared/prism/kinds/`; HTTP, auth, pacing and retries are `transport.py`'s.

Paths (spec nutanix/README.md section 3): v4 `GET ...?$page=N&$limit=M`
(M <= 100), v3 `POST <kind>s/list` with offset/length (<= 500). Pages are
computed from the advertised total, never from `next` links.
"""

from __future__ import annotations

import contextvars
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from shared.errors import BadResponse, InvalidInput, NotFound, PrismError
from shared.prism import detect
from shared.prism.connection import APIS, MAX_CONCURRENCY, Connection
from shared.prism.detect import ApiInfo
from shared.prism.kinds import (
    KindSpec,
    ParseContext,
    alerts,
    categories,
    clusters,
    hosts,
    images,
    projects,
    stats,
    subnets,
    vms,
    volume_groups,
)
from shared.prism.kinds.envelope import v3_items, v3_total, v4_items, v4_total
from shared.prism.models import (
    Alert,
    CategoryValue,
    Cluster,
    Host,
    Image,
    Project,
    StatSeries,
    Subnet,
    Vm,
    VolumeGroup,
)
from shared.prism.pacing import Limiter
from shared.prism.paging import Page, check_page, iter_pages, iter_window, page_count
from shared.prism.transport import Transport, gc_paused
from shared.retry import RetryPolicy

log = logging.getLogger(__name__)

KINDS: dict[str, KindSpec] = {spec.name: spec for spec in (
    clusters.SPEC, hosts.SPEC, vms.SPEC, subnets.SPEC, images.SPEC, volume_groups.SPEC,
    projects.SPEC, categories.SPEC, alerts.SPEC)}
V4_MAX_PAGE = 100  # `$limit` 1..100 (spec nutanix/v4.md section 2)
V3_MAX_PAGE = 500  # safe ceiling of `length` (spec nutanix/v3.md section 2)
STAT_TYPES = ("AVG", "MIN", "MAX", "SUM", "COUNT", "LAST")
STATS_VERSION = "v4.0"
V3_PREFERENCE = 0.8  # v3 must be clearly faster to win: v4 is the primary API
BadItemHook = Callable[[str, BadResponse], None]


@dataclass(frozen=True)
class KindPlan:
    """How one kind will be listed: enough to shard it across function calls."""

    kind: str
    api: str  # "v3" | "v4"
    total: int
    page_size: int
    pages: int


@dataclass(frozen=True)
class _Route:
    """One place a kind can be listed from."""

    api: str  # "v3" | "v4"
    path: str
    version: str | None = None  # the v4 version segment
    filters: bool = True  # False: v4.0 alerts, v3: filter client-side

    @property
    def key(self) -> str:
        """The rate-limit route: one per list API."""
        return f"{'GET' if self.api == 'v4' else 'POST'} {self.path}"

    @property
    def max_page(self) -> int:
        return V4_MAX_PAGE if self.api == "v4" else V3_MAX_PAGE


@dataclass(frozen=True)
class _Probe:
    route: _Route
    total: int
    elapsed_s: float


def _iso(when: datetime) -> str:
    """RFC 3339 UTC; microseconds kept when set (alert watermarks have them)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{when.microsecond:06d}Z" if when.microsecond else f"{text}Z"


class PrismClient:
    """Reads one Prism Central. Thread-safe: several kinds may be listed at once."""

    def __init__(self, conn: Connection, *, api: str | None = None,
                 concurrency: int | None = None, retry: RetryPolicy | None = None,
                 page_size: int | None = None, limiter: Limiter | None = None,
                 on_bad_item: BadItemHook | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """`api`, `concurrency` default to the connection's options (auto, 8).

        `limiter` defaults to the process-wide one of this Prism Central;
        `on_bad_item(kind, error)` hears of items a parser refused (they are
        skipped, the listing goes on); `sleep` is the retries' (tests).
        """
        self.api = api or conn.api
        self.concurrency = concurrency or conn.concurrency
        problems = []
        if self.api not in APIS:
            problems.append("api must be one of auto, v3, v4")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            problems.append(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if page_size is not None and page_size < 1:
            problems.append("page_size must be positive")
        if problems:
            raise InvalidInput("invalid Prism client settings", problems)
        self.page_size = page_size
        self._on_bad_item = on_bad_item
        self._transport = Transport(conn, pool_size=self.concurrency, retry=retry,
                                    limiter=limiter, sleep=sleep)
        self._lock = threading.RLock()
        self._choices: dict[tuple, _Route] = {}  # (kind, params, page size) -> auto's pick
        self._served: dict[str, bool] = {}  # route path -> answered (False: 404)
        self._select_refused: set[str] = set()  # v4 routes that answered 400 to `$select`
        self._info: ApiInfo | None = None
        self._context: ParseContext | None = None
        self._context_lock = threading.Lock()
        self._logged: set[tuple[str, str]] = set()

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> PrismClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def metrics(self) -> dict:
        """requests, retries, throttled (429s received), paced_wait_s, logins."""
        return self._transport.metrics

    # -- detection -----------------------------------------------------------------

    def check(self) -> ApiInfo:
        """Verify the credentials (the first call fails with Prism's 401) and detect APIs."""
        with self._lock:
            self._info = None
        return self.info

    @property
    def info(self) -> ApiInfo:
        """Product version, v3, and the v4 namespaces/versions this client reads."""
        with self._lock:
            if self._info is None:
                routes = {(s.v4_namespace, s.v4_version, s.v4_path) for s in KINDS.values()
                          if s.v4_namespace and s.v4_version and s.v4_path}
                routes.add(("monitoring", alerts.V4_FALLBACK_VERSION, alerts.SPEC.v4_path))
                self._info = detect.detect(self._call, routes, lambda: self._transport.product,
                                           workers=self.concurrency)
                for namespace, version, path in routes:
                    self._served[detect.v4_path(namespace, version, path)] = \
                        self._info.serves(namespace, version)
            return self._info

    # -- kinds -----------------------------------------------------------------

    def iter_clusters(self) -> Iterator[Cluster]:
        """Clusters, the PC pseudo-cluster included (`is_prism_central`)."""
        return self.iter_kind("clusters")

    def iter_hosts(self) -> Iterator[Host]:
        return self.iter_kind("hosts")

    def iter_vms(self) -> Iterator[Vm]:
        """VMs from v4, or from v3 where v4 is missing or slower; both yield the same Vm."""
        return self.iter_kind("vms")

    def iter_subnets(self) -> Iterator[Subnet]:
        return self.iter_kind("subnets")

    def iter_images(self) -> Iterator[Image]:
        return self.iter_kind("images")

    def iter_volume_groups(self) -> Iterator[VolumeGroup]:
        return self.iter_kind("volume_groups")

    def iter_projects(self) -> Iterator[Project]:
        """Projects: v3 only (v4 has them only as a beta, spec nutanix/v4.md section 1)."""
        return self.iter_kind("projects")

    def iter_categories(self) -> Iterator[CategoryValue]:
        """key=value pairs: one v4 object each, or v3 keys expanded to their values."""
        return self.iter_kind("categories")

    def plan(self, kind: str) -> KindPlan:
        """Choose the API for `kind` (probing when auto) and count its pages."""
        return self._plan(self._spec(kind), None, {}, None)[1]

    def iter_kind(self, kind: str, *, api: str | None = None, pages: range | None = None,
                  page_size: int | None = None) -> Iterator:
        """Models of one kind; `pages` limits it to a window of pages (a shard).

        A shard passes its plan's api and page_size so that the pages line up.
        """
        spec = self._spec(kind)
        if api is not None and api not in ("v3", "v4"):
            raise InvalidInput("invalid listing", ["api must be v3 or v4"])
        return self._iter(spec, api, pages, page_size, {})

    def iter_alerts(self, since: datetime | None = None) -> Iterator[Alert]:
        """Alerts changed after `since` (all without it), oldest change first.

        v4.2 filters and orders on the server (`lastUpdatedTime gt since`:
        acknowledged and resolved alerts come back too); v4.0 and v3 cannot
        filter (spec nutanix/v4.md section 1), so their alerts are filtered
        and sorted here, which holds them all in memory (alerts are few).
        """
        params = {"$orderby": "lastUpdatedTime asc"}
        if since is not None:
            params["$filter"] = f"lastUpdatedTime gt {_iso(since)}"
        return self._iter_alerts(since, params)

    def _iter_alerts(self, since: datetime | None, params: dict) -> Iterator[Alert]:
        route, first = self._open(alerts.SPEC, None, None, None, params)
        items = self._iter_opened(alerts.SPEC, route, first, None, None, params)
        if route.filters:
            yield from items
        else:
            yield from _changed_since(items, since)

    # -- stats ---------------------------------------------------------------------

    def vm_stats(self, ext_id: str, start: datetime, end: datetime, *, interval_s: int,
                 stat: str = "AVG", select: list[str] | None = None) -> list[StatSeries]:
        """One series per metric (spec nutanix/v4.md section 7); rollups lag 1-2 minutes.

        `select` names the metrics wanted ($select): a real Prism Central sends
        ~90 of them per point otherwise.
        """
        path = f"/api/vmm/{STATS_VERSION}/ahv/stats/vms/{_segment(ext_id)}"
        params = _stat_params(start, end, interval_s, stat, select)
        body, _ = self._transport.call_timed(
            "GET", path, params=params,
            route=f"GET /api/vmm/{STATS_VERSION}/ahv/stats/vms/{{extId}}",
            typed_page=stats.typed_stats(tuple(select)) if select else None)
        return stats.vm_stats_from_v4(body)

    def cluster_stats(self, ext_id: str, start: datetime, end: datetime, *, interval_s: int,
                      stat: str = "AVG", select: list[str] | None = None) -> list[StatSeries]:
        path = f"/api/clustermgmt/{STATS_VERSION}/stats/clusters/{_segment(ext_id)}"
        params = _stat_params(start, end, interval_s, stat, select)
        body = self._call("GET", path, params=params,
                          route=f"GET /api/clustermgmt/{STATS_VERSION}/stats/clusters/{{extId}}")
        return stats.entity_stats_from_v4(body)

    def host_stats(self, cluster_ext_id: str, host_ext_id: str, start: datetime,
                   end: datetime, *, interval_s: int, stat: str = "AVG",
                   select: list[str] | None = None) -> list[StatSeries]:
        path = (f"/api/clustermgmt/{STATS_VERSION}/stats/clusters/{_segment(cluster_ext_id)}"
                f"/hosts/{_segment(host_ext_id)}")
        params = _stat_params(start, end, interval_s, stat, select)
        body = self._call("GET", path, params=params,
                          route=f"GET /api/clustermgmt/{STATS_VERSION}/stats/clusters/{{extId}}"
                                "/hosts/{extId}")
        return stats.entity_stats_from_v4(body)

    # -- choosing a route ------------------------------------------------------------

    def _spec(self, kind: str) -> KindSpec:
        spec = KINDS.get(kind)
        if spec is None:
            raise InvalidInput("unknown kind", [f"kind must be one of {', '.join(KINDS)}"])
        return spec

    def _routes(self, spec: KindSpec, api: str | None) -> list[_Route]:
        """Where `spec` can be listed, in order of preference, for api v3/v4/auto."""
        v4: list[_Route] = []
        if spec.v4_namespace and spec.v4_version and spec.v4_path:
            v4.append(_Route("v4", detect.v4_path(spec.v4_namespace, spec.v4_version,
                                                  spec.v4_path), spec.v4_version))
            if spec is alerts.SPEC and spec.v4_version != alerts.V4_FALLBACK_VERSION:
                v4.append(_Route("v4", detect.v4_path(spec.v4_namespace,
                                                      alerts.V4_FALLBACK_VERSION, spec.v4_path),
                                 alerts.V4_FALLBACK_VERSION, filters=False))
        v3 = [_Route("v3", f"{detect.V3_ROOT}/{spec.v3_path}", filters=False)] \
            if spec.v3_path else []
        wanted = api or self.api
        if wanted == "v4" and v4:
            return v4
        if wanted == "v3" and v3:
            return v3
        return v4 + v3  # auto, or a forced API the kind lacks (projects have no v4)

    def _candidates(self, spec: KindSpec, api: str | None) -> list[_Route]:
        routes = [r for r in self._routes(spec, api) if self._served.get(r.path) is not False]
        if not routes:
            raise NotFound(f"this Prism Central serves no API that lists {spec.name}")
        return routes

    def _plan(self, spec: KindSpec, api: str | None, params: dict,
              page_size: int | None) -> tuple[_Route, KindPlan]:
        """Probe the candidate routes with one-item pages and keep the fastest."""
        candidates = self._candidates(spec, api)
        route, total, _ = self._decide(spec, candidates, params, page_size, full_first=False)
        if len({r.api for r in candidates}) > 1:
            with self._lock:  # a later listing in auto mode follows this plan
                self._choices[self._choice_key(spec, params, page_size)] = route
        size = self._size(route, page_size)
        return route, KindPlan(spec.name, route.api, total, size, page_count(total, size))

    def _decide(self, spec: KindSpec, candidates: list[_Route], params: dict,
                page_size: int | None, *, full_first: bool) -> tuple[_Route, int, Any]:
        """Probe each API once and keep the one that lists everything soonest.

        With `full_first` the v4 probe is a whole first page, kept when v4
        wins (a kind that fits one v4 page costs one request, no probe).
        Kinds listed by the thousand (`KindSpec.v4_fields`) probe both APIs at
        once: one round trip before the listing instead of two.
        Answers (route, total, raw first v4 page or None).
        """
        by_api = [[r for r in candidates if r.api == api] for api in ("v4", "v3")]
        by_api = [routes for routes in by_api if routes]

        def first_served(routes: list[_Route]) -> tuple[_Probe, Any] | None:
            """The probe of the first route that serves (v4 versions in order)."""
            for route in routes:
                size = self._size(route, page_size) if full_first and route.api == "v4" else 1
                answer = self._if_served(route, lambda route=route, size=size: self._fetch(
                    spec, route, 0, size, params, timed=True))
                if answer is not None:
                    body, elapsed = answer
                    return _Probe(route, self._total(route, body, spec), elapsed), \
                        body if size > 1 else None
            return None

        def fits_one_v4_page(probe: _Probe) -> bool:
            return probe.route.api == "v4" and probe.total <= self._size(probe.route, page_size)

        if spec.v4_fields is not None and len(by_api) > 1:
            with ThreadPoolExecutor(len(by_api), thread_name_prefix="prism-probe") as pool:
                futures = [pool.submit(contextvars.copy_context().run, first_served, routes)
                           for routes in by_api]
                found = [f.result() for f in futures]
        else:
            found = []
            for routes in by_api:
                found.append(first_served(routes))
                if found[-1] and fits_one_v4_page(found[-1][0]):
                    break
        probes = [f[0] for f in found if f]
        probes = [p for p in probes if fits_one_v4_page(p)][:1] or probes  # nothing is faster
        bodies = {f[0].route.path: f[1] for f in found if f and f[1] is not None}
        if not probes:
            raise NotFound(f"this Prism Central serves no API that lists {spec.name}")
        best = self._fastest(spec, probes, page_size)
        self._log_choice(spec, best.route, best.total)
        return best.route, best.total, bodies.get(best.route.path)

    def _choice_key(self, spec: KindSpec, params: dict, page_size: int | None) -> tuple:
        return spec.name, tuple(sorted(params.items())), page_size or self.page_size

    def _log_choice(self, spec: KindSpec, route: _Route, total: int | None) -> None:
        """Once per kind and route: which API a kind is read from."""
        with self._lock:
            if (spec.name, route.path) in self._logged:
                return
            self._logged.add((spec.name, route.path))
        log.info("listing %s from %s%s", spec.name, route.api,
                 f" ({route.version})" if route.version else "",
                 extra={"kind": spec.name, "api": route.api, "count": total})

    def _size(self, route: _Route, page_size: int | None) -> int:
        return min(page_size or self.page_size or route.max_page, route.max_page)

    def _total(self, route: _Route, body: Any, spec: KindSpec) -> int:
        total = v4_total(body) if route.api == "v4" else v3_total(body)
        if total is None:
            raise BadResponse(f"{spec.name} from {route.api}: the list has no total")
        return total

    def _fastest(self, spec: KindSpec, probes: list[_Probe],
                 page_size: int | None) -> _Probe:
        """The probe whose route lists everything soonest under the learned limits.

        Time = max(latency rounds of the window, requests / the route's rate).
        v3 must be clearly faster to win: v4 is the primary API.
        """
        v4 = [p for p in probes if p.route.api == "v4"]
        v3 = [p for p in probes if p.route.api == "v3"]
        if not (v4 and v3):
            return probes[0]
        rtt = max(0.001, min(p.elapsed_s for p in probes))

        def estimate(probe: _Probe) -> float:
            requests = max(1, page_count(probe.total, self._size(probe.route, page_size)))
            if spec is categories.SPEC and probe.route.api == "v3":
                requests += probe.total  # one values list per key
            if spec.needs_categories and probe.route.api == "v4" and self._context is None:
                requests += 1  # the categories map
            seconds = (1 + math.ceil((requests - 1) / self.concurrency)) * rtt
            rate = self._transport.limiter.rate(probe.route.key)
            return max(seconds, requests / rate) if rate else seconds

        return v3[0] if estimate(v3[0]) < V3_PREFERENCE * estimate(v4[0]) else v4[0]

    # -- listing -------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: dict | None = None,
              body: Any = None, route: str | None = None) -> Any:
        return self._transport.call(method, path, params=params, body=body, route=route)

    def _fetch(self, spec: KindSpec, route: _Route, number: int, size: int, params: dict,
               *, path: str | None = None, timed: bool = False) -> Any:
        """One raw page of a list route (`path` overrides it: v3 category values)."""
        if route.api == "v4":
            method, target, key, typed_page = "GET", route.path, route.key, spec.v4_fields
            query, body = {"$page": number, "$limit": size,
                           **(params if route.filters else {})}, None
            if typed_page is not None and route.path not in self._select_refused:
                query["$select"] = ",".join(typed_page.fields)
        else:
            method, target, typed_page = "POST", path or route.path, spec.v3_fields
            key = route.key if path is None else f"POST {detect.V3_ROOT}/categories/{{key}}/list"
            query, body = None, {"kind": spec.v3_kind, "offset": number * size, "length": size}
        try:
            answer = self._transport.call_timed(method, target, params=query, body=body,
                                                route=key, typed_page=typed_page)
        except PrismError as err:
            if err.status != 400 or not query or "$select" not in query:
                raise
            # A Prism Central that does not take these field names: whole items, from now on.
            log.warning("%s refused $select: listing whole items", spec.name,
                        extra={"kind": spec.name, "status": err.status})
            self._select_refused.add(route.path)
            query = {k: v for k, v in query.items() if k != "$select"}
            answer = self._transport.call_timed(method, target, params=query, body=body,
                                                route=key, typed_page=typed_page)
        return answer if timed else answer[0]

    def _page(self, spec: KindSpec, route: _Route, size: int, params: dict,
              number: int) -> Page:
        """Fetch and parse one page (runs in a window worker).

        The collector stays paused for the whole page: the previous pages'
        fresh objects would otherwise be re-scanned between the pauses.
        """
        with gc_paused():
            return self._parse_page(spec, route,
                                    self._fetch(spec, route, number, size, params), number)

    def _parse_page(self, spec: KindSpec, route: _Route, body: Any, number: int) -> Page:
        if route.api == "v4":
            raw, parse = v4_items(body), spec.from_v4
        else:
            raw, parse = v3_items(body), spec.from_v3
        total = self._total(route, body, spec)
        if parse is None:
            raise BadResponse(f"{spec.name} cannot be read from {route.api}")
        ctx = self._parse_context(spec, route)
        items, bad = [], []
        with gc_paused():
            for item in raw:
                try:
                    items.append(parse(item, ctx))
                except BadResponse as err:
                    bad.append(err)
        for err in bad:
            self._bad_item(spec.name, err, number)
        return Page(number, items, total, len(raw))

    def _bad_item(self, kind: str, err: BadResponse, number: int) -> None:
        """One unreadable item must not stop the stream: report it and go on."""
        if self._on_bad_item is not None:
            self._on_bad_item(kind, err)
        else:
            log.warning("skipped an unreadable %s item: %s", kind, err,
                        extra={"kind": kind, "page": number})

    def _iter(self, spec: KindSpec, api: str | None, pages: range | None,
              page_size: int | None, params: dict) -> Iterator:
        route, first = self._open(spec, api, pages, page_size, params)
        if route is None:
            return
        if spec is categories.SPEC and route.api == "v3":
            yield from self._iter_v3_categories(route, first, pages, page_size)
        else:
            yield from self._iter_opened(spec, route, first, pages, page_size, params)

    def _open(self, spec: KindSpec, api: str | None, pages: range | None,
              page_size: int | None, params: dict) -> tuple[Any, Any]:
        """Pick the route and fetch the first page of the listing (or of the shard).

        When both APIs could serve the kind (auto), probes decide (`_decide`);
        otherwise the first page itself tells whether a route is served. When a
        one-item probe of a whole listing already told the total, the answer is
        that total instead of a page: every page then goes to the window at
        once, page 0 included, rather than page 0 alone first (a round trip).
        """
        start = 0 if pages is None else (pages[0] if len(pages) else None)
        if start is None:
            return None, None
        candidates = self._candidates(spec, api)
        if len({r.api for r in candidates}) > 1:
            key = self._choice_key(spec, params, page_size)
            with self._lock:
                chosen = self._choices.get(key)
            if chosen is None:
                chosen, total, body = self._decide(spec, candidates, params, page_size,
                                                   full_first=start == 0)
                with self._lock:
                    self._choices[key] = chosen
                if body is not None:
                    return chosen, self._parse_page(spec, chosen, body, 0)
                if pages is None:
                    return chosen, total
            candidates = [chosen]
        for route in candidates:
            first = self._if_served(route, lambda route=route: self._page(
                spec, route, self._size(route, page_size), params, start))
            if first is not None:
                self._log_choice(spec, route, first.total)
                return route, first
        raise NotFound(f"this Prism Central serves no API that lists {spec.name}")

    def _if_served(self, route: _Route, fetch: Callable[[], Any]) -> Any | None:
        """`fetch()`, or None when the route's 404 says this version is not served."""
        try:
            found = fetch()
        except NotFound:
            if self._served.get(route.path):
                raise  # it answered before: this 404 is not an unserved version
            self._served[route.path] = False
            return None
        self._served[route.path] = True
        return found

    def _iter_opened(self, spec: KindSpec, route: _Route, first: Page | int,
                     pages: range | None,
                     page_size: int | None, params: dict) -> Iterator:
        for page in self._iter_pages(spec, route, first, pages, page_size, params):
            yield from page.items

    def _iter_pages(self, spec: KindSpec, route: _Route, first: Page | int,
                    pages: range | None, page_size: int | None,
                    params: dict) -> Iterator[Page]:
        """Pages in order: the first alone (it tells the total), then a window;
        all in the window when `first` is the total (`_open`)."""
        size = self._size(route, page_size)
        what = f"{spec.name} from {route.api}"

        def fetch(number: int) -> Page:
            return self._page(spec, route, size, params, number)

        if isinstance(first, int):
            source = iter_window(fetch, range(page_count(first, size)), self.concurrency)
        elif pages is None:
            source = iter_pages(fetch, first, page_count(first.total, size), self.concurrency)
        else:
            source = _chain(first, iter_window(fetch, pages[1:], self.concurrency))
        for page in source:
            check_page(page, size, what)
            yield page

    def _iter_v3_categories(self, route: _Route, first: Page | int, pages: range | None,
                            page_size: int | None) -> Iterator:
        """v3 lists keys, then each key's values (spec nutanix/v3.md section 3)."""
        for page in self._iter_pages(categories.SPEC, route, first, pages, page_size, {}):
            keys = page.items

            def values(index: int, keys: list = keys) -> Page:
                return Page(index, self._values_v3(route, keys[index]), 0)

            for found in iter_window(values, range(len(keys)), self.concurrency):
                yield from found.items

    def _values_v3(self, route: _Route, key: str) -> list:
        """Every value of one key; its own pages are read one after another (few)."""
        path = f"{detect.V3_ROOT}/{categories.values_path_v3(key)}"
        found: list = []
        number = 0
        while True:
            body = self._fetch(categories.SPEC, route, number, V3_MAX_PAGE, {}, path=path)
            try:
                batch = categories.values_from_v3(key, body)
            except BadResponse as err:
                self._bad_item("categories", err, number)
                return found
            found.extend(batch)
            total = v3_total(body)
            number += 1
            if not batch or total is None or number * V3_MAX_PAGE >= total:
                return found

    def _parse_context(self, spec: KindSpec, route: _Route) -> ParseContext:
        """v4 VMs name categories by ext_id: map them once per client."""
        if not (spec.needs_categories and route.api == "v4"):
            return _NO_CONTEXT
        if self._context is not None:
            return self._context
        with self._context_lock:
            if self._context is None:
                spec_c = categories.SPEC
                try:
                    values = list(self._iter(spec_c, "v4", None, None, {}))
                except NotFound:
                    log.warning("v4 categories are not served: VM categories stay empty",
                                extra={"kind": "vms"})
                    values = []
                self._context = ParseContext(categories=categories.by_ext_id(values))
            return self._context


_NO_CONTEXT = ParseContext()


def _changed_since(items: Iterator[Alert], since: datetime | None) -> list[Alert]:
    """Client-side filter and order for APIs that cannot filter alerts."""
    floor = _aware(since) if since is not None else None
    epoch = datetime.min.replace(tzinfo=UTC)
    kept = [a for a in items
            if floor is None or (a.last_updated_at or a.created_at or epoch) > floor]
    kept.sort(key=lambda a: a.last_updated_at or a.created_at or epoch)
    return kept


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _chain(first: Page, rest: Iterator[Page]) -> Iterator[Page]:
    yield first
    yield from rest


def _segment(ext_id: str) -> str:
    if not isinstance(ext_id, str) or not ext_id.strip():
        raise InvalidInput("invalid stats request", ["ext_id must be a non-empty string"])
    return quote(ext_id.strip(), safe="")


def _stat_params(start: datetime, end: datetime, interval_s: int, stat: str,
                 select: list[str] | None = None) -> dict:
    problems = []
    if stat not in STAT_TYPES:
        problems.append(f"stat must be one of {', '.join(STAT_TYPES)}")
    if not isinstance(interval_s, int) or isinstance(interval_s, bool) or interval_s < 1:
        problems.append("interval_s must be a positive whole number of seconds")
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        problems.append("start and end must be datetimes")
    elif _aware(start) >= _aware(end):
        problems.append("start must be before end")
    if problems:
        raise InvalidInput("invalid stats request", problems)
    return {"$startTime": _iso(start), "$endTime": _iso(end), "$samplingInterval": interval_s,
            "$statType": stat, "$select": ",".join(select) if select else "*"}
