"""The endpoint's hand-written CostsInfo encoding parses to what protobuf itself builds."""

from __future__ import annotations

from array import array

import pytest
from google.protobuf.struct_pb2 import Struct
from hypothesis import given, settings
from hypothesis import strategies as st
from spaceone.api.cost_analysis.plugin import cost_pb2

from functions.plugin.cost import encode_messages, metadata
from shared.cost import USAGE_TYPES
from shared.cost.reply import pack, unpack
from shared.errors import BadResponse

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def reply(vms, rows, days=("2026-04-01", "2026-04-02"), estimated=(1,)):
    """vms: [ext_id, tags, info]; rows: (vm, day, 8 values), one per VM-day."""
    tag_sets = [tags for _, tags, _ in vms]
    return {"cluster": "0006-c1", "cluster_name": "cluster-01", "currency": "USD",
            "provider": "nutanix", "product": "VirtualMachine",
            "types": [list(t) for t in USAGE_TYPES], "days": list(days),
            "estimated": list(estimated), "estimated_info": {"Estimated": "true"},
            "tags": tag_sets, "vms": [[ext_id, i, info] for i, (ext_id, _, info) in enumerate(vms)],
            "columns": pack(array("I", [v for row in rows for v in row[:2]]),
                            array("d", [v for row in rows for v in row[2]]))}


def struct(data: dict) -> Struct:
    value = Struct()
    value.update(data)
    return value


def expected(body: dict) -> list:
    """The same rows built the obvious (slow) way, with protobuf constructors."""
    out = []
    pairs, values = unpack(body["columns"])
    for n in range(len(pairs) // 2):
        ext_id, tags_i, info = body["vms"][pairs[2 * n]]
        day_i = pairs[2 * n + 1]
        if day_i in body["estimated"]:
            info = {**info, **body["estimated_info"]}
        for t, (usage_type, unit) in enumerate(body["types"]):
            qty, cost = values[8 * n + 2 * t], values[8 * n + 2 * t + 1]
            if qty > 0:
                out.append(cost_pb2.CostInfo(
                    cost=cost, usage_quantity=qty, usage_unit=unit, provider="nutanix",
                    region_code="0006-c1", product="VirtualMachine", usage_type=usage_type,
                    resource=ext_id, tags=struct(body["tags"][tags_i]),
                    additional_info=struct(info), billed_date=body["days"][day_i]))
    return out


def decode(messages) -> list:
    return [r for m in messages for r in cost_pb2.CostsInfo.FromString(m).results]


def test_rows_decode_to_the_messages_protobuf_builds_in_bounded_batches():
    vms = [["vm-1", {"Project": "web", "Environment": "Production"}, {"VM Name": "web-1"}],
           ["vm-2", {}, {"VM Name": "db-ü"}]]
    rows = [(0, 0, (48.0, 0.48, 96.0, 0.48, 100.0, 1.0, 0.0, 0.0)),
            (0, 1, (0.0, 0.0, 0.0, 0.0, 100.0, 1.0, 0.0, 0.0)),
            (1, 0, (2.0, 0.02, 0.0, 0.0, 0.0, 0.0, 6.0, 6.0))] * 5
    body = reply(vms, rows)
    messages = list(encode_messages(body, batch=4))
    assert [len(cost_pb2.CostsInfo.FromString(m).results) for m in messages] == [4] * 7 + [2]
    assert decode(messages) == expected(body)
    second_day = decode(messages)[3]
    assert second_day.additional_info["Estimated"] == "true"
    assert second_day.billed_date == "2026-04-02" and second_day.cost == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(TEXT.filter(bool), st.dictionaries(TEXT, TEXT, max_size=3),
                          st.dictionaries(TEXT, TEXT | st.integers(), max_size=2)),
                min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1),
                          st.lists(st.floats(0, 1e12), min_size=8, max_size=8)), max_size=20))
def test_any_labels_and_numbers_round_trip(vms, rows):
    rows = [(vm_i % len(vms), day_i, values) for vm_i, day_i, values in rows]
    body = reply([list(v) for v in vms], rows, estimated=(0,))
    assert decode(encode_messages(body, batch=7)) == expected(body)


def test_huge_labels_use_a_longer_length_prefix():
    vms = [["vm-1", {"Note": "x" * 20_000}, {"VM Name": "big"}]]
    body = reply(vms, [(0, 0, (1.0, 1.0, 0, 0, 0, 0, 0, 0))])
    assert decode(encode_messages(body)) == expected(body)


def test_columns_of_different_lengths_are_a_bad_response():
    body = reply([["vm-1", {}, {}]], [(0, 0, (1.0,) * 8)])
    body["columns"]["pairs"] = body["columns"]["pairs"][:4]
    with pytest.raises(BadResponse):
        list(encode_messages(body))


def test_metadata_declares_currency_schema_and_routing():
    meta = metadata({"currency": "KRW", "use_account_routing": True, "account_by": "project"})
    assert meta["currency"] == "KRW" and meta["cost_info"]["unit"] == "KRW"
    assert meta["account_match_key"] == "additional_info.Project UUID"
    assert "vcpu_hour" in meta["options_schema"]["properties"]
    assert "account_match_key" not in metadata({})
