"""The one HTTP session to a Prism Central: auth, cookies, TLS, timeouts, pacing, errors.

This module owns everything between "call this path" and "here is the decoded
JSON": the `requests.Session` (pool sized to the client's concurrency), the
session cookies Prism sets, TLS verification, a timeout on every request, the
rate limiter (`pacing.py`), retries (`shared/retry.py`, never urllib3's) and
the translation of every failure into a `shared.errors` type
(`from_response`). It knows no Prism kind or envelope beyond error bodies.

Auth (spec nutanix/README.md section 1): an API key goes in `X-ntnx-api-key`
on every call. With a user and password the first call logs in with Basic
(one at a time: parallel Basic logins fail under LDAP, TPN issue #93), later
calls send only the cookies Prism set, and a 401 on a cookie logs in again
once. The cookies outlive the client: the next one in this process with the
same credentials starts with them (`sessions.py`). Messages never carry
headers, bodies or credentials: `requests` exceptions are translated, not
logged (they hold the request and its auth).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import gc
import hashlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.client import IncompleteRead  # urllib3 raises it wrapped, or its own subclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from shared.errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PrismError,
    RateLimited,
    Unavailable,
)
from shared.fastjson import Reader, loads
from shared.prism.connection import Connection
from shared.prism.kinds.envelope import error_message
from shared.prism.pacing import Limiter, limiter_for
from shared.prism.sessions import jar_for
from shared.retry import RetryPolicy, call_with_retry

log = logging.getLogger(__name__)

USER_AGENT = "cloudforet-plugin-nutanix"
MAX_RETRY_AFTER_S = 3600.0
MAX_ERROR_BODY = 64 * 1024  # enough for any error envelope; never more is read for a message
API_KEY_HEADER = "X-ntnx-api-key"
PRODUCT_HEADER = "X-Ntnx-Product"  # e.g. pc.2024.3.1.1 (spec nutanix/README.md section 2)
_QUERY_SAFE = "$'(),:"  # OData parameter names and filters stay readable


def parse_retry_after(value: Any, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), or None."""
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        try:
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        except OverflowError:
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _what(resp: requests.Response) -> str:
    method = resp.request.method if resp.request is not None else "?"
    return f"{method} {urlsplit(resp.url or '').path}"


def from_response(resp: requests.Response, what: str | None = None) -> PrismError:
    """The error for a non-2xx answer: its status and Prism's own message, clipped."""
    what = what or _what(resp)
    status = resp.status_code
    try:
        said = error_message(resp.content[:MAX_ERROR_BODY])
    except Exception:  # a message is a courtesy: never fail on it
        said = None
    detail = f"{what}: HTTP {status}" + (f": {said}" if said else f" {resp.reason or ''}".rstrip())
    if status == 401:
        return AuthenticationFailed(f"Prism Central refused the credentials ({detail})",
                                    status=status)
    if status == 403:
        return PermissionDenied(f"Prism Central denied access ({detail})", status=status)
    if status == 404:
        return NotFound(f"not found on Prism Central ({detail})", status=status)
    if status == 429:
        return RateLimited(f"Prism Central rate limit reached ({detail})", status=status,
                           retry_after=parse_retry_after(resp.headers.get("Retry-After")))
    if status >= 500 and status != 501:
        return Unavailable(f"Prism Central is unavailable ({detail})", status=status,
                           retry_after=parse_retry_after(resp.headers.get("Retry-After")))
    return PrismError(f"Prism Central refused the request ({detail})", status=status)


