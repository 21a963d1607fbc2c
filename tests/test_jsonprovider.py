"""Responses encoded by orjson: the same JSON values, in the same key order, as before."""

import json
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sungrow_server.web.json_provider import OrjsonProvider
from tests.helpers import single_edition

edition = single_edition("postgresql")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture
def plain():
    """A bare Flask app with the provider."""
    application = Flask(__name__)
    application.json = OrjsonProvider(application)
    return application


def test_the_server_uses_it(app):
    assert isinstance(app.json, OrjsonProvider)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_any_value_reads_back_equal_with_its_key_order(plain, value):
    text = plain.json.dumps(value)
    assert json.loads(text) == value
    assert json.dumps(json.loads(text)) == json.dumps(value)  # same key order


def test_a_response_is_compact_json_ending_with_a_newline(plain):
    with plain.app_context():
        response = plain.json.response({"z": 1, "a": [1e16, -0.0, "inverter-\u00e9\U0001f600"]})
    assert response.mimetype == "application/json"
    assert response.data == '{"z":1,"a":[1e+16,-0.0,"inverter-\u00e9\U0001f600"]}\n'.encode()


def test_debug_responses_are_indented(plain):
    plain.debug = True
    with plain.app_context():
        response = plain.json.response(a=1)
    assert response.data == b'{\n  "a": 1\n}\n'


def test_other_types_are_encoded_as_flask_encodes_them(plain):
    value = {"amount": Decimal("1.50"), "day": date(2026, 11, 28)}
    flask_default = DefaultJSONProvider(plain)
    assert json.loads(plain.json.dumps(value)) == json.loads(flask_default.dumps(value))
    assert json.loads(plain.json.dumps(value)) == {
        "amount": "1.50",
        "day": "Sat, 28 Nov 2026 00:00:00 GMT",
    }


def test_standard_library_options_still_work(plain):
    assert plain.json.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
