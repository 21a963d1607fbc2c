"""`export` and `import`: raw samples out to a file and back in through ingest's write path,
on each database edition; bad lines, renamed devices, gzip, standard input, progress."""

import gzip
import json
import random
import subprocess
from datetime import UTC, datetime

import psycopg
import pytest

from sungrow_server import create_app
from sungrow_server.db.aggregates import refresh_aggregates, views_present
from sungrow_server.model.columns import COLUMNS, DERIVED
from sungrow_server.transfer import importing
from tests.helpers import (
    AUTH,
    close_app,
    command_env,
    flask_command,
    make_env,
    new_database,
    on_terminal,
    sample,
)
from tests.reference import assert_same, make_data, recompute

FIRST, LAST = "2026-10-20", "2026-10-24"
START = datetime.fromisoformat(FIRST).replace(tzinfo=UTC)
END = datetime.fromisoformat(LAST).replace(tzinfo=UTC)
EVERY_COLUMN = ", ".join((*COLUMNS, *DERIVED))


def ingest(client, samples, token="token-01"):
    for at in range(0, len(samples), 1000):
        response = client.post(
            "/v1/ingest",
            json={"samples": samples[at : at + 1000]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.json


def every_row(conn) -> list[tuple]:
    """Every stored row with its derived columns, in order."""
    return conn.execute(
        f"SELECT {EVERY_COLUMN} FROM sungrow_samples ORDER BY device_id, ts"
    ).fetchall()


def invoke(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def lines_of(samples) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in samples)


@pytest.fixture
def other_database(clusters, edition):
    """A second database with the schema on the same edition: the new server."""
    cluster = clusters.get(edition)
    janitor = new_database(cluster, clusters.template(edition))
    with janitor:
        yield cluster.url(janitor.dbname)


@pytest.fixture
def other_app(other_database, redis_url):
    application = create_app(make_env(other_database, redis_url))
    yield application
    close_app(application)


@pytest.mark.parametrize("format_", ["jsonl", "csv"])
def test_export_then_import_gives_the_same_rows_and_answers(
    format_, app, client, db, other_app, other_database, tmp_path
):
    data, late = make_data(FIRST, LAST, "UTC")
    ingest(client, data + late)
    ingest(client, [sample("2026-10-21T00:00:00+00:00", device_id="inverter-02")], "token-02")
    exported = invoke(app, "export", "--device", "inverter-01", "--format", format_)
    assert exported.exit_code == 0, exported.output
    assert exported.stderr == ""  # quiet when not on a terminal
    path = tmp_path / f"inverter-01.{format_}"
    path.write_bytes(exported.stdout_bytes)
    assert len(exported.stdout_bytes.splitlines()) == len(data + late) + (format_ == "csv")

    result = invoke(other_app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert f"Imported {len(data + late):,} samples of inverter-01" in result.output
    assert f"{len(data + late):,} new, 0 already stored" in result.output
    with psycopg.connect(other_database) as other:
        # every column, the derived ones included, as the ingests stored them
        assert every_row(other) == [r for r in every_row(db) if r[0] == "inverter-01"]
        if views_present(other):
            # materialised by the import itself, not by real-time aggregation
            other.execute(
                "ALTER MATERIALIZED VIEW sungrow_hourly SET (timescaledb.materialized_only = true)"
            )
    for resolution in ("5min", "hour", "day"):
        answer = other_app.test_client().get(
            f"/v1/series?device_id=inverter-01&from={FIRST}&to={LAST}&resolution={resolution}",
            headers=AUTH,
        )
        assert answer.status_code == 200, answer.json
        assert_same(answer.json["series"], recompute(data + late, resolution, "UTC", START, END))

    again = invoke(app, "import", str(path))  # the same data back where it came from
    assert again.exit_code == 0, again.output
    assert f"0 new, {len(data + late):,} already stored" in again.output


def test_import_between_stored_samples_derives_as_ingest_does(
    app, client, db, other_app, other_database, tmp_path
):
    """A shuffled file into a device that already holds every other hour of it: merged
    between stored rows, neighbours corrected, as if all had come in order."""
    data, late = make_data(FIRST, LAST, "Europe/Berlin")
    ingest(client, data + late)
    shuffled = data + late
    random.Random(7).shuffle(shuffled)  # noqa: S311 (a fixed order, not a secret)
    path = tmp_path / "shuffled.jsonl"
    path.write_bytes(lines_of(shuffled))
    ingest(other_app.test_client(), [s for s in data if datetime.fromisoformat(s["ts"]).hour % 2])
    result = invoke(other_app, "import", str(path))
    assert result.exit_code == 0, result.output
    with psycopg.connect(other_database) as other:
        assert every_row(other) == every_row(db)


@pytest.mark.parametrize("edition", ["tsl"])
def test_import_heals_materialised_rollups(app, client, db, tmp_path):
    data, late = make_data(FIRST, LAST, "UTC")
    ingest(client, data)
    refresh_aggregates(db)
    path = tmp_path / "late.jsonl"
    path.write_bytes(lines_of(late))
    result = invoke(app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "Rollups refreshed from" in result.output
    for view in ("sungrow_hourly", "sungrow_daily"):
        db.execute(f"ALTER MATERIALIZED VIEW {view} SET (timescaledb.materialized_only = true)")
    for resolution in ("hour", "day"):
        answer = client.get(
            f"/v1/series?device_id=inverter-01&from={FIRST}&to={LAST}&resolution={resolution}",
            headers=AUTH,
        )
        assert_same(answer.json["series"], recompute(data + late, resolution, "UTC", START, END))


def test_import_offers_the_newest_sample_to_the_realtime_cache(app, client, tmp_path):
    ingest(client, [sample("2026-10-20T00:00:00+00:00")])
    assert (
        client.get("/v1/realtime?device_id=inverter-01", headers=AUTH)
        .json["ts"]
        .startswith("2026-10-20")
    )
    path = tmp_path / "newer.jsonl"
    path.write_bytes(lines_of([sample("2026-10-22T00:00:00+00:00", pv_power_w=77.0)]))
    assert invoke(app, "import", str(path)).exit_code == 0
    newest = client.get("/v1/realtime?device_id=inverter-01", headers=AUTH).json
    assert (newest["ts"], newest["pv_power_w"]) == ("2026-10-22T00:00:00+00:00", 77.0)


GOOD = [sample(f"2026-10-20T{h:02d}:{m:02d}:00+00:00") for h in range(6) for m in range(60)]
BAD_AT = 249  # the sample replaced by a bad line: line 250 of JSON Lines, 251 of CSV


def jsonl_lines() -> list[bytes]:
    return [json.dumps(item).encode() + b"\n" for item in GOOD]


def csv_lines() -> list[bytes]:
    """A header, then one row per sample."""
    rows = [",".join(COLUMNS).encode() + b"\n"]
    for item in GOOD:
        rows.append(
            ",".join("" if item[c] is None else str(item[c]) for c in COLUMNS).encode() + b"\n"
        )
    return rows


GOOD_JSON = json.dumps(GOOD[BAD_AT])
GOOD_CSV = csv_lines()[BAD_AT + 1].decode().strip()
BAD_LINES = {
    "truncated JSON": ("jsonl", '{"device_id": "inverter-01", "ts": ', "not valid JSON"),
    "repeated key": ("jsonl", GOOD_JSON[:-1] + ', "pv_power_w": 1.0}', "not valid JSON"),
    "NaN": ("jsonl", GOOD_JSON.replace("1200.0", "NaN"), "not valid JSON"),
    "not an object": ("jsonl", "[1, 2]", "Input should be a valid dictionary"),
    "number as text": (
        "jsonl",
        GOOD_JSON.replace("1200.0", '"1200"'),
        "pv_power_w: Input should be a valid number",
    ),
    "out of range": (
        "jsonl",
        GOOD_JSON.replace("64.0", "101"),
        "battery_soc_pct: Input should be between 0 and 100",
    ),
    "missing field": (
        "jsonl",
        json.dumps({k: v for k, v in GOOD[BAD_AT].items() if k != "ts"}),
        "ts: Field required",
    ),
    "clock never set": (
        "jsonl",
        json.dumps({**GOOD[BAD_AT], "ts": "1999-12-31T23:00:00Z"}),
        "ts: Input should be a datetime between 2000-01-01 and one day from now",
    ),
    "short CSV row": (
        "csv",
        "inverter-01,2026-10-20T04:09:00+00:00,1",
        "3 fields where the header has 10",
    ),
    "text in a CSV number": (
        "csv",
        GOOD_CSV.replace(",64.0,", ",lots,"),
        "battery_soc_pct: Input should be a valid number",
    ),
    "CSV nan": (
        "csv",
        GOOD_CSV.replace(",1200.0,", ",nan,", 1),
        "pv_power_w: Input should be a finite number",
    ),
}


@pytest.mark.parametrize("edition", ["postgresql"])
@pytest.mark.parametrize("case", list(BAD_LINES))
def test_a_bad_line_stops_before_its_chunk_and_a_rerun_completes(
    case, app, db, tmp_path, monkeypatch
):
    monkeypatch.setattr(importing, "CHUNK", 100)
    format_, bad, message = BAD_LINES[case]
    lines = jsonl_lines() if format_ == "jsonl" else csv_lines()
    header = int(format_ == "csv")
    number = BAD_AT + 1 + header
    good = lines[number - 1]
    lines[number - 1] = bad.encode() + b"\n"
    path = tmp_path / f"samples.{format_}"
    path.write_bytes(b"".join(lines))

    result = invoke(app, "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: line {number}: {message}")
    # chunks of 100 samples: the two before the bad line's chunk are stored, nothing after
    assert f"lines 1-{200 + header} are stored (200 new samples)" in result.stderr
    assert f"nothing from line {201 + header} on" in result.stderr
    stored = [row[0] for row in db.execute("SELECT ts FROM sungrow_samples ORDER BY ts")]
    assert stored == [datetime.fromisoformat(item["ts"]) for item in GOOD[:200]]

    lines[number - 1] = good
    path.write_bytes(b"".join(lines))
    again = invoke(app, "import", str(path))
    assert again.exit_code == 0, again.output
    assert f"{len(GOOD) - 200:,} new, 200 already stored" in again.output
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (len(GOOD),)


@pytest.mark.parametrize("edition", ["postgresql"])
def test_unknown_fields_of_a_json_line_are_ignored_as_by_an_ingest(app, db, tmp_path):
    # Contract change (issue 14): an ingest ignores unknown sample fields; so does import.
    path = tmp_path / "newer.jsonl"
    path.write_bytes(lines_of([GOOD[0] | {"volts": 1}, GOOD[1]]))
    result = invoke(app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (2,)


@pytest.mark.parametrize("edition", ["postgresql"])
def test_a_file_that_is_no_samples_stores_nothing(app, db, tmp_path):
    path = tmp_path / "other.csv"
    path.write_bytes(b"device_id,ts,volts\ninverter-01,2026-10-20T00:00:00Z,1\n")
    result = invoke(app, "import", str(path))
    assert result.exit_code == 1
    assert (
        "line 1: not a JSON sample, nor a CSV header of the fields device_id, ts," in result.stderr
    )
    assert "nothing was stored" in result.stderr
    missing = invoke(app, "import", str(tmp_path / "absent.jsonl"))
    assert missing.exit_code == 1
    assert "cannot read" in missing.stderr and "absent.jsonl" in missing.stderr
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (0,)


@pytest.mark.parametrize("edition", ["postgresql"])
def test_device_option_stores_one_device_under_another_name(app, db, tmp_path):
    path = tmp_path / "old-inverter.jsonl"
    without_id = [{k: v for k, v in item.items() if k != "device_id"} for item in GOOD[:10]]
    path.write_bytes(lines_of(GOOD[:10] + without_id[5:]))
    result = invoke(app, "import", str(path), "--device", "inverter-02")
    assert result.exit_code == 0, result.output
    assert "Imported 15 samples of inverter-02" in result.output
    assert "10 new, 5 already stored" in result.output
    assert db.execute("SELECT DISTINCT device_id FROM sungrow_samples").fetchall() == [
        ("inverter-02",)
    ]
    # without --device, a sample must name its device, as in an ingest
    path.write_bytes(lines_of(without_id))
    unnamed = invoke(app, "import", str(path))
    assert unnamed.exit_code == 1
    assert "line 1: device_id: Field required" in unnamed.stderr
    # two devices renamed to one would merge their histories
    path.write_bytes(lines_of([*GOOD[:3], sample(GOOD[3]["ts"], device_id="inverter-02")]))
    mixed = invoke(app, "import", str(path), "--device", "inverter-03")
    assert mixed.exit_code == 1
    assert "line 4: device 'inverter-02' after samples of 'inverter-01'" in mixed.stderr
    assert db.execute(
        "SELECT count(*) FROM sungrow_samples WHERE device_id = 'inverter-03'"
    ).fetchone() == (0,)


@pytest.mark.parametrize("edition", ["postgresql"])
def test_gzip_files_and_standard_input(app, db, tmp_path):
    path = tmp_path / "samples.jsonl.gz"
    path.write_bytes(gzip.compress(lines_of(GOOD[:100])))
    result = invoke(app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "100 new" in result.output
    piped = invoke(app, "import", "-", input=b"".join(csv_lines()[:1] + csv_lines()[101:151]))
    assert piped.exit_code == 0, piped.output
    assert "Imported 50 samples of inverter-01 from - " in piped.output
    assert db.execute("SELECT count(*) FROM sungrow_samples").fetchone() == (150,)


@pytest.mark.parametrize("edition", ["postgresql"])
def test_csv_columns_in_any_order_and_optional_ones_left_out(app, db, tmp_path):
    path = tmp_path / "by-hand.csv"
    path.write_text(
        "ts,pv_power_w,load_power_w,export_power_w,battery_power_w,battery_soc_pct,device_id\n"
        "2026-10-20T10:00:00+02:00,1500,300,-20.5,0,55,inverter-01\n"
    )
    result = invoke(app, "import", str(path))
    assert result.exit_code == 0, result.output
    stored = db.execute(
        "SELECT ts, pv_power_w, export_power_w, pv_daily_kwh, battery_temp_c, sample_count "
        "FROM sungrow_samples"
    ).fetchall()
    assert stored == [(datetime(2026, 10, 20, 8, tzinfo=UTC), 1500.0, -20.5, None, None, 1)]


@pytest.mark.parametrize("edition", ["postgresql"])
def test_export_selects_a_device_and_a_range(app, client, tmp_path):
    ingest(client, GOOD)
    ingest(client, [sample(GOOD[0]["ts"], device_id="inverter-02")], "token-02")
    ranged = invoke(
        app,
        "export",
        "--device",
        "inverter-01",
        "--from",
        "2026-10-20T01:00:00",
        "--to",
        "2026-10-20T02:30+00:00",
    )
    assert ranged.exit_code == 0, ranged.output
    lines = [json.loads(line) for line in ranged.stdout_bytes.splitlines()]
    assert [item["ts"] for item in lines] == [
        datetime.fromisoformat(item["ts"]).isoformat() for item in GOOD[60:150]
    ]
    assert lines[0] == {**GOOD[60], "ts": "2026-10-20T01:00:00+00:00"}
    everything = invoke(app, "export", "--format", "csv")
    rows = everything.stdout_bytes.decode().splitlines()
    assert rows[0] == ",".join(COLUMNS)
    assert len(rows) == 1 + len(GOOD) + 1
    assert rows[-1].startswith("inverter-02,2026-10-20T00:00:00+00:00,1200.0,3.5,")
    bad = invoke(app, "export", "--from", "yesterday")
    assert bad.exit_code == 2
    assert "'yesterday' is not an ISO 8601 timestamp" in bad.output


@pytest.mark.parametrize("edition", ["postgresql"])
def test_progress_on_a_terminal_and_quiet_elsewhere(
    app, client, db, database_url, redis_url, tmp_path
):
    ingest(client, GOOD)
    env = make_env(database_url, redis_url)
    export = flask_command("export", "--device", "inverter-01")
    path = tmp_path / "out.jsonl"
    with path.open("wb") as out:
        status, printed = on_terminal(export, env, tmp_path, stdout=out)
    assert status == 0, printed
    assert "100%" in printed and f"{len(GOOD)}/{len(GOOD)}" in printed and "samples/s" in printed
    assert f"Exported {len(GOOD):,} samples" in printed
    assert len(path.read_bytes().splitlines()) == len(GOOD)
    # standard output on the terminal: refused rather than filling the screen
    status, printed = on_terminal(export, env, tmp_path)
    assert status == 2
    assert "redirect it to a file" in printed

    importing_ = flask_command("import", str(path), "--device", "inverter-02")
    status, printed = on_terminal(importing_, env, tmp_path)
    assert status == 0, printed
    assert "100%" in printed and "<00:00" in printed  # done, and the time left
    assert "360 samples, " in printed and "/s]" in printed  # samples so far, and their rate
    assert "360 new" in printed

    # a reader that stops early (export | head -1): no traceback, no message
    db.execute(  # more than a pipe holds
        "INSERT INTO sungrow_samples (device_id, ts, pv_power_w, battery_power_w, "
        "battery_soc_pct, load_power_w, export_power_w) SELECT 'inverter-03', t, 1, 0, 50, 1, 0 "
        "FROM generate_series('2026-01-01'::timestamptz, '2026-01-08', '1 minute') t"
    )
    head = subprocess.Popen(
        flask_command("export"),
        env=command_env(env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert json.loads(head.stdout.readline())["device_id"] == "inverter-01"
    head.stdout.close()
    assert head.wait(timeout=60) == 1
    assert head.stderr.read() == b""
    head.stderr.close()

    # not on a terminal: no bar, no carriage returns; import says what it did in one line
    quiet = subprocess.run(
        export, env=command_env(env), cwd=tmp_path, capture_output=True, timeout=60
    )
    assert quiet.returncode == 0 and quiet.stderr == b""
    assert len(quiet.stdout.splitlines()) == len(GOOD)
    again = subprocess.run(
        importing_, env=command_env(env), cwd=tmp_path, capture_output=True, timeout=60
    )
    assert again.returncode == 0 and again.stderr == b""
    assert (
        again.stdout.decode().splitlines() == [again.stdout.decode().strip()]
        and "0 new, 360 already stored" in again.stdout.decode()
    )
