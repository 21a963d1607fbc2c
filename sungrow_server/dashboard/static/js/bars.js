// Energy bars: per bucket, what came in (solar, grid import, battery discharge) stacked
// beside where it went (house, grid export, battery charge). Drawn as SVG by this small
// module: uPlot draws lines well, but stacked pairs with a look of their own for an
// incomplete bucket were less code here. Also the totals and a table of the numbers.
import * as fmt from "./format.js";
import { colors, ENERGIES } from "./theme.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 230;
const PAD = { top: 18, right: 6, bottom: 22, left: 40 };

function node(name, attributes, parent) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (parent) parent.append(element);
  return element;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= value);
}

function describe(slot, bucket) {
  const lines = ENERGIES.map((e) => `${e.label}: ${fmt.kwh(bucket[e.key])}`);
  const covered = `covered ${fmt.percent(bucket.coverage * 100)}${bucket.incomplete ? ", incomplete" : ""}`;
  return [slot.label, ...lines, covered].join("\n");
}

const drawn = new WeakMap(); // element -> what it shows, to draw again at a new width

// Draw the bars again when the element's width changed (a rotated phone, a resized window).
export function resizeBars(element) {
  const last = drawn.get(element);
  if (last && last.width !== element.clientWidth) renderBars(element, last.slots, last.buckets);
}

// slots: [{key, label, tick}] in order; buckets: {slot key: bucket}.
export function renderBars(element, slots, buckets) {
  const c = colors();
  drawn.set(element, { slots, buckets, width: element.clientWidth });
  const width = Math.max(element.clientWidth, 280);
  const svg = node("svg", { class: "barchart", viewBox: `0 0 ${width} ${HEIGHT}`, role: "img" });
  const stacks = (bucket, side) =>
    ENERGIES.filter((e) => e.side === side).reduce((sum, e) => sum + bucket[e.key], 0);
  const top = niceMax(Math.max(0, ...Object.values(buckets).flatMap((b) => [stacks(b, "in"), stacks(b, "out")])));
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const y = (kwh) => PAD.top + plotH - (kwh / top) * plotH;
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4;
    node("line", { class: "gridline", x1: PAD.left, x2: width - PAD.right, y1: y(value), y2: y(value) }, svg);
    node("text", { x: PAD.left - 4, y: y(value) + 4, "text-anchor": "end" }, svg).textContent =
      `${+value.toPrecision(3)}`;
  }
  node("text", { x: 2, y: 10 }, svg).textContent = "kWh";
  const slotW = plotW / slots.length;
  const barW = Math.max(1, slotW * 0.4);
  slots.forEach((slot, i) => {
    const x0 = PAD.left + i * slotW + slotW * 0.1;
    if (slot.tick) {
      node("text", { x: x0 + barW, y: HEIGHT - 6, "text-anchor": "middle" }, svg).textContent = slot.tick;
    }
    const bucket = buckets[slot.key];
    if (!bucket) return;
    const group = node("g", { class: bucket.incomplete ? "bucket incomplete" : "bucket", "data-slot": slot.key }, svg);
    node("title", {}, group).textContent = describe(slot, bucket);
    ["in", "out"].forEach((side, column) => {
      let level = 0;
      const x = x0 + column * barW;
      for (const energy of ENERGIES.filter((e) => e.side === side)) {
        const value = bucket[energy.key];
        if (value > 0) {
          node("rect", { x, width: barW, y: y(level + value), height: y(level) - y(level + value), fill: c[energy.color] }, group);
        }
        level += value;
      }
      node("rect", { class: "frame", x, width: barW, y: y(level), height: Math.max(0, y(0) - y(level)) }, group);
    });
  });
  element.replaceChildren(svg, legend(c));
}

function legend(c) {
  const list = document.createElement("ul");
  list.className = "legend";
  for (const energy of ENERGIES) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = c[energy.color];
    item.append(swatch, `${energy.label} (${energy.side === "in" ? "left" : "right"})`);
    list.append(item);
  }
  const note = document.createElement("li");
  note.className = "note";
  note.textContent = "faded, dashed: incomplete (under 95 % covered, or not over yet)";
  list.append(note);
  return list;
}

// Totals of a range, each with its exact value in data-value.
export function renderTotals(element, total, coverage) {
  const rows = ENERGIES.map((energy) => {
    const row = document.createElement("div");
    const dt = document.createElement("dt");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colors()[energy.color];
    dt.append(swatch, energy.label);
    const dd = document.createElement("dd");
    dd.dataset.key = energy.key;
    dd.dataset.value = total ? total[energy.key] : "";
    dd.textContent = total ? fmt.kwh(total[energy.key]) : "–";
    row.append(dt, dd);
    return row;
  });
  if (coverage !== undefined) {
    const row = document.createElement("div");
    row.innerHTML = "<dt>Covered</dt><dd></dd>";
    row.querySelector("dd").dataset.key = "coverage";
    row.querySelector("dd").textContent = coverage === null ? "–" : fmt.percent(coverage * 100);
    rows.push(row);
  }
  element.replaceChildren(...rows);
}

// One row per bucket: its label, every energy, its coverage.
export function renderTable(element, slots, buckets, heading) {
  const head = document.createElement("tr");
  for (const text of [heading, ...ENERGIES.map((e) => e.label), "Covered"]) {
    const th = document.createElement("th");
    th.textContent = text;
    head.append(th);
  }
  const rows = slots.filter((slot) => buckets[slot.key]).map((slot) => {
    const bucket = buckets[slot.key];
    const tr = document.createElement("tr");
    tr.dataset.slot = slot.key;
    if (bucket.incomplete) tr.className = "incomplete";
    const cells = [slot.label, ...ENERGIES.map((e) => fmt.kwh(bucket[e.key]).replace(" kWh", "")), fmt.percent(bucket.coverage * 100)];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i > 0 && i <= ENERGIES.length) {
        td.dataset.key = ENERGIES[i - 1].key;
        td.dataset.value = bucket[ENERGIES[i - 1].key];
      }
      tr.append(td);
    });
    return tr;
  });
  element.replaceChildren(head, ...rows);
}
