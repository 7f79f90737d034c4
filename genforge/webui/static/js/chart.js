// Line charts of a training history, drawn as inline SVG (no charting library).

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#f08c00", "#495057"];
const SKIP = new Set(["epoch", "step", "seconds", "time", "images_per_sec"]);

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceTicks(lo, hi, count = 5) {
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || raw;
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function label(v) {
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** One chart: ``series`` is [{name, points: [[x, y], ...]}]. Returns a <div class="chart">. */
export function lineChart(title, series, { width = 420, height = 220, xLabel = "epoch" } = {}) {
  const pad = { left: 52, right: 12, top: 10, bottom: 30 };
  const all = series.flatMap((se) => se.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xTicks = niceTicks(Math.min(...xs), Math.max(Math.max(...xs), Math.min(...xs) + 1), 6);
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 4);
  const [x0, x1, y0, y1] = [xTicks[0], xTicks[xTicks.length - 1], yTicks[0], yTicks[yTicks.length - 1]];
  const px = (x) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const py = (y) => height - pad.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  for (const t of yTicks) {
    svg.append(s("line", { x1: pad.left, x2: width - pad.right, y1: py(t), y2: py(t), stroke: "#eceff3" }));
    svg.append(s("text", { x: pad.left - 6, y: py(t) + 4, "text-anchor": "end", "font-size": 10, fill: "#6b7280" }, label(t)));
  }
  for (const t of xTicks) {
    if (!Number.isInteger(t) && xLabel === "epoch") continue;
    svg.append(s("line", { x1: px(t), x2: px(t), y1: height - pad.bottom, y2: height - pad.bottom + 4, stroke: "#9aa3b5" }));
    svg.append(s("text", { x: px(t), y: height - pad.bottom + 15, "text-anchor": "middle", "font-size": 10, fill: "#6b7280" }, label(t)));
  }
  svg.append(s("line", { x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom, stroke: "#9aa3b5" }));
  svg.append(s("text", { x: (pad.left + width - pad.right) / 2, y: height - 3, "text-anchor": "middle", "font-size": 10, fill: "#6b7280" }, xLabel));
  series.forEach((se, i) => {
    const color = COLORS[i % COLORS.length];
    const d = se.points.map((p, j) => `${j ? "L" : "M"}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join("");
    svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 2, "data-series": se.name }));
    if (se.points.length < 30) {
      for (const p of se.points) {
        const dot = s("circle", { cx: px(p[0]), cy: py(p[1]), r: 2.5, fill: color });
        dot.append(s("title", {}, `${se.name} @ ${xLabel} ${p[0]}: ${label(p[1])}`));
        svg.append(dot);
      }
    }
  });
  const legend = h("div.legend", series.map((se, i) => h("span", h("i", { style: `background:${COLORS[i % COLORS.length]}` }), se.name)));
  return h("div.chart", { "data-chart": title }, h("div.title", title), legend, svg);
}

/** The panel a history column belongs on. */
function groupOf(column, algo) {
  if (column === "guard_rollbacks") return "Divergence guard: rollbacks so far";
  if (/acc/.test(column)) return "Accuracy";
  if (/d_real|d_fake/.test(column)) return "Discriminator D(x): real and fake";
  if (/weight$|(^|_)lr$/.test(column)) return "Schedule";
  if (algo === "gan") return "Losses: generator (G) and discriminator (D)";
  if (algo === "vae") return "ELBO terms (per image)";
  if (algo === "diffusion") return "Denoising loss (mean squared error per pixel)";
  return "Loss";
}

/** Every numeric history column plotted against the epoch, grouped into charts by what they measure
 *  (G and D losses for GANs, ELBO terms for VAEs, loss and accuracy for classifiers). */
export function historyCharts(history, algo) {
  const rows = (history || []).filter((r) => r && typeof r.epoch === "number");
  if (!rows.length) return h("p.empty", "No history yet: the curves appear after the first epoch.");
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter(
    (c) => !SKIP.has(c) && rows.some((r) => typeof r[c] === "number" && Number.isFinite(r[c])));
  const groups = new Map();
  for (const column of columns) {
    const name = groupOf(column, algo);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push({ name: column,
      points: rows.filter((r) => typeof r[column] === "number" && Number.isFinite(r[column])).map((r) => [r.epoch, r[column]]) });
  }
  return h("div.charts", [...groups].map(([name, series]) => lineChart(name, series)));
}
