// A day's power curve (5-minute buckets) with uPlot, on a time axis in the site's zone.
import * as fmt from "./format.js";
import { colors } from "./theme.js";

const STEP_S = 300;
const LINES = [
  { key: "avg_pv_power_w", label: "Solar", color: "pv", fill: true },
  { key: "avg_load_power_w", label: "House", color: "load" },
  { key: "avg_battery_power_w", label: "Battery (+ charging)", color: "battery" },
  { key: "avg_export_power_w", label: "Grid (+ export)", color: "grid" },
];

let plot = null;

// uPlot's columns: bucket starts in seconds, one array per line. A missing bucket
// becomes a null point, so a gap in the data is a gap in the line.
function columns(buckets) {
  const xs = [];
  const ys = LINES.map(() => []);
  let previous = null;
  for (const bucket of buckets) {
    const x = Date.parse(bucket.bucket) / 1000;
    if (previous !== null && x - previous > STEP_S) {
      xs.push(previous + STEP_S);
      ys.forEach((y) => y.push(null));
    }
    xs.push(x);
    LINES.forEach((line, i) => ys[i].push(bucket[line.key]));
    previous = x;
  }
  return [xs, ...ys];
}

// An axis label: short, signed (the battery and the grid go both ways).
function tick(watts) {
  const sign = watts < 0 ? "\u2212" : "";
  const magnitude = Math.abs(watts);
  return magnitude < 1000 ? `${sign}${magnitude} W` : `${sign}${+(magnitude / 1000).toFixed(1)} kW`;
}

export function renderCurve(element, answer, zone) {
  if (plot) plot.destroy();
  plot = null;
  element.replaceChildren();
  element.dataset.points = "0";
  if (!answer.series.length) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "No data for this day.";
    element.append(empty);
    return;
  }
  const c = colors();
  const start = Date.parse(answer.from) / 1000;
  const end = Date.parse(answer.to) / 1000;
  const axis = { stroke: c.muted, grid: { stroke: c.line, width: 1 }, ticks: { stroke: c.line } };
  plot = new uPlot(
    {
      width: element.clientWidth,
      height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
      scales: { x: { time: true, range: () => [start, end] } },
      series: [
        { label: "Time" },
        ...LINES.map((line) => ({
          label: line.label,
          stroke: c[line.color],
          width: 1.5,
          fill: line.fill ? `${c[line.color]}33` : undefined,
          value: (u, v) => (v == null ? "–" : fmt.signedPower(v)),
        })),
      ],
      axes: [axis, { ...axis, size: 58, values: (u, vals) => vals.map(tick) }],
    },
    columns(answer.series),
    element,
  );
  element.dataset.points = String(plot.data[1].filter((v) => v !== null).length);
}

export function resizeCurve(element) {
  if (plot) plot.setSize({ width: element.clientWidth, height: 260 });
}
