// A small SVG line chart: time on x, one or more series on y.

const NS = 'http://www.w3.org/2000/svg';
export const COLORS = ['#2f6fdd', '#d9822b', '#1d8a4f', '#b63fb8', '#c8372d', '#0f8a9d', '#7a6a00', '#555f6d'];

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// ticks returns round values for an axis over [lo, hi]: steps of 1, 2 or 5
// times a power of ten, and whole numbers only if integer (counts).
export function ticks(lo, hi, { count = 4, integer = false } = {}) {
  if (!(hi > lo)) {
    const d = integer ? 1 : Math.abs(lo) * 0.1 || 1;
    lo -= d; hi += d;
    if (lo < 0 && hi - d >= 0) lo = 0;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw) || 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  const out = [];
  for (let v = first; v <= last + step / 2; v += step) out.push(Number(v.toFixed(12)));
  return { ticks: out, step, lo: first, hi: last };
}

// lineChart returns an SVG element drawing series [{name, color, points:
// [[ms, value], ...]}] on one y axis: give it series of one quantity only.
// format(v, step) formats y values; integer keeps the axis on whole numbers
// (counts).
export function lineChart(series, { width = 640, height = 200, format = shortNumber, title = '', integer = false } = {}) {
  const pad = { l: 66, r: 12, t: title ? 22 : 10, b: 22 };
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title || 'chart' });
  if (title) {
    const t = el('text', { x: pad.l, y: 14, class: 'axis-label' }, svg);
    t.textContent = title;
  }
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) {
    const t = el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'axis-label' }, svg);
    t.textContent = 'no data yet';
    return svg;
  }
  let x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  if (x1 === x0) { x0 -= 1000; x1 += 1000; }
  const vmin = Math.min(...pts.map((p) => p[1]));
  const vmax = Math.max(...pts.map((p) => p[1]));
  const axis = ticks(vmin, vmax, { integer: integer || pts.every((p) => Number.isInteger(p[1])) });
  const y0 = axis.lo;
  const y1 = axis.hi;
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const X = (t) => pad.l + ((t - x0) / (x1 - x0)) * w;
  const Y = (v) => pad.t + h - ((v - y0) / (y1 - y0)) * h;
  for (const v of axis.ticks) {
    el('line', { x1: pad.l, x2: width - pad.r, y1: Y(v), y2: Y(v), class: 'grid-line' }, svg);
    const t = el('text', { x: pad.l - 6, y: Y(v) + 3, 'text-anchor': 'end', class: 'axis-label y-label' }, svg);
    t.textContent = format(v, axis.step);
  }
  for (const [i, anchor] of [[0, 'start'], [0.5, 'middle'], [1, 'end']]) {
    const t = el('text', { x: pad.l + w * i, y: height - 6, 'text-anchor': anchor, class: 'axis-label' }, svg);
    t.textContent = clock(x0 + (x1 - x0) * i, x1 - x0 < 10000);
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('');
    el('path', { d, class: 'series', stroke: s.color }, svg);
    if (s.points.length <= 60) {
      for (const p of s.points) el('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: s.color }, svg);
    }
  }
  return svg;
}

const pad2 = (n) => String(n).padStart(2, '0');

// clock formats a time of day in local time, 24-hour as ISO 8601 writes it
// (09:04:42); fine adds milliseconds, for short spans.
export function clock(ms, fine = false) {
  const d = new Date(ms);
  const t = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return fine ? `${t}.${String(d.getMilliseconds()).padStart(3, '0')}` : t;
}

// shortNumber formats an axis value: with as many decimals as the axis'
// step needs (2.5, not 2.500), thousands as k, M and G.
export function shortNumber(v, step = 0) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (step > 0) return v.toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))));
  if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
  return v.toPrecision(3);
}

export function bytes(v) {
  const a = Math.abs(v);
  if (a >= 1 << 30) return `${(v / (1 << 30)).toFixed(1)} GiB`;
  if (a >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
  if (a >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(v)} B`;
}
