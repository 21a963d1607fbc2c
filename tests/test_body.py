"""parse_json: the standard library's strict answer, whichever parser produced it."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sungrow_server.errors import APIError
from sungrow_server.ingest.body import _strict_loads, parse_json
from tests.helpers import sample

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", '":', '\\":', "{", "}", '" :', "a\u00e9\u2603", "\ud83d\ude00"]),
    st.text(alphabet='ab:"{} \\\t\n', max_size=6),
)
keys = st.one_of(st.sampled_from(["a", "b", "samples", '":', "{"]), st.text(max_size=3))
SPACES = st.sampled_from(["", "", "", " ", "\n  ", "\t"])


@st.composite
def texts(draw, depth: int = 2):
    """A JSON text whose objects may repeat a key, with any of JSON's whitespace."""
    kind = draw(st.sampled_from(["scalar", "list", "object"] if depth else ["scalar"]))
    if kind == "scalar":
        return json.dumps(draw(scalars))
    gap = draw(SPACES)
    if kind == "list":
        items = draw(st.lists(texts(depth - 1), max_size=4))
        return "[" + gap + ("," + gap).join(items) + gap + "]"
    members = draw(st.lists(st.tuples(keys, texts(depth - 1)), max_size=4))
    if members and draw(st.booleans()):
        members.append((draw(st.sampled_from(members))[0], draw(texts(0))))  # a repeated key
    colon = gap + ":" + draw(SPACES)
    body = ("," + gap).join(json.dumps(key) + colon + value for key, value in members)
    return "{" + gap + body + gap + "}"


@st.composite
def ingest_texts(draw):
    """Ingest-shaped bodies, now and then with a repeated key or an extra object."""
    count = draw(st.integers(0, 3))
    samples = [sample(pv_power_w=draw(st.floats(-1e6, 1e6))) for _ in range(count)]
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    raw = json.dumps({"samples": samples}, separators=separators)
    edit = draw(
        st.sampled_from(
            [
                None,
                ('"pv_power_w"', '"pv_power_w": 1, "pv_power_w"'),
                ('"pv_power_w"', '"pv_power_w" : 1, "pv_power_w"'),
                ('"pv_power_w"', '"x": {"a": 1, "a": 2}, "pv_power_w"'),
                ('"samples"', '"samples": [{"a": 1}], "samples"'),
                ('"samples"', '"samples":{}, "samples"'),
                ('"device_id"', '"device_id": "\\":", "device_id"'),
                ('"device_id"', '"\\":": 1, "device_id"'),
            ]
        )
    )
    return raw.replace(*edit, 1) if edit else raw


def outcome(parse, raw: bytes):
    try:
        return ("ok", parse(raw))
    except (APIError, ValueError, RecursionError):
        return ("refused", None)


def same(raw: str | bytes) -> None:
    raw = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    assert outcome(parse_json, raw) == outcome(_strict_loads, raw), raw


@settings(max_examples=1500, deadline=None)
@given(texts())
def test_any_text_gets_the_standard_librarys_answer(raw):
    same(raw)


@settings(max_examples=800, deadline=None)
@given(ingest_texts())
def test_ingest_bodies_get_the_standard_librarys_answer(raw):
    same(raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"samples": [{"a": 1, "a": 2}]}',
        '{"samples": [{"a": 1, "a" :2}]}',  # the repeat hides behind a space
        '{"samples": [{"a\\":": 1, "a": 1, "a": 2}]}',  # an extra `":` in a key
        '{"samples": [{"a": "\\":", "a": 2}]}',  # an extra `":` in a value
        '{"samples": [{"a": 1}], "samples": [{"a": 1}, {"b": 2}]}',
        '{"samples": [{"a": {"b": 1, "b": 2}}]}',
        '{"samples": [], "x": {"b": 1}, "x": 2}',  # the repeat drops an object
    ],
)
def test_a_repeated_key_is_refused_however_it_is_spelled(raw):
    with pytest.raises(APIError) as caught:
        parse_json(raw.encode())
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "raw",
    [
        b'\xef\xbb\xbf{"samples": []}',  # BOM
        b'{"samples": ["\\ud800"]}',  # lone surrogate escape
        '{"samples": []}'.encode("utf-16"),
        b'{"samples": [{"a": 1.5e-400}]}',
    ],
)
def test_what_the_fast_parser_refuses_is_decided_by_the_standard_library(raw):
    assert parse_json(raw) == json.loads(raw)


def test_integers_beyond_64_bits_are_read_as_floats():
    assert parse_json(b"[18446744073709551615]") == [18446744073709551615]
    assert parse_json(b"[18446744073709551616]") == [float(2**64)]
