"""The dashboard and /docs in a real browser (Debian's headless Chromium), against a real
gunicorn, PostgreSQL and Redis: what a homeowner sees, read from the page's DOM and
compared with what the API answers."""

import csv
import io
import json
import math
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from sungrow_server.testing import Gunicorn
from sungrow_server.testing import browser as chromium
from tests.helpers import make_env, new_database, sample

pytestmark = pytest.mark.skipif(bool(chromium.missing()), reason=str(chromium.missing()))

ZONE = "Europe/Berlin"
# The browser runs in another zone than the site: the page must use the site's.
BROWSER_ZONE = "America/New_York"
STALE_AFTER_S = 600
PAGE_BUDGET = 250_000
DEVICE_TOKEN = "token-01"
STALE_TOKEN = "token-02"


class Site:
    """A running server with a day and a half of one device's data, and its log."""

    def __init__(self, server: Gunicorn, log: Path):
        self.server = server
        self.log = log
        self.base = f"http://127.0.0.1:{server.port}"
        self.host = f"127.0.0.1:{server.port}"

    def api(self, path: str, token: str = DEVICE_TOKEN, **params):
        status, body = self.server.get(f"{path}?{urlencode(params)}", token)
        assert status == 200, body
        return body if params.get("format") == "csv" else json.loads(body)

    def series(self, start: str, end: str, resolution: str, device_id: str = "inverter-01"):
        return self.api(
            "/v1/series",
            device_id=device_id,
            tz=ZONE,
            **{"from": start, "to": end, "resolution": resolution},
        )


def samples_since(start: datetime, end: datetime, step_s: int = 60) -> list[dict]:
    """One sample a minute: a sun that rises and sets, a house, a battery and the grid."""
    found, moment = [], start
    while moment < end:
        hour = moment.astimezone(ZoneInfo(ZONE)).hour + moment.minute / 60
        pv = round(max(0.0, 3600 * math.sin(math.pi * (hour - 7) / 10)), 1)
        load = round(450 + 250 * math.sin(hour), 1)
        battery = round((pv - load) * 0.4, 1)
        found.append(
            sample(
                ts=moment.isoformat(),
                pv_power_w=pv,
                pv_daily_kwh=None,
                load_power_w=load,
                battery_power_w=battery,
                battery_soc_pct=round(50 + 30 * math.sin(hour / 4), 1),
                export_power_w=round(pv - load - battery, 1),
            )
        )
        moment += timedelta(seconds=step_s)
    return found


@pytest.fixture(scope="module")
def site(clusters, redis_server, tmp_path_factory):
    cluster = clusters.get("postgresql")
    redis_server.client().flushall()
    workdir = tmp_path_factory.mktemp("site")
    with new_database(cluster, clusters.template("postgresql")) as janitor:
        env = make_env(cluster.url(janitor.dbname), redis_server.url, TIMEZONE=ZONE, WORKERS="1")
        server = Gunicorn(env, workdir).wait_ready()
        try:
            now = datetime.now(UTC).replace(microsecond=0)
            midnight = datetime.now(ZoneInfo(ZONE)).replace(hour=0, minute=0, second=0)
            batch = samples_since(midnight.astimezone(UTC) - timedelta(days=1), now)
            for first in range(0, len(batch), 1000):
                assert server.ingest(batch[first : first + 1000], DEVICE_TOKEN)[0] == 200
            old = sample(ts=(now - timedelta(days=2)).isoformat(), device_id="inverter-02")
            assert server.ingest([old], STALE_TOKEN)[0] == 200
            yield Site(server, server.log)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def browser():
    session = chromium.Browser()
    session.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": BROWSER_ZONE})
    yield session
    session.close()


@pytest.fixture
def board(site, browser):
    """The page opened from a share link with the device's token, fully drawn."""
    open_board(site, browser, DEVICE_TOKEN)
    return browser


def open_board(site: Site, browser: chromium.Browser, token: str) -> None:
    browser.open(f"{site.base}/#token={token}")
    browser.wait(
        "return document.querySelector('#tile-age .value').dataset.ts"
        " && document.querySelector('#day-chart').dataset.points"
        " && document.querySelector('#year-totals dd')"
    )