_GC_LOCK = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector out of bulk JSON decoding and model building.

    A 100-VM v4 page decodes into ~15,000 containers, none of them in a cycle;
    with eight pages in flight the collector kept re-scanning them: fetching and
    decoding 200 such pages took 2.9 s of CPU with it and 1.2 s without (see
    tests/bench/bench_client.py). Threads share one counter: the collector is
    back on (if it was on) as soon as no thread is inside. The price is that
    cyclic garbage made meanwhile waits for the end of the listing; the client's
    own path makes next to none.
    """
    global _gc_pauses, _gc_was_enabled
    with _GC_LOCK:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def decode(resp: requests.Response, what: str | None = None,
           typed_page: Reader | None = None) -> Any:
    """The JSON body of a 2xx answer (typed, given a Reader);
    BadResponse (without the body) when it is not JSON."""
    read = typed_page.loads if typed_page is not None else loads
    try:
        with gc_paused():
            return read(resp.content)
    except (ValueError, UnicodeDecodeError):
        raise BadResponse(f"{what or _what(resp)}: the answer is not valid JSON "
                          f"({len(resp.content)} bytes)", status=resp.status_code) from None


_CA_FILES: dict[str, str] = {}
_CA_LOCK = threading.Lock()


def ca_file(pem: str) -> str:
    """A private file holding `pem`, written once per process (requests wants a path)."""
    digest = hashlib.sha256(pem.encode()).hexdigest()
    with _CA_LOCK:
        path = _CA_FILES.get(digest)
        if path and os.path.exists(path):
            return path
        fd, path = tempfile.mkstemp(prefix="prism-ca-", suffix=".pem")  # mode 0600
        with os.fdopen(fd, "w") as out:
            out.write(pem)
        _CA_FILES[digest] = path
        atexit.register(_remove, path)
        return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _verify(conn: Connection) -> bool | str:
    if not conn.verify_tls:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # asked for
        return False
    if conn.ca_pem is None:  # the system store, or the bundle the environment names
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return ca_file(conn.ca_pem) if "-----BEGIN" in conn.ca_pem else conn.ca_pem


class Transport:
    """One session per client. `call()` answers decoded JSON or raises a PluginError."""

    def __init__(self, conn: Connection, *, pool_size: int | None = None,
                 retry: RetryPolicy | None = None, limiter: Limiter | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.conn = conn
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or limiter_for(conn.key)
        self._sleep = sleep
        size = max(1, pool_size or conn.concurrency)
        self._slots = threading.BoundedSemaphore(size)  # requests in flight, all kinds together
        self._session = requests.Session()  # the headers, proxies and adapter `_send` uses
        # The environment is read once here, not on every request (requests would
        # re-read proxies and CA bundles per call, and add ~/.netrc credentials).
        self._session.trust_env = False
        self._session.proxies.update(requests.utils.get_environ_proxies(conn.base_url))
        self._verify = _verify(conn)
        self._session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        self._adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, max_retries=0)
        self._session.mount("https://", self._adapter)
        self._session.mount("http://", self._adapter)
        self._timeout = (min(10.0, conn.timeout_s), conn.timeout_s)
        self._basic = None
        if conn.api_key is None and conn.username is not None:
            token = base64.b64encode(f"{conn.username}:{conn.password or ''}".encode()).decode()
            self._basic = f"Basic {token}"
            self._jar = jar_for(conn.key, conn.username, conn.password)
        self._state_lock = threading.Lock()
        self.product: str | None = None
        self._counts = {"requests": 0, "retries": 0, "throttled": 0, "logins": 0}
        self._paced_s = 0.0

    # -- public -----------------------------------------------------------------

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             body: Any = None, route: str | None = None) -> Any:
        """Send with pacing and retries; answer the decoded JSON body of a 2xx."""
        return self.call_timed(method, path, params=params, body=body, route=route)[0]

    def call_timed(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                   body: Any = None, route: str | None = None,
                   typed_page: Reader | None = None) -> tuple[Any, float]:
        """`call`, plus the seconds the successful answer took (without pacing waits).

        `route` names the rate-limit budget (default: method and path);
        `typed_page` reads a list page for just the fields its parser reads.
        """
        what = f"{method} {path}"
        route = route or what
        url = self.conn.base_url + path
        if params:
            url += "?" + urlencode(params, safe=_QUERY_SAFE, quote_via=quote)
        data = json.dumps(body).encode() if body is not None else None

        def send() -> tuple[Any, float]:
            return self._send_once(method, url, data, route, what, typed_page)

        return call_with_retry(send, self.retry, sleep=self._sleep, on_retry=self._retried)

    @property
    def metrics(self) -> dict:
        with self._state_lock:
            return {"requests": self._counts["requests"], "retries": self._counts["retries"],
                    "throttled": self._counts["throttled"], "logins": self._counts["logins"],
                    "paced_wait_s": round(self._paced_s, 3)}

    def close(self) -> None:
        self._session.close()

    # -- one attempt ------------------------------------------------------------

    def _retried(self, err: Exception, delay: float) -> None:
        self._count("retries")

    def _count(self, name: str, by: int = 1) -> None:
        with self._state_lock:
            self._counts[name] += by

    def _send_once(self, method: str, url: str, data: bytes | None, route: str,
                   what: str, typed_page: Reader | None = None) -> tuple[Any, float]:
        with self._slots:  # a slot first: a paced send goes out the moment it is booked
            waited = self.limiter.acquire(route)
            if waited:
                with self._state_lock:
                    self._paced_s += waited
            resp = None
            try:
                resp = self._authenticated(method, url, data, what)
            finally:
                self.limiter.release(route, resp.headers if resp is not None else None,
                                     resp.status_code if resp is not None else None)
        product = resp.headers.get(PRODUCT_HEADER)
        if product:
            self.product = product
        status = resp.status_code
        if 200 <= status < 300:
            return decode(resp, what, typed_page), resp.elapsed.total_seconds()
        err = from_response(resp, what)
        if status == 429:
            self._count("throttled")
            self.limiter.throttled(route, err.retry_after, resp.headers)
        log.debug("%s answered %s", what, status, extra={"status": status})
        raise err

    def _authenticated(self, method: str, url: str, data: bytes | None,
                       what: str) -> requests.Response:
        """Send with the key, the session cookie, or a (serialised) Basic login."""
        if self._basic is None:
            return self._http(method, url, data, what, {API_KEY_HEADER: self.conn.api_key or ""})
        jar = self._jar
        for _ in range(2):
            cookie = jar.header()
            if cookie is None and jar.sets_cookies is not False:
                with jar.login_lock:
                    cookie = jar.header()
                    if cookie is None:
                        return self._login(method, url, data, what)
            headers = {"Cookie": cookie} if cookie else {"Authorization": self._basic}
            resp = self._http(method, url, data, what, headers)
            if resp.status_code == 401 and cookie is not None:
                jar.forget(cookie)  # expired session: log in again, once
                continue
            self._keep_cookies(resp)
            return resp
        return resp  # a second 401: from_response makes it AuthenticationFailed

    def _login(self, method: str, url: str, data: bytes | None,
               what: str) -> requests.Response:
        """The first Basic call doubles as the login: its answer sets the cookies."""
        self._count("logins")
        resp = self._http(method, url, data, what, {"Authorization": self._basic or ""})
        if 200 <= resp.status_code < 300:
            self._jar.sets_cookies = self._keep_cookies(resp) or self._jar.header() is not None
        return resp

    def _keep_cookies(self, resp: requests.Response) -> bool:
        """Keep the name=value of every Set-Cookie (as Prism's SDK does), except on a 401."""
        if resp.status_code == 401:
            return False
        raw = resp.raw.headers.getlist("Set-Cookie") if resp.raw is not None else []
        if not raw:
            return False
        pairs = {}
        for line in raw:
            pair = line.split(";", 1)[0].strip()
            name, sep, value = pair.partition("=")
            if sep and name.strip():
                pairs[name.strip()] = value.strip()
        if not pairs:
            return False
        self._jar.keep(pairs)
        return True

    def _http(self, method: str, url: str, data: bytes | None, what: str,
              headers: dict[str, str]) -> requests.Response:
        self._count("requests")
        try:
            resp = self._send(method, url, data, headers)
        except requests.exceptions.SSLError as exc:
            if "certificate verify failed" in str(exc).lower() \
                    or "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise InvalidInput(
                    f"TLS verification of {self.conn.key} failed: give Prism Central's CA as "
                    "secret_data.ca_pem, or set verify_tls false") from None
            raise Unavailable(f"{what}: TLS handshake failed") from None
        except requests.exceptions.Timeout:
            raise Unavailable(f"{what}: no answer within {self.conn.timeout_s:g} s") from None
        except requests.exceptions.ConnectionError:
            raise Unavailable(f"{what}: connection to {self.conn.key} failed") from None
        except requests.exceptions.RequestException as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}") from None
        _read_body(resp, what)
        return resp

    def _send(self, method: str, url: str, data: bytes | None,
              headers: dict[str, str]) -> requests.Response:
        """One exchange through the session's adapter, the request built by hand.

        `Session.request` would prepare it again from parts (merging settings,
        re-parsing and re-quoting the URL, cookie jar, hooks): ~1 ms per call,
        an eighth of the client's CPU listing VMs. The URL is already encoded
        (`call_timed`); cookies and redirects are this class's own business.
        """
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = url
        prepared.headers = CaseInsensitiveDict(self._session.headers)
        prepared.headers.update(headers)
        prepared.body = data
        if data is not None:
            prepared.headers["Content-Type"] = "application/json"
            prepared.headers["Content-Length"] = str(len(data))
        started = time.perf_counter()
        resp = self._adapter.send(prepared, stream=True, timeout=self._timeout,
                                  verify=self._verify, proxies=self._session.proxies)
        resp.elapsed = timedelta(seconds=time.perf_counter() - started)
        return resp


def _read_body(resp: requests.Response, what: str) -> None:
    """Read the whole body in one call (requests would read it in 10 KiB chunks).

    The body is stored where `resp.content` finds it. A body cut short of its
    Content-Length is a BadResponse, like any other unparsable answer.
    """
    try:
        body = resp.raw.read(decode_content=True)
    except urllib3.exceptions.ProtocolError as exc:
        resp.close()  # drops the broken connection
        if any(isinstance(arg, IncompleteRead) for arg in exc.args):
            raise BadResponse(f"{what}: the answer was cut off", status=resp.status_code) \
                from None
        raise Unavailable(f"{what}: the connection broke while reading the answer") from None
    except (urllib3.exceptions.HTTPError, OSError):
        resp.close()
        raise Unavailable(f"{what}: the answer could not be read") from None
    resp._content = body  # what requests' own `content` does, without 10 KiB chunks
    resp._content_consumed = True
