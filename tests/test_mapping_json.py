"""The mapping's json_data writer gives the text json.dumps gives."""

from __future__ import annotations

import enum
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.mapping.inventory import _json


def reference(value) -> str:
    return json.dumps(value, separators=(",", ":"))


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


@pytest.mark.parametrize("value", [
    {"text": "plain", "n": 3, "f": 2.5, "none": None, "yes": True, "list": [1, [2, {}]]},
    {"unicode": "é 名前 \u2028"},  # json escapes, orjson would write UTF-8
    {"del": "a\x7fb", "controls": "".join(map(chr, range(32))), "quotes": '"\\/'},
    {"nan": math.nan}, {"inf": -math.inf},  # json writes NaN, orjson would write null
    {"big": 2**64}, {"small": -(2**63) - 1}, {"edge": [2**64 - 1, -(2**63)]},
    {"tuple": (1, 2)}, {"enum": Level.HIGH}, {"sub": Name("x")}, {Name("key"): 1},
    {1: "int key"}, {"gib": [0.0, -0.0, 0.01, 1e-4, 123456.78, 1e16, 1.5e300]},
])
def test_edge_values_give_the_standard_library_text(value):
    assert _json(value) == reference(value)


json_leaves = st.one_of(
    st.none(), st.booleans(), st.text(max_size=20), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True).filter(
        lambda x: not (0 < abs(x) < 1e-4)))  # see _json: such floats never reach it
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=10), json_values, max_size=8))
def test_random_json_gives_the_standard_library_text(value):
    assert _json(value) == reference(value)
