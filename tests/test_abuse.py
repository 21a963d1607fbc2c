"""Hostile or broken requests: each gets a clear 4xx and stores nothing."""

import gzip
import json
from datetime import datetime, timedelta

import pytest

from sungrow_server import create_app
from tests.helpers import AUTH, close_app, make_env, sample, single_edition, stored_rows

edition = single_edition("postgresql")


def post(client, raw: bytes | str):
    return client.post("/v1/ingest", data=raw, headers={**AUTH, "Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("[" * 50000 + "]" * 50000, 400),  # nesting deeper than the parser goes
        ('{"samples": [' + "[" * 5000 + "]" * 5000 + "]}", 400),  # small but deep
        (json.dumps({"samples": [sample(pv_power_w=1)]}).replace(": 1,", ": 1e400,"), 422),
        (json.dumps({"samples": [sample()]}).replace("1200.0", "NaN"), 400),
        (json.dumps({"samples": [sample()]}).replace("1200.0", "-Infinity"), 400),
        (json.dumps({"samples": [sample(device_id="x" * 900_000)]}), 403),
        (json.dumps({"samples": [sample(device_id="x" * 2_000_000)]}), 413),
        (json.dumps({"samples": [sample(device_id="inverter-01\u0000\u001b[2J")]}), 403),
        (json.dumps({"samples": [sample(device_id="y" * 10_000)]}), 403),
        (json.dumps({"samples": [sample(ts="0001-01-01T00:00:00+00:00")]}), 422),
        (json.dumps({"samples": [sample(ts="9999-12-31T23:59:59+00:00")]}), 422),
        (json.dumps({"samples": [sample(ts="2026-11-28T10:00:00+25:00")]}), 422),
        (json.dumps({"samples": [sample(ts="2026-11-28T10:00:00" + "0" * 100)]}), 422),
        ('{"samples": [], "samples": []}', 400),  # duplicate keys
        ('{"samples": [{"device_id": "inverter-01", "device_id": "inverter-02"}]}', 400),
        (b'{"samples": ["\xc3\x28"]}', 400),  # invalid UTF-8
        ('{"samples": "' + "s" * 1_000_000 + '"}', 422),
        ("", 400),
        ("null", 422),
        ("12", 422),
    ],
)
def test_abuse_is_a_clear_4xx_and_stores_nothing(client, db, raw, status):
    response = post(client, raw)
    assert response.status_code == status
    assert "detail" in response.json
    assert stored_rows(db) == [] and stored_rows(db, "inverter-02") == []