def text(browser, selector: str) -> str:
    return browser.js("return document.querySelector(arguments[0]).textContent", selector)


def data(browser, selector: str, name: str = "value") -> str:
    return browser.js(
        "return document.querySelector(arguments[0]).dataset[arguments[1]]", selector, name
    )


def power(watts: float) -> str:
    """The page's way of writing a power (format.js `power`)."""
    magnitude = abs(watts)
    return f"{magnitude:.0f} W" if magnitude < 1000 else f"{magnitude / 1000:.2f} kW"


def local_today() -> str:
    return datetime.now(ZoneInfo(ZONE)).date().isoformat()


def next_day(day: str, days: int = 1) -> str:
    return (datetime.fromisoformat(day) + timedelta(days=days)).date().isoformat()


def test_page_loads_clean_within_its_budget(site, browser):
    open_board(site, browser, DEVICE_TOKEN)
    traffic = browser.traffic()
    assert browser.console() == []  # no error, no CSP violation, no failed load
    assert traffic.errors() == {}
    assert traffic.hosts() == {site.host}  # nothing from any other host
    page_bytes = sum(traffic.transferred.values())
    # Today is not over yet: what the page would weigh with a whole day of 5-minute
    # buckets, its curve as large as yesterday's.
    today_curve = curve_bytes(traffic)
    browser.js("document.querySelector('#day [data-step=\"-1\"]').click()")
    browser.wait(
        "return document.querySelector('#day').dataset.day !== arguments[0]", local_today()
    )
    full_day = page_bytes - today_curve + curve_bytes(browser.traffic())
    assert full_day < PAGE_BUDGET, full_day
    print(f"\npage load: {len(traffic.requests)} requests, {page_bytes} bytes; full day {full_day}")
    assert browser.js("return location.href") == f"{site.base}/"  # the token left the URL
    assert browser.js("return localStorage.getItem('sungrow.token')") == DEVICE_TOKEN
    for headers in traffic.headers.values():
        if "/v1/" in headers.get("Referer", ""):
            pytest.fail("a request carried the page's address")


def curve_bytes(traffic: chromium.Traffic) -> int:
    """Bytes of the one 5-minute series request among `traffic`."""
    (found,) = [r for r, url in traffic.requests.items() if "resolution=5min" in url]
    return traffic.transferred[found]


def test_tiles_show_the_newest_sample_and_follow_an_ingest(site, board):
    newest = site.api("/v1/realtime", device_id="inverter-01")
    assert float(data(board, "#tile-pv .value")) == newest["pv_power_w"]
    assert text(board, "#tile-pv .value") == power(newest["pv_power_w"])
    assert float(data(board, "#tile-load .value")) == newest["load_power_w"]
    assert float(data(board, "#tile-battery .value")) == newest["battery_power_w"]
    assert float(data(board, "#tile-battery .soc-value")) == newest["battery_soc_pct"]
    assert float(data(board, "#tile-grid .value")) == newest["export_power_w"]
    assert data(board, "#tile-age .value", "ts") == newest["ts"]
    assert text(board, "#tile-age .stale-warning") == ""

    later = datetime.fromisoformat(newest["ts"]) + timedelta(seconds=20)
    fresh = sample(
        ts=later.isoformat(),
        pv_power_w=2345.0,
        load_power_w=678.0,
        battery_power_w=-321.0,
        battery_soc_pct=55.0,
        export_power_w=-100.0,
    )
    assert site.server.ingest([fresh], DEVICE_TOKEN)[0] == 200
    board.wait(
        "return document.querySelector('#tile-pv .value').dataset.value === '2345'", timeout=7
    )
    assert text(board, "#tile-pv .value") == "2.35 kW"
    assert text(board, "#tile-load .value") == "678 W"
    assert text(board, "#tile-battery .value") == "321 W"
    assert text(board, "#tile-battery .detail") == "discharging"
    assert text(board, "#tile-battery .soc-value") == "55 %"
    assert text(board, "#tile-grid .value") == "100 W"
    assert text(board, "#tile-grid .detail") == "importing"


ENERGIES = (
    "pv_energy_kwh",
    "import_energy_kwh",
    "battery_discharge_kwh",
    "load_energy_kwh",
    "export_energy_kwh",
    "battery_charge_kwh",
)


