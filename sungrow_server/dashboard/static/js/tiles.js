// The live tiles: the newest sample of a device, or the sum over a site's devices.
import * as fmt from "./format.js";

const IDLE_W = 0.5;

function tile(id) {
  const root = document.getElementById(id);
  return {
    root,
    value: root.querySelector(".value"),
    detail: root.querySelector(".detail"),
  };
}

// Show a power in a tile; the raw watts go into data-value.
function showPower(id, watts, detail) {
  const t = tile(id);
  t.value.textContent = watts === null || watts === undefined ? "–" : fmt.power(watts);
  t.value.dataset.value = watts ?? "";
  t.detail.textContent = detail || "\u00a0";
  return t;
}

function direction(watts, positive, negative) {
  if (watts === null || watts === undefined) return "";
  if (Math.abs(watts) < IDLE_W) return "idle";
  return watts > 0 ? positive : negative;
}

// `now` is what the tiles show: {ts, pv_power_w, load_power_w, battery_power_w,
// battery_soc_pct, export_power_w}; `members` the devices of a site (null for a device);
// times are shown in the site's `zone`.
export function renderTiles(now, staleAfterS, members, zone) {
  showPower("tile-pv", now.pv_power_w, now.pv_daily_kwh != null ? `${fmt.kwh(now.pv_daily_kwh)} today` : "");
  showPower("tile-load", now.load_power_w, "");
  const battery = now.battery_power_w;
  showPower("tile-battery", battery, direction(battery, "charging", "discharging"));
  const soc = document.querySelector("#tile-battery .soc-value");
  soc.textContent = now.battery_soc_pct == null ? "–" : fmt.percent(now.battery_soc_pct);
  soc.dataset.value = now.battery_soc_pct ?? "";
  const meter = document.querySelector("#tile-battery meter");
  meter.value = now.battery_soc_pct ?? 0;
  const grid = now.export_power_w;
  showPower("tile-grid", grid, direction(grid, "exporting", "importing"));

  const ageTile = tile("tile-age");
  const warning = ageTile.root.querySelector(".stale-warning");
  const seconds = now.ts ? (Date.now() - Date.parse(now.ts)) / 1000 : null;
  ageTile.value.textContent = seconds === null ? "no data yet" : fmt.age(seconds);
  ageTile.value.dataset.ts = now.ts || "";
  ageTile.detail.textContent = now.ts ? new Date(now.ts).toLocaleString(undefined, { timeZone: zone }) : "\u00a0";
  const stale = staleDevices(now, seconds, staleAfterS, members);
  if (members) {
    const fresh = members.total - stale.length;
    ageTile.detail.textContent += ` · ${fresh} of ${members.total} devices up to date`;
  }
  warning.hidden = stale.length === 0;
  warning.textContent = stale.length ? `Stale: ${stale.join(", ")}` : "";
  ageTile.root.classList.toggle("stale", stale.length > 0);
}

function staleDevices(now, seconds, staleAfterS, members) {
  const limit = `no new data for over ${fmt.age(staleAfterS).replace(" ago", "")}`;
  if (!members) {
    if (seconds === null) return ["no data from this device yet"];
    return seconds > staleAfterS ? [limit] : [];
  }
  return members.devices
    .filter((d) => !d.ts || (Date.now() - Date.parse(d.ts)) / 1000 > staleAfterS)
    .map((d) => `${d.device_id}: ${d.ts ? limit : "no data yet"}`);
}

// What the tiles show for a /v1/realtime answer of a device or a site.
export function tileValues(answer) {
  if (!answer.site_id) return { now: answer, members: null };
  const devices = answer.devices;
  return {
    now: answer.total,
    members: { devices, total: devices.length },
  };
}

export function clearTiles(staleAfterS) {
  renderTiles({ ts: null }, staleAfterS, null, "UTC");
}
