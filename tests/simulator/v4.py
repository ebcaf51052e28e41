"""The v4 API (`/api/<namespace>/v4.x/...`): routes, list queries, envelopes, errors.

Entity shapes are in `v4_entities.py`, stats series in `stats.py`.

Lists: `$page` (0-based), `$limit` (1..100, default 50; anything else is a 400
SchemaValidationError), `$filter` and `$orderby` (`$orderBy` accepted) over the
properties each kind declares in `Kind.fields` (grammar in `odata.py`),
`$select` (keeps the listed top-level fields plus the annotations). Past the
last page the answer is `"data": []` with the true total. Alerts take
`$filter`/`$orderby` from monitoring v4.2 on; older minors answer 400 (DD:
"v4.0 doesn't support filters"). Envelopes: `data`, `$reserved`, `$objectType`,
`metadata{flags, links (self, first, last, next/prev), totalAvailableResults}`;
VM lists add `extraInfo` (fixture v4-vms-list.json). GET by id sends an `ETag`;
the VM GET is `{"data": ...}` only, as recorded on pc.2024.3.1.1. Only GET routes
exist (no writes, ETag/If-Match checks or tasks); other methods get the plain 404.

Errors: unknown entity -> 404 AppMessage envelope (the VM one is fixture
v4-error-404.json; other kinds use `ENTITY_NOT_FOUND` and an invented code);
`status_error` builds the envelope for 401/429/5xx answers.

Serialized items are cached per entity (`V4Api.cache`); `Simulator.refresh()`
clears the cache after a test edits records.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from tests.simulator import stats
from tests.simulator.inventory import Inventory, iso
from tests.simulator.odata import QueryError, compile_filter, order
from tests.simulator.v4_entities import Renderer, elide, link, obj
from tests.simulator.wire import Match, Request, Response, dumps

V1 = {"$fv": "v1.r0"}  # common.v1 types
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
ETAG_PREFIX = "YXBwbGljYXRpb24vanNvbg==:"  # base64("application/json"), v4-vm-get.http.json
_PREFIX = {"vmm": "VMM", "clustermgmt": "CLU", "networking": "NET", "volumes": "VOL",
           "prism": "PRI", "monitoring": "MON"}  # AppMessage code prefixes (VMM-... recorded)
# status -> (errorGroup, message); groups prism-go-client classifies (spec nutanix/v4.md §4)
STATUS_ERRORS = {
    400: ("INVALID_REQUEST", "The request is invalid."),
    401: ("AUTHENTICATION_REQUIRED", "Authentication required."),
    403: ("ACCESS_DENIED", "Access Denied because no or incorrect permissions were set."),
    404: ("ENTITY_NOT_FOUND", "The requested entity was not found."),
    429: ("RATE_LIMIT_EXCEEDED", "Too many requests. The rate limit has been exceeded."),
    500: ("INTERNAL_ERROR", "An internal error occurred."),
    502: ("BAD_GATEWAY", "Upstream service is unreachable."),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
    504: ("GATEWAY_TIMEOUT", "Upstream service timed out."),
}


def flags(paginated: bool) -> list[dict]:
    return [obj("v1.r0", "common.v1.config.Flag", name=name, value=value)
            for name, value in (("hasError", False), ("isPaginated", paginated),
                                ("isTruncated", False))]


def metadata(links: list[dict], *, paginated: bool, total: int | None = None,
             extra: list[dict] | None = None) -> dict:
    result = {"flags": flags(paginated), "$reserved": V1,
              "$objectType": "common.v1.response.ApiResponseMetadata", "links": elide(links)}
    if total is not None:
        result["totalAvailableResults"] = total
    if extra:
        result["extraInfo"] = extra
    return result


def error_body(ns: str, code: str, group: str, message: str,
               arguments: dict | None = None) -> dict:
    """The AppMessage error envelope (fixtures v4-error-404.json, v4-error-403.json)."""
    app = {"$objectType": f"{ns}.v4.error.AppMessage", "code": code, "errorGroup": group,
           "message": message, "severity": "ERROR", "locale": "en-US"}
    if arguments:
        app["argumentsMap"] = arguments
    return {"$dataItemDiscriminator": f"{ns}.v4.error.ErrorResponse",
            "data": {"$objectType": f"{ns}.v4.error.ErrorResponse",
                     "$errorItemDiscriminator": f"List<{ns}.v4.error.AppMessage>",
                     "error": [app]}}


def status_error(ns: str, status: int, **headers: str) -> Response:
    group, message = STATUS_ERRORS.get(status, ("INTERNAL_ERROR", "Request failed."))
    code = f"{_PREFIX.get(ns, 'PRI')}-{status}00"
    return Response.of(status, error_body(ns or "prism", code, group, message), **headers)


def validation_error(ns: str, path: str, attribute: str, message: str) -> Response:
    """400 with one SchemaValidationError object (SDK model; prism-go-client errors_test.go)."""
    error = {"$objectType": f"{ns}.v4.error.SchemaValidationError",
             "timestamp": iso(datetime.now(UTC).replace(microsecond=0)), "statusCode": 400,
             "error": "Bad Request", "path": path,
             "validationErrorMessages": [{
                 "$objectType": f"{ns}.v4.error.SchemaValidationErrorMessage",
                 "location": "query", "message": message, "attributePath": attribute}]}
    return Response.of(400, {"$dataItemDiscriminator": f"{ns}.v4.error.ErrorResponse",
                             "data": {"$objectType": f"{ns}.v4.error.ErrorResponse",
                                      "$errorItemDiscriminator":
                                          f"{ns}.v4.error.SchemaValidationError",
                                      "error": error}})


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda r: getattr(r, name)


def _const(value: Any) -> Callable[[Any], Any]:
    return lambda r: value


@dataclass(frozen=True)
class Kind:
    name: str  # inventory list, cache key and route word: "vms"
    ns: str
    object_type: str  # "vmm.v4.ahv.config.Vm"; list/get response types derive from it
    render: str  # Renderer method
    fields: dict[str, Callable[[Any], Any]]  # $filter/$orderby properties

    def response_type(self, verb: str) -> str:
        """`<module>.ListVmsApiResponse`, `.ListCategoriesApiResponse`, `.GetClusterApiResponse`."""
        module, _, name = self.object_type.rpartition(".")
        if verb == "List":
            name = name[:-1] + "ies" if name.endswith("y") else name + "s"
        return f"{module}.{verb}{name}ApiResponse"


KINDS = {k.name: k for k in (
    Kind("vms", "vmm", "vmm.v4.ahv.config.Vm", "vm", {
        "extId": _attr("ext_id"), "name": _attr("name"), "description": _attr("description"),
        "powerState": _attr("power_state"), "createTime": _attr("create_time"),
        "updateTime": _attr("update_time"), "memorySizeBytes": _attr("memory_bytes"),
        "numSockets": _attr("num_sockets"), "machineType": _attr("machine_type"),
        "cluster/extId": _attr("cluster_ext_id"), "host/extId": _attr("host_ext_id"),
        "isAgentVm": _const(False)}),
    Kind("clusters", "clustermgmt", "clustermgmt.v4.config.Cluster", "cluster",
         {"extId": _attr("ext_id"), "name": _attr("name")}),
    Kind("hosts", "clustermgmt", "clustermgmt.v4.config.Host", "host", {
        "extId": _attr("ext_id"), "hostName": _attr("name"),
        "cluster/uuid": _attr("cluster_ext_id"), "blockSerial": _attr("block_serial"),
        "memorySizeBytes": _attr("memory_bytes"), "hypervisor/type": _const("AHV"),
        "hostType": _const("HYPER_CONVERGED")}),
    Kind("subnets", "networking", "networking.v4.config.Subnet", "subnet", {
        "extId": _attr("ext_id"), "name": _attr("name"), "networkId": _attr("vlan_id"),
        "clusterReference": _attr("cluster_ext_id"), "subnetType": _const("VLAN"),
        "isExternal": _const(False)}),
    Kind("images", "vmm", "vmm.v4.content.Image", "image", {
        "extId": _attr("ext_id"), "name": _attr("name"), "type": _attr("image_type"),
        "sizeBytes": _attr("size_bytes"), "createTime": _attr("create_time"),
        "lastUpdateTime": _attr("update_time")}),
    Kind("volume_groups", "volumes", "volumes.v4.config.VolumeGroup", "volume_group", {
        "extId": _attr("ext_id"), "name": _attr("name"),
        "clusterReference": _attr("cluster_ext_id"), "sharingStatus": _attr("sharing_status"),
        "usageType": _attr("usage_type"), "isHidden": _attr("is_hidden")}),
    Kind("categories", "prism", "prism.v4.config.Category", "category", {
        "extId": _attr("ext_id"), "key": _attr("key"), "value": _attr("value"),
        "type": _attr("type")}),
    Kind("alerts", "monitoring", "monitoring.v4.serviceability.Alert", "alert", {
        "extId": _attr("ext_id"), "alertType": _attr("alert_type"),
        "severity": _attr("severity"), "creationTime": _attr("creation_time"),
        "lastUpdatedTime": _attr("last_updated_time"), "isResolved": _attr("is_resolved"),
        "isAcknowledged": _attr("is_acknowledged"), "isAutoResolved": _attr("is_auto_resolved"),
        "resolvedTime": _attr("resolved_time"), "clusterUUID": _attr("cluster_ext_id"),
        "sourceEntity/extId": _attr("source_ext_id"), "sourceEntity/type": _attr("source_type")}),
)}


@dataclass(frozen=True)
class Route:
    ns: str
    pattern: re.Pattern  # the path after /api/<ns>/<version>/
    op: str  # V4Api method "op_<op>"
    kind: str
    name: str  # counters["by_route"] key without the method: "vmm/vms"
    api: str  # RateLimits.per_api key: "vmm.vms.list"


def _route(ns: str, path: str, op: str, kind: str, name: str, api: str) -> Route:
    regex = path.replace("{cluster}", "(?P<cluster>[^/]+)").replace("{id}", "(?P<ext_id>[^/]+)")
    return Route(ns, re.compile(regex + "$"), op, kind, name, api)


ROUTES = [
    _route("vmm", "ahv/config/vms", "list", "vms", "vmm/vms", "vmm.vms.list"),
    _route("vmm", "ahv/config/vms/{id}", "get", "vms", "vmm/vms/{extId}", "vmm.vms.get"),
    _route("vmm", "ahv/stats/vms/{id}", "vm_stats", "vms", "vmm/stats/vms/{extId}",
           "vmm.vms.stats"),
    _route("vmm", "content/images", "list", "images", "vmm/images", "vmm.images.list"),
    _route("vmm", "content/images/{id}", "get", "images", "vmm/images/{extId}", "vmm.images.get"),
    _route("clustermgmt", "config/clusters", "list", "clusters", "clustermgmt/clusters",
           "clustermgmt.clusters.list"),
    _route("clustermgmt", "config/clusters/{id}", "get", "clusters",
           "clustermgmt/clusters/{extId}", "clustermgmt.clusters.get"),
    _route("clustermgmt", "config/hosts", "list", "hosts", "clustermgmt/hosts",
           "clustermgmt.hosts.list"),
    _route("clustermgmt", "config/clusters/{id}/hosts", "cluster_hosts", "hosts",
           "clustermgmt/clusters/{extId}/hosts", "clustermgmt.hosts.list"),
    _route("clustermgmt", "config/clusters/{cluster}/hosts/{id}", "get", "hosts",
           "clustermgmt/clusters/{clusterExtId}/hosts/{extId}", "clustermgmt.hosts.get"),
    _route("clustermgmt", "stats/clusters/{id}", "cluster_stats", "clusters",
           "clustermgmt/stats/clusters/{extId}", "clustermgmt.clusters.stats"),
    _route("clustermgmt", "stats/clusters/{cluster}/hosts/{id}", "host_stats", "hosts",
           "clustermgmt/stats/clusters/{clusterExtId}/hosts/{extId}", "clustermgmt.hosts.stats"),
    _route("networking", "config/subnets", "list", "subnets", "networking/subnets",
           "networking.subnets.list"),
    _route("networking", "config/subnets/{id}", "get", "subnets", "networking/subnets/{extId}",
           "networking.subnets.get"),
    _route("volumes", "config/volume-groups", "list", "volume_groups", "volumes/volume-groups",
           "volumes.volume_groups.list"),
    _route("volumes", "config/volume-groups/{id}", "get", "volume_groups",
           "volumes/volume-groups/{extId}", "volumes.volume_groups.get"),
    _route("prism", "config/categories", "list", "categories", "prism/categories",
           "prism.categories.list"),
    _route("prism", "config/categories/{id}", "get", "categories", "prism/categories/{extId}",
           "prism.categories.get"),
    _route("monitoring", "serviceability/alerts", "list", "alerts", "monitoring/alerts",
           "monitoring.alerts.list"),
    _route("monitoring", "serviceability/alerts/{id}", "get", "alerts",
           "monitoring/alerts/{extId}", "monitoring.alerts.get"),
]


def minor(version: str) -> int:
    return int(version.split(".")[1])


class V4Api:
    """Answers the v4 GET routes from the inventory; one instance per simulator."""

    def __init__(self, inv: Inventory, version: str, base_url: Callable[[], str]) -> None:
        self.inv = inv
        self.render = Renderer(inv, version, base_url)
        self.base_url = base_url
        self.cache: dict[tuple[str, str], tuple[tuple[str, bytes], ...]] = {}

    def match(self, ns: str, rest: str) -> Match | None:
        """The route for the path after /api/<ns>/<version>/ (GET only)."""
        for route in ROUTES:
            found = route.pattern.match(rest) if route.ns == ns else None
            if found:
                call = partial(getattr(self, f"op_{route.op}"), kind=KINDS[route.kind],
                               **found.groupdict())
                return Match(route.name, route.api, call)
        return None

    def item(self, kind: Kind, record: Any, wanted: frozenset | None = None) -> bytes:
        """The item's JSON, only its `wanted` top-level fields given a `$select`.

        Each field is serialized once and cached (`V4Api.cache`), so a page
        with or without `$select` is a join of cached fragments.
        """
        key = (kind.name, record.ext_id)
        fields = self.cache.get(key)
        if fields is None:
            fields = self.cache[key] = tuple(
                (name, dumps(name) + b":" + dumps(value))
                for name, value in self.item_dict(kind, record).items())
        return b"{" + b",".join(
            [part for name, part in fields if wanted is None or name in wanted]) + b"}"

    def item_dict(self, kind: Kind, record: Any) -> dict:
        return elide(getattr(self.render, kind.render)(record))

    def missing(self, kind: Kind, ext_id: str) -> Response:
        if kind.name == "vms":  # fixture v4-error-404.json
            return Response.of(404, error_body(
                "vmm", "VMM-30100", "VM_NOT_FOUND", f"Failed to perform the operation on the VM "
                f"with UUID '{ext_id}', because it is not found.", {"vm_uuid": ext_id}))
        return Response.of(404, error_body(
            kind.ns, f"{_PREFIX[kind.ns]}-10404", "ENTITY_NOT_FOUND",
            f"The entity with UUID '{ext_id}' was not found.", {"ext_id": ext_id}))

    def _aos_cluster(self, ext_id: str) -> Any:
        cluster = self.inv.find("clusters", ext_id)
        return None if cluster is None or cluster.is_prism_central else cluster

    # -- lists -------------------------------------------------------------

    def op_list(self, req: Request, kind: Kind, records: list | None = None) -> Response:
        records = getattr(self.inv, kind.name) if records is None else records
        page_text, limit_text = req.param("$page") or "0", req.param("$limit")
        limit_text = str(DEFAULT_LIMIT) if limit_text is None else limit_text
        if not limit_text.lstrip("-").isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            return validation_error(kind.ns, req.path, "$limit",
                                    f"$limit must be between 1 and {MAX_LIMIT}")
        if not page_text.isdigit():
            return validation_error(kind.ns, req.path, "$page",
                                    "$page must be a non-negative integer")
        page, limit = int(page_text), int(limit_text)
        text_filter, text_order = req.param("$filter"), req.param("$orderby", "$orderBy")
        if kind.name == "alerts" and minor(req.version) < 2 and (text_filter or text_order):
            return validation_error(kind.ns, req.path, "$filter" if text_filter else "$orderby",
                                    f"$filter and $orderby are not supported in {req.version}")
        try:
            if text_filter:
                predicate = compile_filter(text_filter, kind.fields)
                records = [r for r in records if predicate(r)]
            if text_order:
                records = order(records, text_order, kind.fields)
        except QueryError as err:
            attribute = "$orderby" if "$orderby" in str(err) else "$filter"
            return validation_error(kind.ns, req.path, attribute, str(err))
        chunk = records[page * limit:(page + 1) * limit]
        select = (req.param("$select") or "*").replace(" ", "")
        wanted = None if select == "*" else frozenset(
            {s.split("/")[0] for s in select.split(",")} | {"$reserved", "$objectType"})
        items = [self.item(kind, r, wanted) for r in chunk]
        extra = [{"$reserved": V1, "$objectType": "common.v1.config.KVPair",
                  "name": "truncatedIndexes"}] if kind.name == "vms" else None
        meta = metadata(self._page_links(req, page, limit, len(records)), paginated=True,
                        total=len(records), extra=extra)
        return Response(200, b"".join((
            b'{"data":[', b",".join(items), b'],"$reserved":', dumps({"$fv": self.render.fv}),
            b',"$objectType":', dumps(kind.response_type("List")), b',"metadata":', dumps(meta),
            b"}")))

    def _page_links(self, req: Request, page: int, limit: int, total: int) -> list[dict]:
        rest = "".join(f"&{k}={v}" for k, v in req.query if k not in ("$page", "$limit"))
        base = f"{self.base_url()}{req.path}"

        def href(number: int) -> str:
            return f"{base}?$page={number}&$limit={limit}{rest}"

        last = max(0, math.ceil(total / limit) - 1)
        links = [link(href(page), "self"), link(href(0), "first"), link(href(last), "last")]
        if page < last:
            links.append(link(href(page + 1), "next"))
        if page > 0:
            links.append(link(href(min(page - 1, last)), "prev"))
        return links

    def op_cluster_hosts(self, req: Request, kind: Kind, ext_id: str) -> Response:
        if self._aos_cluster(ext_id) is None:  # listing the PC pseudo-cluster's hosts fails
            return self.missing(KINDS["clusters"], ext_id)
        return self.op_list(req, kind, [h for h in self.inv.hosts if h.cluster_ext_id == ext_id])

    # -- single objects ----------------------------------------------------

    def op_get(self, req: Request, kind: Kind, ext_id: str, cluster: str | None = None) -> Response:
        record = self.inv.find(kind.name, ext_id)
        if record is None or (cluster is not None and record.cluster_ext_id != cluster):
            return self.missing(kind, ext_id)
        item = self.item(kind, record)
        etag = ETAG_PREFIX + hashlib.sha256(item).hexdigest()
        if kind.name == "vms":  # the recorded VM GET carried `data` only (v4-vm-get.json)
            return Response(200, b'{"data":' + item + b"}", {"ETag": etag})
        url = f"{self.base_url()}{req.path}"
        actions = ("hosts", "$actions/expand-cluster", "$actions/remove-node") \
            if kind.name == "clusters" else ()
        links = [link(url, "self")] + [link(f"{url}/{a}", a.rsplit("/", 1)[-1]) for a in actions]
        return Response(200, b"".join((
            b'{"data":', item, b',"$reserved":', dumps({"$fv": self.render.fv}),
            b',"$objectType":', dumps(kind.response_type("Get")), b',"metadata":',
            dumps(metadata(links, paginated=False)), b"}")), {"ETag": etag})

    # -- stats -------------------------------------------------------------

    def _stats_query(self, req: Request, ns: str) -> stats.Query | Response:
        try:
            return stats.Query(req.param)
        except stats.StatsError as err:
            return validation_error(ns, req.path, err.attribute, str(err))

    def op_vm_stats(self, req: Request, kind: Kind, ext_id: str) -> Response:
        vm = self.inv.find("vms", ext_id)
        if vm is None:
            return self.missing(kind, ext_id)
        query = self._stats_query(req, "vmm")
        if isinstance(query, Response):
            return query
        fv = self.render.fv
        tuples = [{**obj(fv, "vmm.v4.ahv.stats.VmStatsTuple"), **t}
                  for t in stats.vm_tuples(self.inv, vm, query)]
        url = f"{self.base_url()}{req.path}" + (
            "?" + "&".join(f"{k}={v}" for k, v in req.query) if req.query else "")
        return Response.of(200, {
            "data": elide(obj(fv, "vmm.v4.ahv.stats.VmStats", extId=vm.ext_id,
                              stats=tuples or None)),
            "$reserved": {"$fv": fv}, "$objectType": "vmm.v4.ahv.stats.GetVmStatsApiResponse",
            "metadata": metadata([link(url, "self")], paginated=False, total=1)})

    def _entity_stats(self, req: Request, record: Any, object_type: str, rel: str,
                      config_path: str) -> Response:
        query = self._stats_query(req, "clustermgmt")
        if isinstance(query, Response):
            return query
        fv = self.render.fv
        series = {metric: [obj(fv, "clustermgmt.v4.stats.TimeValuePair", timestamp=ts, value=v)
                           for ts, v in points]
                  for metric, points in stats.entity_series(self.inv, record, query).items()}
        links = [link(f"{self.base_url()}{req.path}", "self"),
                 link(f"{self.base_url()}/api/clustermgmt/{req.version}/{config_path}", rel)]
        return Response.of(200, {
            "data": elide(obj(fv, f"clustermgmt.v4.stats.{object_type}", extId=record.ext_id,
                              **series)),
            "$reserved": {"$fv": fv},
            "$objectType": f"clustermgmt.v4.stats.{object_type}ApiResponse",
            "metadata": metadata(links, paginated=False)})

    def op_cluster_stats(self, req: Request, kind: Kind, ext_id: str) -> Response:
        cluster = self._aos_cluster(ext_id)
        if cluster is None:
            return self.missing(kind, ext_id)
        return self._entity_stats(req, cluster, "ClusterStats", "cluster",
                                  f"config/clusters/{ext_id}")

    def op_host_stats(self, req: Request, kind: Kind, cluster: str, ext_id: str) -> Response:
        host = self.inv.find("hosts", ext_id)
        if host is None or host.cluster_ext_id != cluster:
            return self.missing(kind, ext_id)
        return self._entity_stats(req, host, "HostStats", "host",
                                  f"config/clusters/{cluster}/hosts/{ext_id}")
