// A small SVG line chart: time on x, one or more series on y.

const NS = 'http://www.w3.org/2000/svg';
export const COLORS = ['#2f6fdd', '#d9822b', '#1d8a4f', '#b63fb8', '#c8372d', '#0f8a9d', '#7a6a00', '#555f6d'];

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// lineChart returns an SVG element drawing series [{name, color, points:
// [[ms, value], ...]}]. format formats y values.
export function lineChart(series, { width = 640, height = 200, format = shortNumber, title = '' } = {}) {
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
  let y0 = Math.min(...pts.map((p) => p[1]));
  let y1 = Math.max(...pts.map((p) => p[1]));
  if (x1 === x0) { x0 -= 1000; x1 += 1000; }
  if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
  const span = y1 - y0;
  y0 -= span * 0.05; y1 += span * 0.05;
  if (y0 < 0 && Math.min(...pts.map((p) => p[1])) >= 0) y0 = 0;
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const X = (t) => pad.l + ((t - x0) / (x1 - x0)) * w;
  const Y = (v) => pad.t + h - ((v - y0) / (y1 - y0)) * h;
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    el('line', { x1: pad.l, x2: width - pad.r, y1: Y(v), y2: Y(v), class: 'grid-line' }, svg);
    const t = el('text', { x: pad.l - 6, y: Y(v) + 3, 'text-anchor': 'end', class: 'axis-label' }, svg);
    t.textContent = format(v);
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

// clock formats a time of day; fine adds milliseconds, for short spans.
export function clock(ms, fine = false) {
  const d = new Date(ms);
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return fine ? `${t}.${String(d.getMilliseconds()).padStart(3, '0')}` : t;
}

export function shortNumber(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
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