def shown_totals(browser, panel: str) -> dict[str, tuple[float, str]]:
    found = browser.js(
        "return [...document.querySelectorAll(`#${arguments[0]}-totals dd[data-key$='_kwh']`)]"
        ".map(dd => [dd.dataset.key, dd.dataset.value, dd.textContent])",
        panel,
    )
    return {key: (float(value), shown) for key, value, shown in found}


def assert_totals(shown: dict, bucket: dict) -> None:
    assert set(shown) == set(ENERGIES)
    for key in ENERGIES:
        value, label = shown[key]
        assert value == pytest.approx(bucket[key], rel=1e-12, abs=1e-12), key
        assert label == f"{bucket[key]:.2f} kWh", key


def test_day_curve_and_kwh_equal_the_series(site, board):
    today = local_today()
    assert data(board, "#day", "day") == today  # the site's day, not the browser's
    curve = site.series(today, next_day(today), "5min")["series"]
    assert int(data(board, "#day-chart", "points")) == len(curve) > 0
    (day,) = site.series(today, next_day(today), "day")["series"]
    assert_totals(shown_totals(board, "day"), day)

    board.js("document.querySelector('#day [data-step=\"-1\"]').click()")
    yesterday = next_day(today, -1)
    board.wait("return document.querySelector('#day').dataset.day === arguments[0]", yesterday)
    curve = site.series(yesterday, today, "5min")["series"]
    board.wait(
        "return document.querySelector('#day-chart').dataset.points === arguments[0]",
        str(len(curve)),
    )
    assert len(curve) == 288  # a whole day of 5-minute buckets is drawn
    (day,) = site.series(yesterday, today, "day")["series"]
    assert_totals(shown_totals(board, "day"), day)
    assert not board.js("return document.querySelector('#day [data-step=\"1\"]').disabled")


def test_month_and_year_bars_equal_the_series(site, board):
    month = local_today()[:8] + "01"
    end = (datetime.fromisoformat(month) + timedelta(days=32)).date().isoformat()[:8] + "01"
    (total,) = site.series(month, end, "month")["series"]
    assert_totals(shown_totals(board, "month"), total)
    days = site.series(month, end, "day")["series"]
    rows = board.js(
        "const cells = (tr) => [...tr.querySelectorAll('td[data-key]')]"
        "  .map(td => [td.dataset.key, Number(td.dataset.value)]);"
        "return [...document.querySelectorAll('#month-table tr[data-slot]')]"
        "  .map(tr => [tr.dataset.slot, tr.className, Object.fromEntries(cells(tr))])"
    )
    assert len(rows) == len(days) > 0
    for (slot, klass, values), bucket in zip(rows, days, strict=True):
        local = datetime.fromisoformat(bucket["bucket"]).astimezone(ZoneInfo(ZONE))
        assert slot == local.date().isoformat()
        assert (klass == "incomplete") == bucket["incomplete"]
        assert values == pytest.approx({key: bucket[key] for key in ENERGIES}, rel=1e-12)
    drawn = board.js(
        "return [...document.querySelectorAll('#month-bars g.bucket')].map(g => [g.dataset.slot,"
        " g.classList.contains('incomplete')])"
    )
    assert drawn == [[slot, klass == "incomplete"] for slot, klass, _ in rows]
    assert [incomplete for slot, incomplete in drawn if slot == local_today()] == [True]

    year = month[:4] + "-01-01"
    months = site.series(year, f"{int(year[:4]) + 1}-01-01", "month")["series"]
    for key, (value, label) in shown_totals(board, "year").items():
        assert value == pytest.approx(sum(bucket[key] for bucket in months), rel=1e-12)
        assert label == f"{value:.2f} kWh"


def test_csv_download_is_what_is_on_screen(site, board):
    today = local_today()
    expected = {"device_id": "inverter-01", "tz": ZONE, "from": today, "to": next_day(today)}
    expected |= {"resolution": "5min", "format": "csv"}
    link = data(board, "#day .csv", "url")
    assert link == f"/v1/series?{urlencode(expected)}"
    board.js("document.querySelector('#day .csv').click()")
    rows = list(csv.DictReader(io.StringIO(downloaded(board).read_text())))
    api_rows = list(csv.DictReader(io.StringIO(site.api("/v1/series", **expected).decode())))
    assert rows == api_rows and len(rows) == int(data(board, "#day-chart", "points"))


