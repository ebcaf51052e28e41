"""Injected faults: which requests misbehave, how, and how many times.

Kinds (`Simulator.inject`):

- `latency`: sleep `delay_s`, then answer normally;
- `status`: answer `status` with the API's error envelope (v4 AppMessage on v4
  paths, v3 envelope on v3 paths) and `Retry-After` when given;
- `reset`: close the connection (TCP RST) without answering;
- `truncated`: send the real answer's headers (full `Content-Length`) and only
  the first half of its body, then close the connection;
- `invalid_json`: answer 200 with an HTML body labelled `application/json`;
- `expired_auth`: answer 401 to a request that presents a session cookie and
  forget that session, so the client must log in again with Basic or API key.

A fault matches when `re.search(path_regex, path_with_query)` does; the first
matching fault of a phase wins; `times=None` means every matching request,
otherwise the fault stops after firing `times` times.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

KINDS = ("latency", "status", "reset", "truncated", "invalid_json", "expired_auth")
INVALID_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream connect error</body></html>"


@dataclass
class Fault:
    pattern: re.Pattern
    kind: str
    times: int | None
    status: int
    retry_after: float | None
    delay_s: float
    fired: int = 0


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, path_regex: str, kind: str, *, times: int | None, status: int,
            retry_after: float | None, delay_s: float) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(KINDS)}")
        fault = Fault(re.compile(path_regex), kind, times, status, retry_after, delay_s)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, target: str, kinds: tuple[str, ...]) -> Fault | None:
        """The first active fault of these kinds matching `target`, counted as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.pattern.search(target) and (
                        fault.times is None or fault.fired < fault.times):
                    fault.fired += 1
                    return fault
        return None
