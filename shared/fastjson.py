"""JSON on the hot paths, through msgspec, with the standard library's answers.

A collection moves megabytes of JSON: Prism's list pages, shard replies,
each resource's `json_data`. msgspec reads and writes it several times faster
than `json` and, through a `TypedPage` (a typed shape of the fields wanted),
skips the rest of a Prism page without building Python objects for it.

`loads` answers what the standard library would: input msgspec refuses
(NaN, numbers out of double range, bodies not in UTF-8) takes the `json`
path.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import msgspec

_decode = msgspec.json.decode
_encode = msgspec.json.encode


def loads(body: bytes | str) -> Any:
    """`json.loads(body)`; ValueError (or UnicodeDecodeError) when it is not JSON."""
    try:
        return _decode(body)
    except msgspec.MsgspecError:
        return json.loads(body)


def encode(data: Any) -> bytes:
    """`dumps` as UTF-8 bytes: what goes on the wire or into the state store."""
    try:
        return _encode(data)
    except (TypeError, ValueError, OverflowError):
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def dumps(data: Any) -> str:
    """Compact JSON text of `data`: what `json.dumps(data, separators=(",", ":"))` means.

    It reads back equal to the standard library's text; the text itself may
    differ in form (UTF-8 where `json` escapes, `1e16` for `1e+16`), and NaN
    and infinities, which JSON has no words for, are written null (`json`
    writes the non-JSON `NaN`). What msgspec cannot write goes to `json`,
    which writes it or refuses it.
    """
    return encode(data).decode()


class Reader(Protocol):
    """Reads an answer's body for the fields its parser uses (`TypedPage`, `stats.TypedStats`)."""

    def loads(self, body: bytes) -> Any: ...


class TypedPage:
    """A Prism list page whose items msgspec reads straight into `item` (a Struct).

    Fields the Struct does not name are skipped unread, and the types of those
    it names are checked in C. An answer that does not fit (a field of another
    type, an item that is not an object) is read whole by `loads`; the caller
    tells the two apart by the type of the items.
    """

    def __init__(self, item: type[msgspec.Struct], items_key: str) -> None:
        self.fields = tuple(item.__struct_encode_fields__)  # Prism's names: what `$select` asks
        page = msgspec.defstruct("Page", [(items_key, list[item] | None, None),  # type: ignore[valid-type]
                                          ("metadata", Any, None)], gc=False)
        self._decoder = msgspec.json.Decoder(page)
        self._key = items_key

    def loads(self, body: bytes) -> Any:
        try:
            page = self._decoder.decode(body)
        except msgspec.MsgspecError:
            return loads(body)
        return {self._key: getattr(page, self._key), "metadata": page.metadata}
