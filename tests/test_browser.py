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

from sungrow_server import create_app
from sungrow_server.testing import Gunicorn
from sungrow_server.testing import browser as chromium
from tests.helpers import cli, close_app, make_env, make_token, new_database, sample

pytestmark = pytest.mark.skipif(bool(chromium.missing()), reason=str(chromium.missing()))

ZONE = "Europe/Berlin"
# The browser runs in another zone than the site: the page must use the site's.
BROWSER_ZONE = "America/New_York"
PAGE_BUDGET = 250_000
DEVICE_TOKEN = "token-01"  # from DEVICE_TOKENS, like an edge daemon's
STALE_TOKEN = "token-02"  # inverter-02, whose newest sample is two days old
SITE = "roof"  # inverter-01 and inverter-02
HOST = "sungrow.test"  # the server's name for the browser (it is 127.0.0.1)
TARGETS = {"site:roof": {"site_id": SITE}, "device:inverter-01": {"device_id": "inverter-01"}}


class Site:
    """A running server with a day and a half of one device's data, and its log."""

    def __init__(self, server: Gunicorn, reader: str):
        self.server = server
        self.reader = reader  # a read-only token for every device and site
        self.log = server.log
        self.host = f"{HOST}:{server.port}"
        self.base = f"http://{self.host}"

    def api(self, path: str, **params):
        status, body = self.server.get(f"{path}?{urlencode(params)}", self.reader)
        assert status == 200, body
        return body if params.get("format") == "csv" else json.loads(body)

    def series(self, target: str, start: str, end: str, resolution: str):
        arguments = {**TARGETS[target], "tz": ZONE, "from": start, "to": end}
        return self.api("/v1/series", **arguments, resolution=resolution)["series"]


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
        admin = create_app(env)  # the commands an owner runs once
        try:
            made = cli(
                admin, "site", "create", SITE, "--device", "inverter-01", "--device", "inverter-02"
            )
            assert made.exit_code == 0, made.output
            reader = make_token(admin, "--read-only", "--all", "--label", "dashboard")
        finally:
            close_app(admin)
        server = Gunicorn(env, workdir).wait_ready()
        try:
            now = datetime.now(UTC).replace(microsecond=0)
            midnight = datetime.now(ZoneInfo(ZONE)).replace(hour=0, minute=0, second=0)
            batch = samples_since(midnight.astimezone(UTC) - timedelta(days=1), now)
            for first in range(0, len(batch), 1000):
                assert server.ingest(batch[first : first + 1000], DEVICE_TOKEN)[0] == 200
            old = sample(ts=(now - timedelta(days=2)).isoformat(), device_id="inverter-02")
            assert server.ingest([old], STALE_TOKEN)[0] == 200
            yield Site(server, reader)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def browser():
    session = chromium.Browser(host=HOST)
    session.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": BROWSER_ZONE})
    yield session
    session.close()


@pytest.fixture
def board(site, browser):
    """The page opened from a share link with the read-only token, showing the site."""
    open_board(site, browser, site.reader)
    return browser


def open_board(site: Site, browser: chromium.Browser, token: str, choice: str = "site:roof"):
    """The page as a first visit from a share link (nothing remembered), fully drawn."""
    browser.forget_site_data(site.base)
    browser.open(f"{site.base}/#token={token}")
    drawn(browser, browser.wait("return document.querySelector('#board').dataset.shown"))
    if choice != browser.js("return document.querySelector('#choice').value"):
        choose(browser, choice)


def choose(browser, choice: str) -> None:
    """Pick a device or site in the page's menu, as a user does, and wait for it."""
    browser.js(
        "const menu = document.querySelector('#choice'); menu.value = arguments[0];"
        "menu.dispatchEvent(new Event('change'))",
        choice,
    )
    drawn(browser, choice)


