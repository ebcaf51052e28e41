"""Request and response values passed between the HTTP handler and the API modules.

The API modules (`v4.py`, `v3.py`, `stats.py`) never touch sockets: they take a
`Request` and return a `Response`, so routing, faults and rate limits stay in
`server.py` and each API can be read on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

NOT_FOUND_MESSAGE = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)  # fixture v4-error-404-unknown-version.json


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: list[tuple[str, str]]  # decoded, in the order sent
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    namespace: str = ""  # v4: "vmm"; v3: "nutanix"
    version: str = ""  # v4: "v4.0"; v3: "v3"

    def param(self, *names: str) -> str | None:
        """The first query parameter with one of these names (`$orderby`/`$orderBy`)."""
        for key, value in self.query:
            if key in names:
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def of(cls, status: int, value: Any, **headers: str) -> Response:
        return cls(status, dumps(value), dict(headers))


@dataclass(frozen=True)
class Match:
    """A routed request: counters key, rate-limit key and the call that answers it."""

    name: str  # counters["by_route"] key without the method, e.g. "vmm/vms"
    api: str  # RateLimits.per_api key, e.g. "vmm.vms.list"
    call: Callable[[Request], Response]


def not_found() -> Response:
    """What envoy answers for a path or API version this Prism Central does not serve."""
    return Response.of(404, {"message": NOT_FOUND_MESSAGE})
