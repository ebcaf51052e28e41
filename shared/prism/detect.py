"""Which APIs a Prism Central serves: its version, v3, and each v4 namespace/version.

Detection is cheapest first (spec nutanix/README.md section 2): the product
version comes from the `X-Ntnx-Product` header every answer carries (or v3
`GET prism_central` when absent); a v4 namespace/version is served when a
one-item list answers, and absent when it answers 404 (the plain
`{"message": ...}` of an unserved version). 401 is not absence: it stops.
A 403 proves the route exists, so it counts as served.

This module owns `ApiInfo` and the probing; the client decides per kind which
API to read (`client.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.errors import NotFound, PermissionDenied

V3_ROOT = "/api/nutanix/v3"


@dataclass(frozen=True)
class ApiInfo:
    """What one Prism Central serves, as far as this client reads it."""

    product: str | None  # "pc.2024.3.1.1"
    v3: bool
    v4: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # ns -> served versions

    def serves(self, namespace: str, version: str) -> bool:
        return version in self.v4.get(namespace, ())


def v4_path(namespace: str, version: str, path: str) -> str:
    return f"/api/{namespace}/{version}/{path}"


def probe_v4(call: Callable[..., Any], namespace: str, version: str, path: str) -> bool:
    """Is this namespace/version served? One one-item list answers it."""
    try:
        call("GET", v4_path(namespace, version, path), params={"$limit": 1})
    except NotFound:
        return False
    except PermissionDenied:
        return True
    return True


def probe_v3(call: Callable[..., Any]) -> tuple[bool, str | None]:
    """Is v3 served, and which version does `GET prism_central` report?"""
    try:
        body = call("GET", f"{V3_ROOT}/prism_central")
    except NotFound:
        return False, None
    except PermissionDenied:
        return True, None
    version = body.get("resources", {}).get("version") if isinstance(body, dict) else None
    return True, version if isinstance(version, str) and version else None


def detect(call: Callable[..., Any], routes: Iterable[tuple[str, str, str]],
           product: Callable[[], str | None], *, workers: int = 4) -> ApiInfo:
    """Probe v3 first (it also checks the credentials), then every v4 route in parallel.

    `routes` are (namespace, version, list path) triples; `product` reads the
    `X-Ntnx-Product` header the transport saw last.
    """
    v3, v3_version = probe_v3(call)
    unique = sorted(set(routes))
    with ThreadPoolExecutor(max(1, min(workers, len(unique) or 1))) as pool:
        served = list(pool.map(lambda r: (r, probe_v4(call, *r)), unique))
    v4: dict[str, tuple[str, ...]] = {}
    for (namespace, version, _path), ok in served:
        if ok:
            v4[namespace] = tuple(sorted({*v4.get(namespace, ()), version}))
    return ApiInfo(product=product() or v3_version, v3=v3, v4=v4)
