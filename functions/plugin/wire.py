"""Protobuf wire format by hand, for the few replies too large to build as messages.

Inventory collect (20,000 `ResourceInfo`), cost get_data (millions of
`CostInfo` rows) and metric get_data (a month of 5-minute points per
resource) write their messages' bytes directly: building them as protobuf
objects cost several times more. Each writer's tests check its bytes equal
what protobuf itself writes. Handlers that yield such bytes are registered
with `add_handlers`, whose serializer passes bytes through.
"""

from __future__ import annotations

import grpc


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


VARINTS = [encode_varint(n) for n in range(1 << 14)]  # every length below 16 KiB


def varint(n: int) -> bytes:
    return VARINTS[n] if n < 16384 else encode_varint(n)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def serialize(message) -> bytes:
    """Bytes already encoded pass through; anything else is a protobuf message."""
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_handlers(server, service: str, handlers: dict) -> None:
    """Register `service`'s method handlers (as the generated `add_*_to_server` does)."""
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_registered_method_handlers(service, handlers)
