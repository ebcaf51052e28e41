"""Prism Central's session cookies, kept per process for each set of credentials.

A function instance stays warm between calls, and each call builds its own
client. With a user and password the first request of a client logs in
alone (parallel Basic logins fail under LDAP: spec nutanix/README.md
section 1), so a cold session costs every call one round trip before its
requests go out in parallel. The cookies Prism sets are therefore kept here
for the next client with the same Prism Central, user and password, until a
401 on them, or until MAX_IDLE_S without an answer setting them again (Prism
sets them on every answer, expiring ~15 minutes later).

Memory only, never logged or stored. The key is an HMAC of the credentials
under a per-process random salt: a wrong password never rides on another's
session, and no plain digest of a password is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

MAX_IDLE_S = 600.0  # well inside Prism's ~15-minute cookie expiry
MAX_JARS = 256  # Prism Centrals x credentials remembered; the least recently used go first
_SALT = os.urandom(32)


class Jar:
    """The cookies of one Prism Central session, shared by the clients that use it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.login_lock = threading.Lock()  # one Basic login at a time
        self.sets_cookies: bool | None = None  # does this PC set session cookies? None: unknown
        self._clock = clock
        self._lock = threading.Lock()
        self._cookies: dict[str, str] = {}
        self._header: str | None = None
        self._set_at = -float("inf")

    def header(self) -> str | None:
        """The `Cookie` header to send, or None: no session, or idle past MAX_IDLE_S."""
        with self._lock:
            if self._header is not None and self._clock() - self._set_at > MAX_IDLE_S:
                self._cookies.clear()
                self._header = None
            return self._header

    def keep(self, pairs: Mapping[str, str]) -> None:
        """Cookies an answer set (name=value pairs): merged, and the idle clock restarts."""
        with self._lock:
            self._cookies.update(pairs)
            self._header = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
            self._set_at = self._clock()

    def forget(self, header: str) -> None:
        """Drop the session `header` came from (a 401 on it), unless a newer one replaced it."""
        with self._lock:
            if self._header == header:
                self._header = None
                self._cookies.clear()


_JARS: OrderedDict[str, Jar] = OrderedDict()
_JARS_LOCK = threading.Lock()


def jar_for(key: str, username: str, password: str | None) -> Jar:
    """The process-wide jar of one Prism Central (`host:port`) and one user and password."""
    name = hmac.new(_SALT, "\0".join((key, username, password or "")).encode(),
                    hashlib.sha256).hexdigest()
    with _JARS_LOCK:
        jar = _JARS.get(name)
        if jar is None:
            jar = _JARS[name] = Jar()
            while len(_JARS) > MAX_JARS:
                _JARS.popitem(last=False)
        _JARS.move_to_end(name)
        return jar


def forget_all() -> None:
    """Every kept session dropped: the next client of each logs in again."""
    with _JARS_LOCK:
        _JARS.clear()