def drawn(browser, choice: str) -> None:
    """Wait until the panels and the tiles show `choice`."""
    browser.wait(
        "return document.querySelector('#board').dataset.shown === arguments[0]"
        " && document.querySelector('#tile-age .value').dataset.ts",
        choice,
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
    open_board(site, browser, site.reader)
    traffic = browser.traffic()
    assert browser.console() == []  # no error, no CSP violation, no failed load
    assert traffic.errors() == {}
    assert traffic.hosts() == {site.host}  # nothing from any other host
    page_bytes = sum(traffic.transferred.values())
    # Today is not over yet: what the page would weigh with a whole day of 5-minute
    # buckets, its curve as large as yesterday's.
    today_curve = curve_bytes(traffic)
    step(browser, "day", -1)
    full_day = page_bytes - today_curve + curve_bytes(browser.traffic())
    assert full_day < PAGE_BUDGET, full_day
    print(f"\npage load: {len(traffic.requests)} requests, {page_bytes} bytes; full day {full_day}")
    assert browser.js("return location.href") == f"{site.base}/"  # the token left the URL
    assert browser.js("return localStorage.getItem('sungrow.token')") == site.reader
    options = browser.js(
        "return [...document.querySelectorAll('#choice option')].map(o => o.value)"
    )
    assert options == ["site:roof", "device:inverter-01", "device:inverter-02"]
    assert text(browser, "#board-message") == ""  # no warning for a read-only token


def curve_bytes(traffic: chromium.Traffic) -> int:
    """Bytes of the one 5-minute series request among `traffic`."""
    (found,) = [r for r, url in traffic.requests.items() if "resolution=5min" in url]
    return traffic.transferred[found]


def step(browser, panel: str, by: int) -> None:
    """Click a panel's previous (-1) or next (1) button and wait for the panel to change."""
    before = data(browser, f"#{panel}", panel)
    browser.js(f"document.querySelector('#{panel} [data-step=\"{by}\"]').click()")
    browser.wait(
        f"return document.querySelector('#{panel}').dataset.{panel} !== arguments[0]", before
    )


def tile_values(browser) -> dict:
    return {
        "pv_power_w": float(data(browser, "#tile-pv .value")),
        "load_power_w": float(data(browser, "#tile-load .value")),
        "battery_power_w": float(data(browser, "#tile-battery .value")),
        "battery_soc_pct": float(data(browser, "#tile-battery .soc-value")),
        "export_power_w": float(data(browser, "#tile-grid .value")),
        "ts": data(browser, "#tile-age .value", "ts"),
    }


def test_a_site_shows_its_sum_and_follows_an_ingest(site, board):
    answer = site.api("/v1/realtime", site_id=SITE)
    total = answer["total"]
    assert tile_values(board) == {key: total[key] for key in tile_values(board)}
    assert text(board, "#tile-pv .value") == power(total["pv_power_w"])
    # The site's inverter-02 has sent nothing for two days.
    warning = text(board, "#tile-age .stale-warning")
    assert warning == "Stale: inverter-02: no new data for over 10 min"
    assert text(board, "#tile-age .detail").endswith(" · 1 of 2 devices up to date")

    newest = site.api("/v1/realtime", device_id="inverter-01")
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
    total = site.api("/v1/realtime", site_id=SITE)["total"]
    assert total["ts"] == later.isoformat()
    board.wait(  # within one refresh of the tiles (every 5 s)
        "return document.querySelector('#tile-age .value').dataset.ts === arguments[0]",
        total["ts"],
        timeout=6,
    )
    assert tile_values(board) == {key: total[key] for key in tile_values(board)}


def test_tiles_of_a_device_spell_out_directions(site, board):
    choose(board, "device:inverter-01")
    newest = site.api("/v1/realtime", device_id="inverter-01")
    assert tile_values(board) == {key: newest[key] for key in tile_values(board)}
    expected = {
        "#tile-pv .value": power(newest["pv_power_w"]),
        "#tile-load .value": power(newest["load_power_w"]),
        "#tile-battery .value": power(newest["battery_power_w"]),
        "#tile-battery .detail": "charging" if newest["battery_power_w"] > 0 else "discharging",
        "#tile-battery .soc-value": f"{newest['battery_soc_pct']:.0f} %",
        "#tile-grid .value": power(newest["export_power_w"]),
        "#tile-grid .detail": "exporting" if newest["export_power_w"] > 0 else "importing",
        "#tile-age .stale-warning": "",
    }
    assert {selector: text(board, selector) for selector in expected} == expected


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


@pytest.mark.parametrize("target", TARGETS)
def test_day_curve_and_kwh_equal_the_series(site, board, target):
    choose(board, target)
    today = local_today()
    assert data(board, "#day", "day") == today  # the site's day, not the browser's
    curve = site.series(target, today, next_day(today), "5min")
    assert int(data(board, "#day-chart", "points")) == len(curve) > 0
    (day,) = site.series(target, today, next_day(today), "day")
    assert_totals(shown_totals(board, "day"), day)
    assert board.js("return document.querySelector('#day [data-step=\"1\"]').disabled")

    step(board, "day", -1)
    yesterday = next_day(today, -1)
    assert data(board, "#day", "day") == yesterday
    curve = site.series(target, yesterday, today, "5min")
    assert len(curve) == 288  # a whole day of 5-minute buckets, every one drawn
    assert data(board, "#day-chart", "points") == "288"
    (day,) = site.series(target, yesterday, today, "day")
    assert_totals(shown_totals(board, "day"), day)
    assert not board.js("return document.querySelector('#day [data-step=\"1\"]').disabled")


def month_rows(browser) -> list:
    return browser.js(
        "const cells = (tr) => [...tr.querySelectorAll('td[data-key]')]"
        "  .map(td => [td.dataset.key, Number(td.dataset.value)]);"
        "return [...document.querySelectorAll('#month-table tr[data-slot]')]"
        "  .map(tr => [tr.dataset.slot, tr.className, Object.fromEntries(cells(tr))])"
    )


@pytest.mark.parametrize("target", TARGETS)
def test_month_and_year_bars_equal_the_series(site, board, target):
    choose(board, target)
    month = local_today()[:8] + "01"
    end = (datetime.fromisoformat(month) + timedelta(days=32)).date().isoformat()[:8] + "01"
    (total,) = site.series(target, month, end, "month")
    assert_totals(shown_totals(board, "month"), total)
    days = site.series(target, month, end, "day")
    rows = month_rows(board)
    assert len(rows) == len(days) > 0
    for (slot, klass, values), bucket in zip(rows, days, strict=True):
        local = datetime.fromisoformat(bucket["bucket"]).astimezone(ZoneInfo(ZONE))
        assert slot == local.date().isoformat()
        assert (klass == "incomplete") == bucket["incomplete"]
        assert values == pytest.approx({key: bucket[key] for key in ENERGIES}, rel=1e-12)
    bars = board.js(
        "return [...document.querySelectorAll('#month-bars g.bucket')]"
        "  .map(g => [g.dataset.slot, g.classList.contains('incomplete')])"
    )
    assert bars == [[slot, klass == "incomplete"] for slot, klass, _ in rows]
    assert [incomplete for slot, incomplete in bars if slot == local_today()] == [True]

    year = month[:4] + "-01-01"
    months = site.series(target, year, f"{int(year[:4]) + 1}-01-01", "month")
    for key, (value, label) in shown_totals(board, "year").items():
        assert value == pytest.approx(sum(bucket[key] for bucket in months), rel=1e-12)
        assert label == f"{value:.2f} kWh"

    step(board, "month", -1)  # the month before: its own buckets, or none
    before = (datetime.fromisoformat(month) - timedelta(days=1)).date().isoformat()[:8] + "01"
    assert data(board, "#month", "month") == before
    assert len(month_rows(board)) == len(site.series(target, before, month, "day"))


def test_the_choice_is_remembered(site, board):
    choose(board, "device:inverter-01")
    board.open(f"{site.base}/")  # a later visit, without a share link
    drawn(board, "device:inverter-01")
    assert board.js("return document.querySelector('#choice').value") == "device:inverter-01"


def test_csv_download_is_what_is_on_screen(site, board):
    choose(board, "device:inverter-01")
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


def test_a_device_token_works_and_a_stale_device_shows_the_warning(site, browser):
    open_board(site, browser, STALE_TOKEN, choice="device:inverter-02")
    warning = text(browser, "#tile-age .stale-warning")
    assert warning == "Stale: no new data for over 10 min"
    assert "stale" in browser.js("return document.querySelector('#tile-age').className")
    assert "device token" in text(browser, "#board-message")
    assert browser.console() == []


def test_a_wrong_token_shows_a_message_and_is_forgotten(site, browser):
    browser.open(f"{site.base}/#token=not-a-token")
    browser.wait("return !document.querySelector('#signin-message').hidden")
    assert text(browser, "#signin-message") == (
        "This token was not accepted: Invalid or expired token."
    )
    assert browser.js("return document.querySelector('#board').hidden") is True
    assert browser.js("return localStorage.getItem('sungrow.token')") is None


def test_forget_and_sign_in_again_with_the_form(site, board):
    board.js("document.querySelector('#forget').click()")
    board.wait("return !document.querySelector('#signin').hidden")
    assert board.js("return localStorage.length") == 0
    board.js(
        "document.querySelector('#token').value = arguments[0];"
        "document.querySelector('#signin-form').requestSubmit()",
        site.reader,
    )
    drawn(board, "site:roof")
    assert board.js("return localStorage.getItem('sungrow.token')") == site.reader


def test_the_fragment_token_never_reaches_the_server(site, browser):
    secret = "fragment-only-" + "x" * 24
    browser.open(f"{site.base}/#token={secret}")
    browser.wait("return !document.querySelector('#signin-message').hidden")
    log = site.log.read_text()
    assert re.search(r'"GET / HTTP/1\.1" 200', log)  # the access log records requests
    assert secret not in log
    assert all(secret not in url for url in browser.traffic().urls())
    open_board(site, browser, site.reader)  # and a real one, used by the page
    assert site.reader not in site.log.read_text()


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
        board.wait(  # the bars are drawn again for the new width, as tall as before
            "return [...document.querySelectorAll('.bars svg')]"
            "  .every(svg => Math.abs(svg.getBoundingClientRect().height - 230) < 1)"
        )
        assert board.screenshot(folder / f"dashboard-{width}.png").stat().st_size > 10_000
    board.set_width(1280)
    with capsys.disabled():
        print(f"\nscreenshots: {folder}")