BATCH = json.dumps({"samples": [sample(), sample("2026-11-28T10:00:05Z")]}).encode()
OTHER = json.dumps({"samples": [sample("2026-11-28T10:00:10Z")]}).encode()


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        # Two whole batches, one per member: every byte is read, and the text is not JSON.
        (gzip.compress(BATCH) + gzip.compress(OTHER), 400, "Request body is not valid JSON."),
        (gzip.compress(BATCH) + b"GARBAGE", 400, "Request body is not valid gzip."),
        (gzip.compress(BATCH) + b"\x00" * 8, 400, "Request body is not valid gzip."),
        (gzip.compress(BATCH) + gzip.compress(b" ")[:-4], 400, "Request body is not valid gzip."),
        (gzip.compress(BATCH)[:-1], 400, "Request body is not valid gzip."),
        (b"", 400, "Request body is not valid gzip."),
        # Each member alone is within the limit, together they are not.
        (
            gzip.compress(BATCH[:-2] + b" " * 600_000) + gzip.compress(b" " * 600_000 + b"]}"),
            413,
            "Request body exceeds limit of 1048576 bytes.",
        ),
    ],
    ids=["two-batches", "garbage", "zeros", "cut-member", "cut", "empty", "over-limit"],
)
def test_gzip_bytes_past_a_member_are_never_acknowledged(client, db, body, status, detail):
    response = client.post(
        "/v1/ingest",
        data=body,
        headers={**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert (response.status_code, response.json) == (status, {"detail": detail})
    assert stored_rows(db) == []


@pytest.mark.parametrize(
    "query",
    [
        "device_id=inverter-01&device_id=inverter-02",
        "device_id=" + "z" * 3000,
        "device_id=inverter-01&frame=day&frame=week",
        "device_id=%00%ff",
        "&".join(f"p{i}=1" for i in range(500)) + "&device_id=inverter-01",
    ],
)
def test_odd_query_strings_are_answered(client, query):
    response = client.get(f"/v1/series?{query}", headers=AUTH)
    assert response.status_code in (200, 403, 422)
    assert "detail" in response.json or response.json["device_id"] == "inverter-01"
    realtime = client.get(f"/v1/realtime?{query}", headers=AUTH)
    assert realtime.status_code in (403, 404, 422)


def spread(days: float, count: int = 3, start: str = "2024-01-01T00:00:00Z") -> list[dict]:
    """`count` samples evenly over `days` days from `start`."""
    start = datetime.fromisoformat(start)
    step = timedelta(days=days) / (count - 1)
    return [sample((start + i * step).isoformat()) for i in range(count)]


@pytest.mark.parametrize(
    ("samples", "span"),
    [
        (spread(30.01), "30.01 days"),
        # 2000 to 2026: it made a chunk for every week it touched
        (spread(9497, count=1000, start="2000-01-01T00:00:00Z"), "9497 days"),
        ([sample("2024-03-01T00:00:00Z"), sample("2000-01-01T00:00:00Z")], "8826 days"),
    ],
)
def test_a_batch_spread_over_more_than_max_batch_span_is_422(client, db, samples, span):
    response = post(client, json.dumps({"samples": samples}))
    assert response.status_code == 422
    (item,) = response.json["detail"]
    assert (item["loc"], item["type"]) == (["samples"], "value_error")
    assert item["msg"].startswith(
        "The samples of one batch must lie within 30 days of each other (MAX_BATCH_SPAN_S); "
        f"these span {span}, from "
    )
    assert stored_rows(db) == []
    # Nothing stored means no chunk made either.
    assert db.execute("SELECT count(*) FROM sungrow_device_first").fetchone() == (0,)


def test_a_batch_within_max_batch_span_is_stored(client, db):
    assert post(client, json.dumps({"samples": spread(30)})).json == {"inserted": 3}


def test_max_batch_span_is_a_setting(database_url, redis_url, db):
    app = create_app(make_env(database_url, redis_url, MAX_BATCH_SPAN_S="3600"))
    try:
        client = app.test_client()
        response = post(client, json.dumps({"samples": spread(1 / 24 + 1e-5)}))
        assert response.status_code == 422
        assert "within 1 hours of each other" in response.json["detail"][0]["msg"]
        assert post(client, json.dumps({"samples": spread(1 / 24)})).json == {"inserted": 3}
    finally:
        close_app(app)


def many_keys(count: int, **fields) -> dict:
    """A sample with `count` more fields of short names."""
    return {**sample(**fields), **{f"{i:x}": 0 for i in range(count)}}


def compact(body) -> str:
    return json.dumps(body, separators=(",", ":"))


def test_a_sample_with_absurdly_many_fields_is_refused_before_any_schema_work(client, db):
    # 125,000 short keys in 1 MB once got a 422 of 11.5 MB (1.4 s of CPU, +80 MiB held).
    body = compact({"samples": [sample(), many_keys(110_000)]})
    assert len(body) > 1_000_000
    response = post(client, body)
    assert response.status_code == 422
    assert response.json["detail"] == [
        {
            "loc": ["samples", 1],
            "msg": "A sample has 110010 fields; at most 100 are allowed",
            "type": "value_error",
        }
    ]
    assert len(response.data) < 1000
    assert stored_rows(db) == []


def test_a_body_with_absurdly_many_fields_is_refused(client, db):
    body = {"samples": [sample()], **{f"k{i}": 0 for i in range(200)}}
    response = post(client, json.dumps(body))
    assert response.status_code == 422
    assert response.json["detail"] == [
        {
            "loc": [],
            "msg": "The body has 201 fields; at most 100 are allowed",
            "type": "value_error",
        }
    ]
    assert stored_rows(db) == []


def spaced(count: int, fields: int) -> list[dict]:
    return [
        many_keys(fields, ts=f"2026-11-28T10:{i // 60:02d}:{i % 60:02d}Z") for i in range(count)
    ]


def wrong_values(count: int) -> list[dict]:
    """Samples whose eight value fields are all of the wrong type."""
    values = ("pv_power_w", "pv_daily_kwh", "battery_power_w", "battery_soc_pct")
    values += ("battery_temp_c", "load_power_w", "export_power_w", "sample_count")
    return [
        sample(f"2026-11-28T10:{i // 60:02d}:{i % 60:02d}Z", **dict.fromkeys(values, "x"))
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("samples", "more"),
    [
        (wrong_values(500), 500 * 8 - 100),  # 4,000 errors until capped
        (spaced(600, 101), 500),  # every sample over the field limit
    ],
    ids=["wrong-values", "field-limit"],
)
def test_a_422_lists_100_errors_then_how_many_more(client, db, samples, more):
    response = post(client, compact({"samples": samples}))
    assert response.status_code == 422
    detail = response.json["detail"]
    assert len(detail) == 101
    assert detail[0]["loc"][:2] == ["samples", 0]
    assert detail[-1] == {
        "loc": [],
        "msg": f"{more} more errors not listed",
        "type": "too_many_errors",
    }
    assert len(response.data) < 20_000
    assert stored_rows(db) == []


def test_unknown_fields_within_the_limit_are_ignored_however_many(client, db):
    # Unknown fields are ignored and counted, not refused (issue 14): 90 in each of 500
    # samples were 45,000 errors, a batch its edge daemon would have retried forever.
    response = post(client, compact({"samples": spaced(500, 90)}))
    assert response.json == {"inserted": 500}
    assert len(stored_rows(db)) == 500


@pytest.mark.parametrize(
    "ts",
    [
        "2026-W48-2",  # an ISO week date
        "2026-11-28",  # a bare date
        "20261128T100000Z",  # the basic format
        "2026-11-28T10:00:00+01:00:30",  # an offset with seconds
        "2026-11-28T10:00Z",  # no seconds
        "2026-11-28T10:00:00,5Z",  # a decimal comma
        "2026-11-28T10:00:00.0000001Z",  # past the microsecond: once the same row as...
        "2026-11-28T10:00:00.0000009Z",  # ...this one
    ],
)
def test_ts_must_be_an_rfc_3339_date_time(client, db, ts):
    response = post(client, json.dumps({"samples": [sample(ts=ts)]}))
    assert response.status_code == 422
    assert response.json["detail"] == [
        {
            "loc": ["samples", 0, "ts"],
            "msg": "Input should be an RFC 3339 date-time with Z or a +hh:mm offset and at most "
            "6 fraction digits, such as 2026-11-28T10:00:00Z",
            "type": "datetime_parsing",
        }
    ]
    assert stored_rows(db) == []


@pytest.mark.parametrize(
    ("ts", "stored"),
    [
        ("2026-11-28T10:00:00.123456Z", "2026-11-28T10:00:00.123456+00:00"),
        ("2026-11-28T10:00:00.1234560000Z", "2026-11-28T10:00:00.123456+00:00"),  # zeros only
        ("2026-11-28t11:00:00.5+01:00", "2026-11-28T10:00:00.500000+00:00"),
        ("2026-11-28 05:30:00-04:30", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T10:00:00z", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T10:00:00-00:00", "2026-11-28T10:00:00+00:00"),
    ],
)
def test_rfc_3339_forms_are_stored_to_the_microsecond(client, db, ts, stored):
    assert post(client, json.dumps({"samples": [sample(ts=ts)]})).json == {"inserted": 1}
    assert [row[0].isoformat() for row in stored_rows(db)] == [stored]


@pytest.mark.parametrize(
    ("field", "digits", "msg"),
    [
        ("pv_power_w", "9" * 4400, "Input should be a finite number"),
        ("export_power_w", "-" + "9" * 4400, "Input should be a finite number"),
        ("sample_count", "9" * 4400, "Input should be a valid integer"),
        ("pv_power_w", "9" * 400, "Input should be a finite number"),
    ],
)
def test_an_integer_of_thousands_of_digits_is_a_schema_violation(client, db, field, digits, msg):
    # A valid JSON number that no field takes: 422, as for 1e400 (it was a 400).
    body = json.dumps({"samples": [sample(**{field: 0})]}).replace(
        f'"{field}": 0', f'"{field}": {digits}'
    )
    response = post(client, body)
    assert response.status_code == 422
    assert [(item["loc"], item["msg"]) for item in response.json["detail"]] == [
        (["samples", 0, field], msg)
    ]
    assert stored_rows(db) == []
