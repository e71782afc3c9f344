// Per-minute charts as inline SVG (no chart library): bars for counts, a line for rates and
// latencies. Each chart is a figure with a caption and a text alternative.

import { h, num } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 560;
const HEIGHT = 180;
const PAD = { top: 12, right: 12, bottom: 28, left: 56 };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A "nice" upper bound of the y axis. */
function ceiling(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= max) return m * step;
  return 10 * step;
}

function frame(points, format, top) {
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + innerH - (innerH * v) / top;
  const axis = s("g", { class: "axis" });
  for (const v of [0, top / 2, top]) {
    axis.append(
      s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)),
    );
  }
  const labelEvery = Math.max(1, Math.ceil(points.length / 6));
  const step = innerW / Math.max(points.length, 1);
  points.forEach((p, i) => {
    if (i % labelEvery === 0) {
      axis.append(
        s("text", { x: PAD.left + step * (i + 0.5), y: HEIGHT - 8, "text-anchor": "middle" }, p.label),
      );
    }
  });
  return { axis, y, step, innerH };
}

/**
 * A chart of `points` ([{label, value}], value null when there is none): `kind` "bar" or
 * "line"; `format` formats values; `max` fixes the top of the axis (1 for rates).
 */
export function chart({ title, points, kind = "bar", format = num, max = null, id }) {
  const values = points.map((p) => p.value).filter((v) => v !== null && v !== undefined);
  const top = max ?? ceiling(Math.max(0, ...values));
  const { axis, y, step } = frame(points, format, top);
  const svg = s("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: `chart chart-${kind}`,
    role: "img",
    "aria-label": `${title}: ${points.map((p) => `${p.label} ${p.value === null ? "none" : format(p.value)}`).join(", ")}`,
  });
  svg.append(axis);
  if (kind === "bar") {
    points.forEach((p, i) => {
      if (p.value === null || p.value === undefined) return;
      const x = PAD.left + step * i + step * 0.15;
      svg.append(
        s(
          "rect",
          { x, y: y(p.value), width: Math.max(1, step * 0.7), height: y(0) - y(p.value), class: "mark" },
          s("title", {}, `${p.label}: ${format(p.value)}`),
        ),
      );
    });
  } else {
    const coords = points
      .map((p, i) => (p.value === null || p.value === undefined ? null : [PAD.left + step * (i + 0.5), y(p.value), p]))
      .filter(Boolean);
    if (coords.length > 1) {
      svg.append(s("polyline", { points: coords.map(([x, yy]) => `${x},${yy}`).join(" "), class: "line" }));
    }
    for (const [x, yy, p] of coords) {
      svg.append(s("circle", { cx: x, cy: yy, r: 3, class: "mark" }, s("title", {}, `${p.label}: ${format(p.value)}`)));
    }
  }
  return h("figure", { class: "chart-card", id }, h("figcaption", {}, title), svg);
}
