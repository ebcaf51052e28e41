"""The v3 API (`/api/nutanix/v3/...`): list calls, single GETs, errors.

Entity shapes are in `v3_entities.py`.

`POST <kind>s/list` with body `{kind, offset, length, filter, sort_attribute,
sort_order}` (spec nutanix/v3.md section 2):

- `length` defaults to 20; a `length` above 500 is served as 500 (the ceiling
  ANS treats as the maximum) and `metadata.length` says 500, so a client that
  asked for more must page by what it received. `length < 1` or `offset < 0`
  -> 422 INVALID_REQUEST.
- `filter` is a FIQL subset: `attr==value`, `attr!=value`, `;` (and), `,` (or,
  binding looser than `;`). Values compare case-insensitively; a value with
  regex characters (`.*` ...) is a case-insensitive full-match regex. The
  attributes per kind are in `LISTS` (e.g. `vm_name`, `power_state`); any other
  -> 422.
- `metadata` echoes `filter`, `sort_attribute`, `sort_order`, `offset` and
  `length` only when they were sent (fixtures v3-vms-list.json, v3-clusters-list.json).
- `categories/list` lists keys (`metadata.kind: category_key`);
  `categories/{key}/list` lists that key's values.

Errors use the v3 envelope (fixtures v3-error-401.json, -403, -422); the 401
body is the recorded one verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from tests.simulator.inventory import ADMIN_UUID, PC_IP, Inventory, iso
from tests.simulator.v3_entities import Renderer, seconds
from tests.simulator.wire import Match, Request, Response, dumps

API_VERSION = "3.1"
DEFAULT_LENGTH, MAX_LENGTH = 20, 500
_REGEX_CHARS = set(".*+?[](){}|^$\\")
# status -> (reason, message)
STATUS_REASONS = {
    400: ("INVALID_REQUEST", "Request could not be processed."),
    403: ("ACCESS_DENIED", "No permission to access the resource."),
    404: ("ENTITY_NOT_FOUND", "The requested entity was not found."),
    422: ("INVALID_REQUEST", "Request could not be processed."),
    429: ("RATE_LIMIT_EXCEEDED", "Too many requests. The rate limit has been exceeded."),
    500: ("INTERNAL_ERROR", "An internal error occurred."),
    502: ("SERVICE_UNAVAILABLE", "Upstream service is unreachable."),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
    504: ("SERVICE_UNAVAILABLE", "Upstream service timed out."),
}
UNAUTHORIZED = {"state": "ERROR", "code": 401, "message_list": [{
    "reason": "AUTHENTICATION_REQUIRED", "message": "Authentication required.",
    "details": 'Basic realm="Intent Gateway Login Required"'}], "api_version": API_VERSION}


def error(status: int, reason: str, message: str, details: Any = None,
          **headers: str) -> Response:
    entry = {"message": message, "reason": reason}
    if details is not None:
        entry["details"] = details
    return Response.of(status, {"api_version": API_VERSION, "code": status,
                                "message_list": [entry], "state": "ERROR"}, **headers)


def status_error(status: int, **headers: str) -> Response:
    if status == 401:
        return Response.of(401, UNAUTHORIZED, **headers)
    reason, message = STATUS_REASONS.get(status, ("INTERNAL_ERROR", "Request failed."))
    return error(status, reason, message, **headers)


def invalid(message: str) -> Response:
    return error(422, "INVALID_REQUEST", "Request could not be processed.", {"": [message]})


class ListError(ValueError):
    """A list body the simulator answers with 422."""


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda r: getattr(r, name)


@dataclass(frozen=True)
class ListKind:
    word: str  # path word and inventory list: "vms"
    kind: str  # metadata.kind: "vm"
    render: str  # Renderer method
    attributes: dict[str, Callable[[Any], Any]]  # FIQL and sort_attribute names


_COMMON = {"uuid": _attr("ext_id"), "name": _attr("name")}
LISTS = {k.word: k for k in (
    ListKind("vms", "vm", "vm", {**_COMMON, "vm_name": _attr("name"),
                                 "power_state": _attr("power_state"),
                                 "cluster_name": _attr("cluster_name"),
                                 "cluster_uuid": _attr("cluster_ext_id"),
                                 "project_name": _attr("project_name"),
                                 "creation_time": _attr("create_time")}),
    ListKind("clusters", "cluster", "cluster", {**_COMMON, "cluster_name": _attr("name")}),
    ListKind("hosts", "host", "host", {**_COMMON, "host_name": _attr("name"),
                                       "cluster_name": _attr("cluster_name")}),
    ListKind("subnets", "subnet", "subnet", {**_COMMON, "subnet_name": _attr("name"),
                                             "vlan_id": _attr("vlan_id"),
                                             "cluster_name": _attr("cluster_name")}),
    ListKind("images", "image", "image", {**_COMMON, "image_name": _attr("name"),
                                          "image_type": _attr("image_type"),
                                          "creation_time": _attr("create_time")}),
    ListKind("volume_groups", "volume_group", "volume_group",
             {**_COMMON, "cluster_name": _attr("cluster_name")}),
    ListKind("projects", "project", "project", _COMMON),
    ListKind("alerts", "alert", "alert", {
        "uuid": _attr("ext_id"), "severity": _attr("severity"), "title": _attr("title"),
        "alert_type": _attr("alert_type"), "resolved": _attr("is_resolved"),
        "acknowledged": _attr("is_acknowledged"), "creation_time": _attr("creation_time")}),
)}


def _matches(actual: Any, expected: str) -> bool:
    if _REGEX_CHARS & set(expected):
        try:
            return re.fullmatch(expected, str(actual), re.IGNORECASE) is not None
        except re.error:
            raise ListError(f"invalid regular expression in filter: {expected}") from None
    return str(actual).lower() == expected.lower()


def fiql(text: str, attributes: dict[str, Callable[[Any], Any]]) -> Callable[[Any], bool]:
    """`a==x;b!=y,c==z` -> predicate; `;` binds tighter than `,` (FIQL)."""
    alternatives = []
    for branch in text.split(","):
        terms = []
        for term in branch.split(";"):
            found = re.fullmatch(r"\s*([\w.]+)\s*(==|!=)(.*)", term)
            if not found or found.group(1) not in attributes:
                raise ListError(f"unsupported filter: {term.strip()}")
            name, op, value = found.groups()
            terms.append((attributes[name], op == "==", value.strip()))
        alternatives.append(terms)
    return lambda r: any(all(_matches(get(r), value) == equal for get, equal, value in terms)
                         for terms in alternatives)


class V3Api:
    """Answers the v3 routes from the inventory; one instance per simulator."""

    def __init__(self, inv: Inventory, version: str, username: Callable[[], str]) -> None:
        self.inv = inv
        self.version = version
        self.render = Renderer(inv, version)
        self.username = username
        self.cache: dict[tuple[str, str], bytes] = {}

    def match(self, method: str, rest: str) -> Match | None:
        """The route for the path after /api/nutanix/v3/."""
        words = rest.strip("/").split("/")
        if method == "POST" and words[-1] == "list":
            if len(words) == 2 and words[0] in LISTS:
                kind = LISTS[words[0]]
                return Match(f"v3/{kind.word}/list", f"v3.{kind.word}.list",
                             partial(self.op_list, kind=kind))
            if words[0] == "categories" and len(words) in (2, 3):
                if len(words) == 2:
                    return Match("v3/categories/list", "v3.categories.list", self.op_keys)
                return Match("v3/categories/{name}/list", "v3.categories.values.list",
                             partial(self.op_values, key=words[1]))
        if method == "GET" and len(words) == 2 and words[0] in LISTS:
            kind = LISTS[words[0]]
            return Match(f"v3/{kind.word}/{{uuid}}", f"v3.{kind.word}.get",
                         partial(self.op_get, kind=kind, uuid=words[1]))
        if method == "GET" and rest == "prism_central":
            return Match("v3/prism_central", "v3.prism_central.get", self.op_prism_central)
        if method == "GET" and rest == "users/me":
            return Match("v3/users/me", "v3.users.get", self.op_me)
        return None

    def entity(self, kind: ListKind, record: Any) -> bytes:
        key = (kind.word, record.ext_id)
        cached = self.cache.get(key)
        if cached is None:
            cached = self.cache[key] = dumps(getattr(self.render, kind.render)(record))
        return cached

    def _paging(self, req: Request) -> tuple[dict, int, int]:
        try:
            body = req.json()
        except ValueError:
            raise ListError("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise ListError("the request body must be an object")
        offset, length = body.get("offset", 0), body.get("length", DEFAULT_LENGTH)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ListError("'offset' must be an integer >= 0")
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise ListError("'length' must be an integer >= 1")
        return body, offset, min(length, MAX_LENGTH)

    @staticmethod
    def _list_metadata(body: dict, kind: str, offset: int, length: int, total: int) -> dict:
        meta = {key: body[key] for key in ("filter", "sort_attribute", "sort_order")
                if key in body}
        meta["kind"] = kind
        if "offset" in body:
            meta["offset"] = offset
        if "length" in body:
            meta["length"] = length
        meta["total_matches"] = total
        return meta

    def op_list(self, req: Request, kind: ListKind) -> Response:
        try:
            body, offset, length = self._paging(req)
            records = getattr(self.inv, kind.word)
            if body.get("filter"):
                predicate = fiql(str(body["filter"]), kind.attributes)
                records = [r for r in records if predicate(r)]
            sort_key = kind.attributes.get(str(body.get("sort_attribute") or ""))
            if sort_key:
                present = [r for r in records if sort_key(r) is not None]
                records = sorted(present, key=sort_key,
                                 reverse=body.get("sort_order") == "DESCENDING") + [
                    r for r in records if sort_key(r) is None]
        except ListError as err:
            return invalid(str(err))
        entities = [self.entity(kind, r) for r in records[offset:offset + length]]
        meta = self._list_metadata(body, kind.kind, offset, length, len(records))
        return Response(200, b"".join((
            b'{"api_version":"3.1","metadata":', dumps(meta), b',"entities":[',
            b",".join(entities), b"]}")))

    def op_get(self, req: Request, kind: ListKind, uuid: str) -> Response:
        record = self.inv.find(kind.word, uuid)
        if record is None:
            return error(404, "ENTITY_NOT_FOUND", f"{kind.kind} : {uuid} is not found.")
        return Response(200, b'{"api_version":"3.1",' + self.entity(kind, record)[1:])

    def _keys(self) -> dict[str, list]:
        keys: dict[str, list] = {}
        for category in self.inv.categories:
            keys.setdefault(category.key, []).append(category)
        return keys

    def _category_page(self, req: Request, kind: str, entities: list[dict]) -> Response:
        try:
            body, offset, length = self._paging(req)
        except ListError as err:
            return invalid(str(err))
        meta = self._list_metadata(body, kind, offset, length, len(entities))
        return Response.of(200, {"api_version": API_VERSION, "metadata": meta,
                                 "entities": entities[offset:offset + length]})

    def op_keys(self, req: Request) -> Response:
        return self._category_page(req, "category_key", [
            {"description": f"{key} category.", "name": key,
             "system_defined": values[0].type == "SYSTEM"}
            for key, values in self._keys().items()])

    def op_values(self, req: Request, key: str) -> Response:
        values = self._keys().get(key)
        if values is None:
            return error(404, "ENTITY_NOT_FOUND", f"category : {key} is not found.")
        return self._category_page(req, "category", [
            {"name": key, "value": v.value, "system_defined": v.type == "SYSTEM",
             **({"description": v.description} if v.description else {})} for v in values])

    def op_prism_central(self, req: Request) -> Response:
        """Fixture v3-prism-central-get.json: `resources` only, no envelope."""
        pc = self.inv.prism_central
        vm = {"vm_name": "prism-central-vm-1", "data_disk_size_bytes": 536_870_912_000,
              "dns_server_ip_list": pc.name_servers, "container_uuid": ADMIN_UUID,
              "nic_list": [{"network_configuration": {"subnet_mask": "255.255.255.0",
                                                      "network_uuid": ADMIN_UUID,
                                                      "default_gateway": "10.99.0.1"},
                            "ip_list": [PC_IP]}],
              "num_sockets": 10, "memory_size_bytes": 70_866_960_384, "status": "NORMAL",
              "power_state": "ON", "vm_uuid": pc.host_ext_ids[0],
              "ntp_server_list": pc.ntp_servers,
              "cluster_reference": {"kind": "cluster", "uuid": self.inv.aos_clusters[0].ext_id}}
        return Response.of(200, {"resources": {
            "should_auto_register": False, "is_registered_to_hosting_pe": True,
            "pc_size": "kSmall", "version": self.version, "pc_vm_list": [vm],
            "cluster_uuid": pc.ext_id, "type": "PC", "virtual_ip": PC_IP}})

    def op_me(self, req: Request) -> Response:
        """The login check PGC and the webhook listener use (spec nutanix/v3.md section 6)."""
        name = self.username()
        created = seconds(self.inv.prism_central.create_time)
        return Response.of(200, {
            "status": {"state": "COMPLETE", "name": name, "resources": {
                "display_name": name, "user_type": "LOCAL",
                "access_control_policy_reference_list": [],
                "projects_reference_list": [
                    {"kind": "project", "uuid": p.ext_id, "name": p.name}
                    for p in self.inv.projects[:1]]}},
            "spec": {"resources": {}}, "api_version": API_VERSION,
            "metadata": {"kind": "user", "uuid": ADMIN_UUID, "spec_version": 0,
                         "categories": {}, "creation_time": created,
                         "last_update_time": iso(self.inv.now)}})
