// The dashboard: sign in with a token, pick a device or a site, then keep the tiles,
// the day's curve and the energy bars up to date.
import { download, getJson, HttpError, store, takeTokenFromFragment, target, url } from "./api.js";
import { renderBars, renderTable, renderTotals, resizeBars } from "./bars.js";
import { renderCurve, resizeCurve } from "./curve.js";
import * as fmt from "./format.js";
import { onSchemeChange } from "./theme.js";
import { clearTiles, renderTiles, tileValues } from "./tiles.js";

const TILES_EVERY_MS = 5000;
const CHARTS_EVERY_MS = 60000;
const RETRY_MS = 10000;
const $ = (id) => document.getElementById(id);

const state = { info: null, choice: null, today: null, day: null, month: null, year: null, timers: [] };

function message(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

function explain(error) {
  if (!(error instanceof HttpError)) return `The server did not answer (${error.message}).`;
  if (error.status === 401) return `This token was not accepted: ${error.message}`;
  if (error.status === 429) return `Too many failed attempts from here; try again in ${error.retryAfter || "a few"} s.`;
  if (error.status === 403) return `This token may not read that: ${error.message}`;
  return `The server answered ${error.status}: ${error.message}`;
}

function stop() {
  state.timers.forEach(clearInterval);
  state.timers = [];
}

function showSignin(text) {
  stop();
  $("board").hidden = true;
  $("choice-label").hidden = true;
  $("forget").hidden = true;
  $("signin").hidden = false;
  message($("signin-message"), text);
  $("token").focus();
}

async function start() {
  stop();
  try {
    state.info = await getJson("/v1/devices");
  } catch (error) {
    if (error instanceof HttpError && [401, 429].includes(error.status)) {
      if (error.status === 401) store.forget();
      showSignin(explain(error));
    } else {
      showSignin(`${explain(error)} Trying again in ${RETRY_MS / 1000} s.`);
      state.timers.push(setTimeout(start, RETRY_MS));
    }
    return;
  }
  $("signin").hidden = true;
  $("board").hidden = false;
  $("forget").hidden = false;
  fillChoices();
  const zone = state.info.timezone;
  state.day = fmt.today(zone);
  state.month = state.day.slice(0, 7) + "-01";
  state.year = state.day.slice(0, 4) + "-01-01";
  state.today = state.day;
  message($("board-message"), note());
  await Promise.all([refreshTiles(), refreshCharts()]);
  state.timers.push(setInterval(refreshTiles, TILES_EVERY_MS), setInterval(refreshCharts, CHARTS_EVERY_MS));
}

function fillChoices() {
  const select = $("choice");
  const groups = [
    ["Sites", state.info.sites.map((s) => ["site", s.site_id, `${s.site_id} (${s.devices.length} devices)`])],
    ["Devices", state.info.devices.map((d) => ["device", d.device_id, d.device_id])],
  ];
  select.replaceChildren();
  for (const [label, options] of groups) {
    if (!options.length) continue;
    const group = document.createElement("optgroup");
    group.label = label;
    for (const [kind, id, text] of options) group.append(new Option(text, `${kind}:${id}`));
    select.append(group);
  }
  const values = [...select.options].map((o) => o.value);
  select.value = values.includes(store.choice()) ? store.choice() : values[0] || "";
  $("choice-label").hidden = values.length === 0;
  choose(select.value);
}

// What the board says while all is well.
function note() {
  if (state.info.role === "device") {
    return "This is a device token: it can also store data. Share a read-only token instead.";
  }
  return state.choice ? "" : "This token can read no device yet.";
}

function choose(value) {
  const [kind, ...rest] = value.split(":");
  state.choice = value ? { kind, id: rest.join(":"), key: value } : null;
  delete $("board").dataset.shown;
}

function deviceInfo(id) {
  return state.info.devices.find((d) => d.device_id === id);
}

async function refreshTiles() {
  const choice = state.choice;
  if (!choice) return clearTiles(state.info.stale_after_s);
  if (choice.kind === "device" && !deviceInfo(choice.id)?.last_ts) {
    // Never written to: /v1/realtime would only answer 404, so ask again with the list.
    state.info = await getJson("/v1/devices").catch(() => state.info);
    if (!deviceInfo(choice.id)?.last_ts) return clearTiles(state.info.stale_after_s);
  }
  try {
    const { now, members } = tileValues(await getJson(url("/v1/realtime", target(choice))));
    if (choice !== state.choice) return;
    renderTiles(now, state.info.stale_after_s, members, state.info.timezone);
    message($("board-message"), note());
  } catch (error) {
    handle(error);
  }
}

function handle(error) {
  if (error instanceof HttpError && error.status === 401) {
    store.forget();
    showSignin(explain(error));
  } else {
    message($("board-message"), explain(error));
  }
}

function series(params) {
  return url("/v1/series", { ...target(state.choice), tz: state.info.timezone, ...params });
}

function range(from, to, resolution) {
  return { from, to, resolution };
}

// What each panel shows: its range, the URL of its buckets (also its CSV) and its totals.
const panels = {
  day: () => {
    const to = fmt.addDays(state.day, 1);
    return { buckets: series(range(state.day, to, "5min")), totals: series(range(state.day, to, "day")) };
  },
  month: () => {
    const to = fmt.addMonths(state.month, 1);
    return { buckets: series(range(state.month, to, "day")), totals: series(range(state.month, to, "month")) };
  },
  year: () => {
    const to = fmt.addMonths(state.year, 12);
    return { buckets: series(range(state.year, to, "month")), totals: null };
  },
};

// Keep following the present: a page left open on today shows the new day at midnight.
function followToday() {
  const today = fmt.today(state.info.timezone);
  if (state.today && state.today !== today) {
    if (state.day === state.today) state.day = today;
    if (state.month === state.today.slice(0, 7) + "-01") state.month = today.slice(0, 7) + "-01";
    if (state.year === state.today.slice(0, 4) + "-01-01") state.year = today.slice(0, 4) + "-01-01";
  }
  state.today = today;
}

async function refreshCharts() {
  if (!state.choice) return;
  const choice = state.choice;
  followToday();
  try {
    await Promise.all([drawDay(choice), drawMonth(choice), drawYear(choice)]);
    // What the panels now show, for whoever waits for them (tests, too).
    if (choice === state.choice) $("board").dataset.shown = choice.key;
    message($("board-message"), note());
  } catch (error) {
    handle(error);
  }
}

async function drawDay(choice) {
  const urls = panels.day();
  const [curve, totals] = await Promise.all([getJson(urls.buckets), getJson(urls.totals)]);
  if (choice !== state.choice) return;
  const today = fmt.today(state.info.timezone);
  $("day-title").textContent = state.day === today ? `Today, ${fmt.dayTitle(state.day)}` : fmt.dayTitle(state.day);
  $("day").dataset.day = state.day;
  renderCurve($("day-chart"), curve, state.info.timezone);
  renderTotals($("day-totals"), totals.series[0], totals.series[0]?.coverage ?? null);
  stepButtons("day", state.day >= today);
}

async function drawMonth(choice) {
  const urls = panels.month();
  const [days, totals] = await Promise.all([getJson(urls.buckets), getJson(urls.totals)]);
  if (choice !== state.choice) return;
  const zone = state.info.timezone;
  const byDay = Object.fromEntries(days.series.map((b) => [fmt.localDate(b.bucket, zone), b]));
  const count = fmt.daysInMonth(state.month);
  const slots = Array.from({ length: count }, (_, i) => {
    const key = fmt.addDays(state.month, i);
    const day = i + 1;
    return { key, label: fmt.dayTitle(key), tick: day === 1 || day % 5 === 0 ? String(day) : "" };
  });
  $("month-title").textContent = fmt.monthTitle(state.month);
  $("month").dataset.month = state.month;
  renderBars($("month-bars"), slots, byDay);
  renderTotals($("month-totals"), totals.series[0], totals.series[0]?.coverage ?? null);
  renderTable($("month-table"), slots, byDay, "Day");
  stepButtons("month", state.month >= fmt.today(zone).slice(0, 7) + "-01");
}

async function drawYear(choice) {
  const months = await getJson(panels.year().buckets);
  if (choice !== state.choice) return;
  const zone = state.info.timezone;
  const byMonth = Object.fromEntries(months.series.map((b) => [fmt.localDate(b.bucket, zone).slice(0, 7) + "-01", b]));
  const slots = Array.from({ length: 12 }, (_, i) => {
    const key = fmt.addMonths(state.year, i);
    return { key, label: fmt.monthTitle(key), tick: fmt.monthShort(key).slice(0, 3) };
  });
  const sum = {};
  for (const bucket of months.series) {
    for (const [key, value] of Object.entries(bucket)) if (key.endsWith("_kwh")) sum[key] = (sum[key] || 0) + value;
  }
  $("year-title").textContent = state.year.slice(0, 4);
  $("year").dataset.year = state.year;
  renderBars($("year-bars"), slots, byMonth);
  renderTotals($("year-totals"), months.series.length ? sum : null);
  renderTable($("year-table"), slots, byMonth, "Month");
  stepButtons("year", state.year.slice(0, 4) >= fmt.today(zone).slice(0, 4));
}

function stepButtons(panel, atPresent) {
  $(panel).querySelector('[data-step="1"]').disabled = atPresent;
  $(panel).querySelector(".csv").dataset.url = `${panels[panel]().buckets}&format=csv`;
}

const steps = {
  day: (n) => (state.day = fmt.addDays(state.day, n)) && drawDay(state.choice),
  month: (n) => (state.month = fmt.addMonths(state.month, n)) && drawMonth(state.choice),
  year: (n) => (state.year = fmt.addMonths(state.year, 12 * n)) && drawYear(state.choice),
};

function wire() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    store.setToken(token);
    $("token").value = "";
    start();
  });
  $("forget").addEventListener("click", () => {
    store.forget();
    showSignin("This browser no longer holds a token.");
  });
  $("choice").addEventListener("change", (event) => {
    store.setChoice(event.target.value);
    choose(event.target.value);
    refreshTiles();
    refreshCharts();
  });
  for (const panel of Object.keys(steps)) {
    for (const button of $(panel).querySelectorAll(".step")) {
      button.addEventListener("click", () => steps[panel](Number(button.dataset.step)).catch(handle));
    }
    $(panel).querySelector(".csv").addEventListener("click", (event) => download(event.target.dataset.url).catch(handle));
  }
  new ResizeObserver(() => resizeCurve($("day-chart"))).observe($("day-chart"));
  const bars = new ResizeObserver((entries) => entries.forEach((entry) => resizeBars(entry.target)));
  bars.observe($("month-bars"));
  bars.observe($("year-bars"));
  onSchemeChange(refreshCharts);
}

wire();
takeTokenFromFragment();
if (store.token()) start();
else showSignin("");
