"""protobuf Struct <-> plain dicts, with CloudForet's float numbers undone.

Every number inside a Struct travels as a double (spec cloudforet/README rule 4):
`9440` arrives as `9440.0`. Integral floats become ints on the way in, so a
port or a page size reads as the int it was meant to be.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def to_dict(struct: Struct | None) -> dict:
    if struct is None:
        return {}
    return _ints(json_format.MessageToDict(struct))


def to_struct(data: dict) -> Struct:
    struct = Struct()
    struct.update(data)
    return struct


def message_to_dict(message) -> dict:
    """A whole request message as CloudForet sees it (proto field names)."""
    return _ints(json_format.MessageToDict(message, preserving_proto_field_name=True))


def credentialed(request) -> dict:
    """The `options` and `secret_data` every request carries, as event data."""
    return {"options": to_dict(request.options), "secret_data": to_dict(request.secret_data)}
