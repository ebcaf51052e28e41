"""The state store: the memory of stateless functions, behind one small interface.

Owns keys, the `StateStore` interface, its JSON / gzipped JSON-lines helpers,
opening a store from a URL (`file://...` or `s3://bucket/prefix`) and reading
a CloudEvents `dataref` back. It does not own what is stored (cost history,
watermarks, large replies): the jobs choose their keys.

Keys are '/'-separated relative paths. `..`, `.`, empty and dot-led segments
are refused everywhere, so a key can never leave the store's root and never
collides with the local backend's temporary files.

boto3 is imported only when an S3 store is opened: a function that keeps its
state in a folder does not pay for it at cold start.
"""

from __future__ import annotations

import gzip
import io
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote

from shared import fastjson
from shared.errors import BadResponse, InvalidInput

__all__ = ["StateStore", "LazyStore", "check_key", "open_store", "from_settings", "lazy",
           "store_for_dataref", "read_dataref"]

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
MAX_KEY = 900  # S3 allows 1024 bytes; leave room for the prefix
MAX_SEGMENT = 200  # file systems allow 255 bytes per name; leave room for temporary names


def check_key(key: str) -> str:
    """The key itself if it is safe in every backend, else InvalidInput."""
    if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY:
        raise InvalidInput("state key must be a non-empty string of at most 900 bytes")
    if key.startswith("/") or _BAD_CHARS.search(key):
        raise InvalidInput("state key must be relative, without control characters or '\\'")
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise InvalidInput("state key segments must not be empty, '.', '..' or start "
                               "with '.'")
        if len(segment.encode()) > MAX_SEGMENT:
            raise InvalidInput("state key segments must be at most 200 bytes")
    return key


def _check_prefix(prefix: str) -> str:
    """A list prefix may be empty or end with '/'; what it has must be key-safe."""
    if not prefix:
        return ""
    check_key(prefix.rstrip("/") or "x")
    return prefix


class StateStore(ABC):
    """put/get/delete/list bytes by key; url(key) names the object for a `dataref`."""

    _quoted_urls = True  # file:// URIs percent-encode the key

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store atomically: a reader sees the old object or the new one, never half."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The object, or None when there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove; a missing key is not an error (deletes are retried)."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix`, in byte order (S3's order, for both backends)."""

    @abstractmethod
    def url(self, key: str = "") -> str:
        """A URI for `key` usable as CloudEvents `dataref`; url("") is the store's root."""

    def key_for(self, url: str) -> str | None:
        """The key `url` names in this store, or None when it points elsewhere."""
        root = self.url("")
        if not url.startswith(root):
            return None
        key = url[len(root):]
        if self._quoted_urls:
            key = unquote(key)
        try:
            return check_key(key)
        except InvalidInput:
            return None

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, dumps(value))

    def get_json(self, key: str) -> Any | None:
        raw = self.get(key)
        if raw is None:
            return None
        try:
            return fastjson.loads(raw)
        except ValueError as exc:
            raise BadResponse(f"state object {key} is not JSON") from exc

    def put_jsonl_gz(self, key: str, records: Iterable[Any]) -> int:
        """One compact JSON document per line, gzipped; returns the record count.

        For history that grows by records (allocations, alert ids): about a
        tenth of the size of JSON, and readable one line at a time.
        """
        buffer = io.BytesIO()
        count = 0
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            for record in records:
                gz.write(dumps(record) + b"\n")
                count += 1
        self.put(key, buffer.getvalue())
        return count

    def iter_jsonl_gz(self, key: str) -> Iterator[Any]:
        """The records of `put_jsonl_gz`; nothing when the key is missing."""
        raw = self.get(key)
        if raw is None:
            return
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as gz:
                for line in gz:
                    if line.strip():
                        yield fastjson.loads(line)
        except (OSError, EOFError, ValueError) as exc:
            raise BadResponse(f"state object {key} is not gzipped JSON lines") from exc


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON: the one encoding of stored objects and reply bodies.

    Through msgspec: a shard's reply is megabytes, and `json` spent a quarter
    of the collect function's CPU writing it.
    """
    return fastjson.encode(value)


class LazyStore(StateStore):
    """Opens the real store on first use, so unused state costs nothing at cold start."""

    def __init__(self, factory: Callable[[], StateStore]) -> None:
        self._factory = factory
        self._store: StateStore | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._store is not None

    def _real(self) -> StateStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._factory()
        return self._store

    def put(self, key: str, data: bytes) -> None:
        self._real().put(key, data)

    def get(self, key: str) -> bytes | None:
        return self._real().get(key)

    def delete(self, key: str) -> None:
        self._real().delete(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self._real().list(prefix)

    def url(self, key: str = "") -> str:
        return self._real().url(key)


def lazy(factory: Callable[[], StateStore]) -> LazyStore:
    return LazyStore(factory)


def open_store(url: str, *, endpoint_url: str = "", region: str = "") -> StateStore:
    """`file:///abs`, `file://./relative` or `s3://bucket/prefix` (see NTNX_STATE_URL)."""
    if url.startswith("file://"):
        from shared.state.local import LocalStore

        path = unquote(url[len("file://"):])
        if path.startswith("localhost/"):
            path = path[len("localhost"):]
        if not path:
            raise InvalidInput("state URL file:// needs a path")
        return LocalStore(path)
    if url.startswith("s3://"):
        from shared.state.s3 import S3Store

        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            raise InvalidInput("state URL s3:// needs a bucket")
        return S3Store(bucket, prefix, endpoint_url=endpoint_url, region=region)
    raise InvalidInput("state URL must start with file:// or s3://")


_OPENED: dict[tuple[str, str, str], StateStore] = {}
_OPENED_LOCK = threading.Lock()


def from_settings(settings: Any) -> StateStore:
    """The process's store (one per URL, shared by threads: an S3 client is costly)."""
    ident = (settings.state_url, settings.s3_endpoint_url, settings.s3_region)
    with _OPENED_LOCK:
        store = _OPENED.get(ident)
        if store is None:
            store = open_store(settings.state_url, endpoint_url=settings.s3_endpoint_url,
                               region=settings.s3_region)
            _OPENED[ident] = store
    return store


def store_for_dataref(url: str, *, endpoint_url: str = "", region: str = "") -> StateStore:
    """A store rooted at the folder holding `url`, for a reader without one configured.

    Trusts the sender: use it only for replies of our own functions. With a
    configured store, `read_dataref(url, store)` refuses anything outside it.
    """
    if "/" not in url.rstrip("/"):
        raise BadResponse("dataref is not a file:// or s3:// object URL")
    folder = url.rsplit("/", 1)[0]
    try:
        return open_store(folder, endpoint_url=endpoint_url, region=region)
    except InvalidInput as exc:
        raise BadResponse("dataref is not a file:// or s3:// object URL") from exc


def read_dataref(url: str, store: StateStore) -> bytes:
    """The object a reply's `dataref` names, only if it lies inside `store`."""
    key = store.key_for(url)
    if key is None:
        raise BadResponse("dataref points outside the state store")
    data = store.get(key)
    if data is None:
        raise BadResponse(f"dataref object {key} is missing from the state store")
    return data
