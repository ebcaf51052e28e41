"""shared.fastjson: the standard library's answers, read and written faster."""

from __future__ import annotations

import enum
import json
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import fastjson
from shared.fastjson import TypedPage


class Level(enum.IntEnum):
    HIGH = 3


def standard(value) -> str:
    return json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("value", [
    {"text": "plain", "n": 3, "f": 2.5, "none": None, "yes": True, "list": [1, [2, {}]]},
    {"unicode": "é 名前 \u2028", "del": "a\x7fb", "controls": "".join(map(chr, range(32))),
     "quotes": '"\\/'},
    {"big": 2**64, "small": -(2**63) - 1, "edge": [2**64 - 1, -(2**63)]},
    {"tuple": (1, 2), "enum": Level.HIGH},
    {"floats": [0.0, -0.0, 0.01, 1e-4, 1e-5, 123456.78, 1e16, 1.5e300, 5e-324]},
])
def test_dumps_reads_back_as_the_standard_library_text_does(value):
    text = fastjson.dumps(value)
    assert json.loads(text) == json.loads(standard(value))
    assert " " not in text.replace("名前 ", "").replace("é ", "")  # compact


def test_dumps_writes_null_for_what_json_has_no_word_for():
    assert json.loads(fastjson.dumps({"nan": math.nan, "inf": [-math.inf]})) == {
        "nan": None, "inf": [None]}


def test_dumps_leaves_the_refusal_to_the_standard_library():
    with pytest.raises(TypeError):
        fastjson.dumps({"thing": object()})


@pytest.mark.parametrize("body", [
    b'{"n": [18446744073709551615, -9223372036854775808, 99999999999999999999999]}',
    b"[NaN, 1, 1e16, 1e400, -Infinity]", '{"s": "é"}'.encode("utf-16"), '{"s": "é"}',
    b'{"a": 1, "a": 2}', b'"\\ud800"'])
def test_loads_answers_what_the_standard_library_answers(body):
    assert repr(fastjson.loads(body)) == repr(json.loads(body))


@pytest.mark.parametrize("body", [b"not json", b'{"a": 1', b"", b"\xff"])
def test_loads_refuses_what_the_standard_library_refuses(body):
    with pytest.raises(ValueError):
        fastjson.loads(body)


json_leaves = st.one_of(st.none(), st.booleans(), st.text(max_size=20), st.integers(),
                        st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=10), json_values, max_size=8))
def test_random_json_round_trips(value):
    assert json.loads(fastjson.dumps(value)) == value
    assert fastjson.loads(standard(value).encode()) == value


class Ref(msgspec.Struct, rename="camel"):
    ext_id: str | None = None


class Item(msgspec.Struct, rename="camel"):
    item_id: int | None = None
    ref: Ref | None = None
    names: list[str] | None = None


PAGE = TypedPage(Item, "data")


def test_a_typed_page_reads_the_fields_named_and_skips_the_rest():
    body = json.dumps({"data": [
        {"itemId": 1, "extra": {"deep": [1, 2]}, "ref": {"extId": "a", "$objectType": "R"},
         "names": ["x", "y"]},
        {"itemId": 2, "ref": None},
        {},
    ], "metadata": {"totalAvailableResults": 3, "flags": []}}).encode()
    assert PAGE.loads(body) == {"data": [Item(1, Ref("a"), ["x", "y"]), Item(2), Item()],
                                "metadata": {"totalAvailableResults": 3, "flags": []}}
    assert PAGE.fields == ("itemId", "ref", "names")
    assert PAGE.loads(b'{"metadata": {}}') == {"data": None, "metadata": {}}


@pytest.mark.parametrize("page", [
    {"data": [{"itemId": 1, "ref": "not an object"}]},
    {"data": [{"itemId": 2.0}]},
    {"data": [{"itemId": True}]},
    {"data": [{"names": [1, 2]}]},
    {"data": ["not an object"]},
    {"data": {"not": "a list"}},
    ["not", "an", "object"],
    {"data": [{"itemId": math.nan}]},
])
def test_a_page_of_another_shape_is_read_whole(page):
    body = json.dumps(page).encode()
    assert repr(PAGE.loads(body)) == repr(json.loads(body))


def test_a_typed_page_refuses_what_is_not_json():
    with pytest.raises(ValueError):
        PAGE.loads(b'{"data": [')


def test_encode_is_compact_utf8_of_the_same_value():
    value = {"name": "é 名前", "n": [1, 2.5, None, True], "big": 2**70}
    raw = fastjson.encode(value)
    assert isinstance(raw, bytes) and json.loads(raw) == value
    assert raw == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    with pytest.raises(TypeError):
        fastjson.encode({"thing": object()})
