"""The inventory plugin's hand-written ResourceInfo encoding against protobuf's own."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spaceone.api.inventory.plugin import collector_pb2

from functions.plugin.inventory import encode_resource_info, to_resource_info
from tests.test_mapping_inventory import all_outputs, ctx


def protobuf_bytes(item: dict) -> bytes:
    return to_resource_info(item).SerializeToString(deterministic=True)


def check(item: dict) -> None:
    encoded = encode_resource_info(item)
    assert encoded == protobuf_bytes(item)
    assert collector_pb2.ResourceInfo.FromString(encoded) == to_resource_info(item)


@pytest.mark.parametrize("mode", ["cluster", "prism_central"])
def test_every_mapping_output_encodes_as_protobuf_does(mode):
    outputs = all_outputs(ctx(region_by=mode, pc_region_code="pc-main"))
    assert {o["resource_type"] for o in outputs} >= {
        "inventory.CloudService", "inventory.CloudServiceType", "inventory.Region",
        "inventory.ErrorResource"}
    for output in outputs:
        check(output)
        check(json.loads(json.dumps(output)))  # as the plugin reads it from a reply


def value(**fields) -> dict:
    return {"state": "SUCCESS", "resource_type": "inventory.CloudService",
            "match_rules": {"1": ["reference.resource_id"]}, "resource": fields}


@pytest.mark.parametrize("item", [
    value(text="é ü 名前 \u2028", empty="", nothing=None, yes=True, no=False),
    value(zero=0, negative=-3, big=2**62, fraction=0.1, tiny=5e-324, huge=1.7e308,
          infinite=math.inf),
    value(nested={"a": {"b": [1, "two", None, [], {}]}}, emptylist=[], emptydict={}),
    value(long="x" * 20_000, many=[str(n) for n in range(3000)]),  # multi-byte lengths
    value(region_code="r1", provider="nutanix", instance_type="2 vCPU"),  # cached entries
    value(region_code="r1", provider="nutanix", instance_type="4 vCPU"),
    {"state": "FAILURE", "resource_type": "inventory.ErrorResource", "message": "denied",
     "resource": {"provider": "nutanix"}},
    {"resource_type": "inventory.Region", "match_rules": {}, "resource": {}},
    {"state": "NONE", "resource_type": "", "message": ""},
])
def test_edge_values_encode_as_protobuf_does(item):
    check(item)


def test_keys_are_ordered_as_upb_orders_them():
    check(value(a=1, ab=2, abc=3, ac=4, b=5, **{"": 6, "0": 7, "é": 8, "e\U0010ffff": 9}))


def test_what_json_cannot_hold_takes_protobuf_s_own_path():
    check(value(pair=(1, 2)))  # a tuple: Struct.update writes it as a list
    item = value(thing=object())
    with pytest.raises(ValueError):
        protobuf_bytes(item)
    with pytest.raises(ValueError):
        encode_resource_info(item)
    with pytest.raises(ValueError):
        encode_resource_info({**value(), "state": "NO SUCH STATE"})


json_leaves = st.one_of(st.none(), st.booleans(), st.text(max_size=30),
                        st.integers(-(2**53), 2**53),
                        st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(resource=st.dictionaries(st.text(max_size=12), json_values, max_size=8),
       rules=st.dictionaries(st.text(max_size=3), st.lists(st.text(max_size=20), max_size=3),
                             max_size=2),
       message=st.text(max_size=20))
def test_random_json_encodes_as_protobuf_does(resource, rules, message):
    check({"state": "SUCCESS", "resource_type": "inventory.CloudService", "message": message,
           "match_rules": rules, "resource": resource})