def downloaded(browser, timeout: float = 10) -> Path:
    """The one file the browser downloaded, once it is complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = [f for f in browser.downloads.iterdir() if f.suffix == ".csv"]
        if files:
            return files[0]
        time.sleep(0.05)
    raise AssertionError("nothing downloaded")


def test_a_stale_device_shows_the_warning(site, browser):
    browser.open(f"{site.base}/#token={STALE_TOKEN}")
    browser.wait("return !document.querySelector('#tile-age .stale-warning').hidden")
    warning = text(browser, "#tile-age .stale-warning")
    assert warning.startswith("Stale: no new data for over")
    assert "stale" in browser.js("return document.querySelector('#tile-age').className")
    assert browser.console() == []


def test_a_wrong_token_shows_a_message_and_is_forgotten(site, browser):
    browser.open(f"{site.base}/#token=not-a-token")
    browser.wait("return !document.querySelector('#signin-message').hidden")
    assert text(browser, "#signin-message") == (
        "This token was not accepted: Invalid or expired token."
    )
    assert browser.js("return document.querySelector('#board').hidden") is True
    assert browser.js("return localStorage.getItem('sungrow.token')") is None
    browser.traffic()
    browser.console()


def test_forget_and_sign_in_again_with_the_form(site, board):
    board.js("document.querySelector('#forget').click()")
    board.wait("return !document.querySelector('#signin').hidden")
    assert board.js("return localStorage.length") == 0
    board.js(
        "document.querySelector('#token').value = arguments[0];"
        "document.querySelector('#signin-form').requestSubmit()",
        DEVICE_TOKEN,
    )
    board.wait("return !document.querySelector('#board').hidden")
    assert board.js("return localStorage.getItem('sungrow.token')") == DEVICE_TOKEN


def test_the_fragment_token_never_reaches_the_server(site, browser):
    secret = "fragment-only-" + "x" * 24
    browser.open(f"{site.base}/#token={secret}")
    browser.wait("return !document.querySelector('#signin-message').hidden")
    log = site.log.read_text()
    assert re.search(r'"GET / HTTP/1\.1" 200', log)  # the access log records requests
    assert secret not in log
    assert all(secret not in url for url in browser.traffic().urls())


def test_docs_render_every_path_of_the_document(site, browser):
    document = json.loads(site.server.request("GET", "/openapi.json")[2])
    browser.open(f"{site.base}/docs")
    browser.wait("return document.querySelectorAll('.opblock').length")
    shown = browser.js(
        "return [...document.querySelectorAll('.opblock-summary-path')].map(e => e.dataset.path)"
    )
    assert set(shown) == set(document["paths"])
    traffic = browser.traffic()
    assert browser.console() == []
    assert traffic.errors() == {}
    assert traffic.hosts() == {site.host}
    print(f"\n/docs: {sum(traffic.transferred.values())} bytes transferred")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_readable_in_light_and_dark(site, board, scheme):
    board.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    try:
        colors = board.js(
            "const s = getComputedStyle(document.querySelector('.tile'));"
            "const b = getComputedStyle(document.body);"
            "return [s.backgroundColor, b.color]"
        )
    finally:
        board.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    background, foreground = (luminance(color) for color in colors)
    assert (background > foreground) == (scheme == "light")
    assert abs(background - foreground) > 0.5


def luminance(css: str) -> float:
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_screenshots_at_desktop_and_phone_width(site, board, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("screenshots")
    for width in (1280, 360):
        board.set_width(width)
        board.wait("return document.documentElement.clientWidth === arguments[0]", width)
        overflow = board.js("return document.documentElement.scrollWidth")
        assert overflow <= width  # nothing sticks out sideways at phone width
        assert board.screenshot(folder / f"dashboard-{width}.png").stat().st_size > 10_000
    board.set_width(1280)
    with capsys.disabled():
        print(f"\nscreenshots: {folder}")
