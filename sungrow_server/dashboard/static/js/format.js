// Numbers and dates as the page shows them, and calendar arithmetic in the site's zone.

export function power(watts) {
  const magnitude = Math.abs(watts);
  return magnitude < 1000 ? `${Math.round(magnitude)} W` : `${(magnitude / 1000).toFixed(2)} kW`;
}

export function signedPower(watts) {
  return (watts < 0 ? "\u2212" : "") + power(watts);
}

export function kwh(value) {
  return `${value.toFixed(2)} kWh`;
}

export function percent(value) {
  return `${Math.round(value)} %`;
}

export function age(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// A local calendar day is "YYYY-MM-DD"; arithmetic on it is done in UTC, where every
// day has 24 hours, so it never depends on the browser's own zone.
export function today(zone) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date());
}

function parse(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d || 1));
}

function iso(date) {
  return date.toISOString().slice(0, 10);
}

export function addDays(day, n) {
  const date = parse(day);
  date.setUTCDate(date.getUTCDate() + n);
  return iso(date);
}

export function addMonths(day, n) {
  const date = parse(day.slice(0, 7) + "-01");
  date.setUTCMonth(date.getUTCMonth() + n);
  return iso(date);
}

export function daysInMonth(month) {
  return Number(addDays(addMonths(month, 1), -1).slice(8));
}

export function dayTitle(day) {
  return parse(day).toLocaleDateString(undefined, {
    timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric",
  });
}

export function monthTitle(month) {
  return parse(month).toLocaleDateString(undefined, { timeZone: "UTC", month: "long", year: "numeric" });
}

export function monthShort(month) {
  return parse(month).toLocaleDateString(undefined, { timeZone: "UTC", month: "short" });
}

// The local calendar date ("YYYY-MM-DD") of a UTC timestamp in `zone`.
export function localDate(timestamp, zone) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date(timestamp));
}
