"""The compiled loader of ingest samples: the same answers as SampleSchema.load, or none."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, pre_load

from sungrow_server.ingest.schemas import SampleSchema, ingest_batch_schema
from sungrow_server.series.args import series_args_schema
from sungrow_server.web.compiled_loader import GiveUp, compile_loader, load
from tests.helpers import sample

SCHEMA = SampleSchema()
LOADER = compile_loader(SCHEMA)
NAMES = list(SampleSchema().fields)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-8, max_value=1e-8),
    st.sampled_from(
        [
            "2026-11-28T10:00:00Z",
            "2026-11-28T10:00:00+05:30",
            "2026-11-28T10:00:00",
            "1999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-12:00",
            "2026-02-30T10:00:00Z",
            "inverter-01",
            "",
            "x" * 70,
        ]
    ),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def outcome(load, item):
    """What a loader makes of an item: its result, or None when it refuses the item."""
    try:
        return load(item)
    except (ValidationError, GiveUp):
        return None


def check(item):
    expected = outcome(SCHEMA.load, item)
    got = outcome(LOADER, item)
    # Whatever the compiled loader accepts, marshmallow accepts with the same result;
    # and every sample marshmallow accepts takes the compiled path.
    assert got == expected


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from([*NAMES, "extra", "Ts"]), values, max_size=4),
    dropped=st.sets(st.sampled_from(NAMES), max_size=3),
)
def test_agrees_with_marshmallow_around_a_valid_sample(changes, dropped):
    item = {**sample(), **changes}
    for name in dropped:
        item.pop(name, None)
    check(item)


@settings(max_examples=200, deadline=None)
@given(item=st.one_of(values, st.dictionaries(st.sampled_from(NAMES), values)))
def test_agrees_with_marshmallow_on_anything(item):
    check(item)


query_values = st.sampled_from(
    [
        "",
        " ",
        "inverter-01",
        "day",
        "week",
        "Europe/Berlin",
        " Asia/Kolkata ",
        "Mars/Olympus",
        "2026-11-01",
        "2026-11-01T10:00:00+05:30",
        "2026-13-01",
        "csv",
        "xml",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    query=st.dictionaries(
        st.sampled_from(["device_id", "frame", "resolution", "tz", "from", "to", "format", "x"]),
        query_values,
    )
)
def test_query_arguments_load_as_marshmallow_does(query):
    assert compile_loader(series_args_schema) is not None
    expected = outcome(series_args_schema.load, query)
    assert outcome(lambda data: load(series_args_schema, data), query) == expected


def test_valid_sample_is_loaded_as_marshmallow_does():
    item = sample("2026-11-28T11:00:00+01:00", pv_power_w=5, sample_count=3.0)
    del item["battery_temp_c"]
    loaded = LOADER(item)
    assert loaded == SCHEMA.load(item)
    assert loaded["ts"].isoformat() == "2026-11-28T10:00:00+00:00"
    assert loaded["sample_count"] == 3 and loaded["battery_temp_c"] is None


def test_batch_with_one_bad_sample_gets_marshmallow_errors():
    # An unknown field is ignored (sample 2), as the contract now says.
    batch = {"samples": [sample(), sample(battery_soc_pct=101), sample(extra=1, pv_power_w="x")]}
    with pytest.raises(ValidationError) as error:
        ingest_batch_schema.load(batch)
    assert error.value.messages == {
        "samples": {
            1: {"battery_soc_pct": ["Input should be between 0 and 100"]},
            2: {"pv_power_w": ["Input should be a valid number"]},
        }
    }


def test_schemas_it_cannot_reproduce_are_not_compiled():
    class Hooked(Schema):
        name = fields.String()

        @pre_load
        def lower(self, data, **kwargs):
            return data

    class Outer(Schema):
        inner = fields.Nested(SampleSchema)

    assert compile_loader(Hooked()) is None
    assert compile_loader(Outer()) is None
    assert compile_loader(SampleSchema(unknown="include")) is None
