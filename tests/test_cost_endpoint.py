"""The endpoint's hand-written CostsInfo encoding parses to what protobuf itself builds."""

from __future__ import annotations

from google.protobuf.struct_pb2 import Struct
from hypothesis import given, settings
from hypothesis import strategies as st
from spaceone.api.cost_analysis.plugin import cost_pb2

from functions.plugin.cost import encode_messages, metadata
from shared.cost import SCALE, USAGE_TYPES

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def reply(vms, rows, days=("2026-04-01", "2026-04-02"), estimated=(1,)):
    return {"cluster": "0006-c1", "cluster_name": "cluster-01", "currency": "USD",
            "provider": "nutanix", "product": "VirtualMachine",
            "types": [list(t) for t in USAGE_TYPES], "scale": SCALE, "days": list(days),
            "estimated": list(estimated), "estimated_info": {"Estimated": "true"},
            "vms": vms, "rows": rows}


def struct(data: dict) -> Struct:
    value = Struct()
    value.update(data)
    return value


def expected(body: dict) -> list:
    """The same rows built the obvious (slow) way, with protobuf constructors."""
    out = []
    rows = body["rows"]
    for i in range(0, len(rows), 5):
        vm_i, day_i, type_i, qty, cost = rows[i:i + 5]
        ext_id, tags, info = body["vms"][vm_i]
        if day_i in body["estimated"]:
            info = {**info, **body["estimated_info"]}
        usage_type, unit = body["types"][type_i]
        out.append(cost_pb2.CostInfo(
            cost=cost / SCALE, usage_quantity=qty / SCALE, usage_unit=unit,
            provider="nutanix", region_code="0006-c1", product="VirtualMachine",
            usage_type=usage_type, resource=ext_id, tags=struct(tags),
            additional_info=struct(info), billed_date=body["days"][day_i]))
    return out


def decode(messages) -> list:
    return [r for m in messages for r in cost_pb2.CostsInfo.FromString(m).results]


def test_rows_decode_to_the_messages_protobuf_builds_in_bounded_batches():
    vms = [["vm-1", {"Project": "web", "Environment": "Production"}, {"VM Name": "web-1"}],
           ["vm-2", {}, {"VM Name": "db-ü"}]]
    rows = [0, 0, 0, 48_000_000, 480_000, 0, 1, 2, 100_000_000, 1_000_000,
            1, 0, 3, 6_000_000, 6_000_000] * 5
    body = reply(vms, rows)
    messages = list(encode_messages(body, batch=4))
    assert [len(cost_pb2.CostsInfo.FromString(m).results) for m in messages] == [4, 4, 4, 3]
    assert decode(messages) == expected(body)
    second_day = decode(messages)[1]
    assert second_day.additional_info["Estimated"] == "true"
    assert second_day.billed_date == "2026-04-02" and second_day.cost == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(TEXT.filter(bool), st.dictionaries(TEXT, TEXT, max_size=3),
                          st.dictionaries(TEXT, TEXT, max_size=2)), min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 3),
                          st.integers(0, 10**12), st.integers(0, 10**12)), max_size=20))
def test_any_labels_and_numbers_round_trip(vms, rows):
    flat = [v for vm_i, *rest in rows for v in (vm_i % len(vms), *rest)]
    body = reply([list(v) for v in vms], flat, estimated=(0,))
    assert decode(encode_messages(body, batch=7)) == expected(body)


def test_huge_labels_use_a_longer_length_prefix():
    vms = [["vm-1", {"Note": "x" * 20_000}, {"VM Name": "big"}]]
    body = reply(vms, [0, 0, 0, 1, 1])
    assert decode(encode_messages(body)) == expected(body)


def test_metadata_declares_currency_schema_and_routing():
    meta = metadata({"currency": "KRW", "use_account_routing": True, "account_by": "project"})
    assert meta["currency"] == "KRW" and meta["cost_info"]["unit"] == "KRW"
    assert meta["account_match_key"] == "additional_info.Project UUID"
    assert "vcpu_hour" in meta["options_schema"]["properties"]
    assert "account_match_key" not in metadata({})
