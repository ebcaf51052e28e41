"""The compute reply's cost columns: packed by the cost function, unpacked by the endpoint.

A window of 10,000 VMs x 2 days is 20,000 VM-days and ~60,000 CostInfo. As
JSON numbers they cost the function ~180 bytes of Python objects a row and
the endpoint a parse of every number; as typed arrays in base64 they are 72
bytes a VM-day on both sides and decode in one call. Only the standard
library here: the plugin endpoint imports this module and must not import
the Prism client.

    columns = {"byteorder": "little",
               "pairs":  <uint32 (vm, day) per VM-day>,
               "values": <float64 x 8 per VM-day: quantity, cost of vCPU, memory,
                          storage, host share; a zero quantity means no row>}
"""

from __future__ import annotations

import base64
import sys
from array import array

from shared.errors import BadResponse

WIDTH = 8  # values per VM-day


def pack(pairs: array, values: array) -> dict:
    return {"byteorder": sys.byteorder,
            "pairs": base64.b64encode(pairs.tobytes()).decode("ascii"),
            "values": base64.b64encode(values.tobytes()).decode("ascii")}


def _column(columns: dict, name: str, typecode: str) -> array:
    column = array(typecode)
    try:
        column.frombytes(base64.b64decode(columns[name], validate=True))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadResponse(f"compute reply column {name} is not packed {typecode}") from exc
    if columns.get("byteorder", sys.byteorder) != sys.byteorder:
        column.byteswap()
    return column


def unpack(columns: dict) -> tuple[array, array]:
    """(pairs, values), checked to describe the same VM-days."""
    pairs, values = _column(columns, "pairs", "I"), _column(columns, "values", "d")
    if len(pairs) * WIDTH != len(values) * 2:
        raise BadResponse("compute reply columns differ in length")
    return pairs, values
