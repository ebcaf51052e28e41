"""Where Prism Central is and how to log in: built once from secret_data and options.

This module owns validation of the connection part of a CloudForet secret
(`host`, `port`, `username`/`password` or `api_key`, `ca_pem`, `verify_tls`)
and of the client options (`api`, `concurrency`, `timeout_s`). It does no I/O
beyond checking that a CA path exists; sessions live in `transport.py`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.errors import InvalidInput

DEFAULT_PORT = 9440  # every PC answers HTTPS on 9440 (spec nutanix/README.md section 1)
APIS = ("auto", "v3", "v4")
MAX_CONCURRENCY = 32
API_KEY_USERNAME = "x-ntnx-api-key"  # PGC convention: this username means password holds a key
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Connection:
    """A Prism Central address and credentials; secrets stay out of the repr."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_pem: str | None = field(default=None, repr=False)  # PEM text or a file path
    verify_tls: bool = True
    scheme: str = "https"  # "http" only when the host was given as an http:// URL
    api: str = "auto"
    concurrency: int = 8
    timeout_s: float = 30.0

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def key(self) -> str:
        """Identifies the Prism Central for process-wide state (the rate limiter)."""
        return f"{self.host}:{self.port}"

    @classmethod
    def from_secret(cls, secret_data: Mapping[str, Any],
                    options: Mapping[str, Any] | None = None) -> Connection:
        """Validate secret_data and options; raise InvalidInput naming every problem."""
        problems: list[str] = []
        if not isinstance(secret_data, Mapping):
            raise InvalidInput("invalid secret_data", ["secret_data must be an object"])
        options = options or {}
        if not isinstance(options, Mapping):
            problems.append("options must be an object")
            options = {}
        scheme, host, url_port = _host(secret_data.get("host"), problems)
        port = url_port
        if secret_data.get("port") is not None or port is None:
            port = _integer(secret_data.get("port"), "secret_data.port", DEFAULT_PORT, 1, 65535,
                            problems)
        username = _text(secret_data.get("username"), "secret_data.username", problems)
        password = _text(secret_data.get("password"), "secret_data.password", problems,
                         secret=True)
        api_key = _text(secret_data.get("api_key"), "secret_data.api_key", problems, secret=True)
        if username and username.lower() == API_KEY_USERNAME and not api_key:
            username, password, api_key = None, None, password
        if not api_key:
            if not username and not password:
                problems.append("secret_data needs username and password, or api_key")
            elif not username:
                problems.append("secret_data.username is required with password")
            elif not password:
                problems.append("secret_data.password is required with username")
        ca_pem = _ca(secret_data.get("ca_pem"), problems)
        verify = _boolean(secret_data.get("verify_tls"), "secret_data.verify_tls", True,
                          problems)
        api = options.get("api", "auto")
        if api is None:
            api = "auto"
        if api not in APIS:
            problems.append("options.api must be one of auto, v3, v4")
            api = "auto"
        concurrency = _integer(options.get("concurrency"), "options.concurrency", 8, 1,
                               MAX_CONCURRENCY, problems)
        timeout_s = _number(options.get("timeout_s"), "options.timeout_s", 30.0, 600.0, problems)
        if problems:
            raise InvalidInput("invalid Prism Central connection", problems)
        return cls(host=host, port=port, username=username or None, password=password or None,
                   api_key=api_key or None, ca_pem=ca_pem, verify_tls=verify, scheme=scheme,
                   api=api, concurrency=concurrency, timeout_s=timeout_s)


def _host(raw: Any, problems: list[str]) -> tuple[str, str, int | None]:
    """Accept `pc.example.com`, `10.0.0.5:9440` or `https://pc.example.com:9440`."""
    if not isinstance(raw, str) or not raw.strip():
        problems.append("secret_data.host is required")
        return "https", "", None
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        problems.append("secret_data.host is not a valid host name or URL")
        return "https", "", None
    if parts.scheme not in ("http", "https"):
        problems.append("secret_data.host must use https:// (or http://)")
    if parts.username or parts.password:
        problems.append("secret_data.host must not carry credentials")
    if parts.path.strip("/") or parts.query or parts.fragment:
        problems.append("secret_data.host must be a host name, without a path")
    if not parts.hostname:
        problems.append("secret_data.host is not a valid host name or URL")
        return "https", "", None
    return parts.scheme, parts.hostname, port


def _text(raw: Any, name: str, problems: list[str], *, secret: bool = False) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        problems.append(f"{name} must be a string")  # never echo the value: it may be a secret
        return None
    return raw if secret else raw.strip()


def _integer(raw: Any, name: str, default: int, low: int, high: int,
             problems: list[str]) -> int:
    """CloudForet sends numbers as floats (Struct): 9440.0 means 9440."""
    if raw is None or raw == "":
        return default
    value: Any = raw
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value != int(value):
        problems.append(f"{name} must be a whole number")
        return default
    if not low <= int(value) <= high:
        problems.append(f"{name} must be between {low} and {high}")
        return default
    return int(value)


def _number(raw: Any, name: str, default: float, high: float, problems: list[str]) -> float:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) \
            or not 0 < raw <= high:
        problems.append(f"{name} must be a number of seconds above 0 and at most {high:g}")
        return default
    return float(raw)


def _boolean(raw: Any, name: str, default: bool, problems: list[str]) -> bool:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    problems.append(f"{name} must be true or false")
    return default


def _ca(raw: Any, problems: list[str]) -> str | None:
    """PEM text is kept as text; anything else must be a readable file path."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        problems.append("secret_data.ca_pem must be PEM text or a file path")
        return None
    if "-----BEGIN" in raw:
        if "CERTIFICATE-----" not in raw:
            problems.append("secret_data.ca_pem holds no PEM certificate")
            return None
        return raw
    if not os.path.isfile(raw.strip()):
        problems.append("secret_data.ca_pem is neither PEM text nor an existing file")
        return None
    return raw.strip()
