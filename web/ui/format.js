// Payload formatting, numeric series and line diffs.

// decode returns the bytes of a history entry's payload.
export function entryBytes(e) {
  if (e.encoding === 'base64') {
    const s = atob(e.payload);
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    return b;
  }
  return new TextEncoder().encode(e.payload);
}

// pretty returns how to show a payload: {kind: 'json'|'text'|'hex', text}.
export function pretty(e) {
  if (e.encoding === 'base64') return { kind: 'hex', text: hexDump(entryBytes(e)) };
  const t = e.payload;
  const s = t.trim();
  if ((s.startsWith('{') || s.startsWith('[')) && !e.truncated) {
    try { return { kind: 'json', text: JSON.stringify(JSON.parse(s), null, 2) }; } catch { /* not JSON */ }
  }
  return { kind: 'text', text: t };
}

export function hexDump(b) {
  const lines = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    const asc = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    lines.push(`${off.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${asc}`);
  }
  return lines.join('\n') || '(empty)';
}

// numbers returns the numeric values in a text payload by field: "value"
// for a plain number, dotted paths for numeric JSON fields.
export function numbers(e) {
  if (e.encoding !== 'utf8' || e.truncated) return {};
  const s = e.payload.trim();
  if (s !== '' && isFinite(Number(s))) return { value: Number(s) };
  if (s === 'true' || s === 'false') return { value: s === 'true' ? 1 : 0 };
  if (!(s.startsWith('{') || s.startsWith('['))) return {};
  let v;
  try { v = JSON.parse(s); } catch { return {}; }
  const out = {};
  const walk = (x, path, depth) => {
    if (Object.keys(out).length >= 16 || depth > 4) return;
    if (typeof x === 'number' && isFinite(x)) out[path || 'value'] = x;
    else if (typeof x === 'boolean') out[path || 'value'] = x ? 1 : 0;
    else if (x && typeof x === 'object') {
      for (const [k, y] of Object.entries(x)) walk(y, path ? `${path}.${k}` : k, depth + 1);
    }
  };
  walk(v, '', 0);
  return out;
}

// series returns {field: [[ms, value], ...]} over a topic's history.
export function series(history) {
  const out = {};
  for (const e of history) {
    for (const [k, v] of Object.entries(numbers(e))) (out[k] ||= []).push([e.at, v]);
  }
  return out;
}

// lineDiff compares two texts line by line: [{op: ' '|'+'|'-', line}].
export function lineDiff(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length * y.length > 250000) {
    return [...x.map((line) => ({ op: '-', line })), ...y.map((line) => ({ op: '+', line }))];
  }
  const n = x.length;
  const m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: ' ', line: x[i] }); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: '-', line: x[i++] });
    else out.push({ op: '+', line: y[j++] });
  }
  while (i < n) out.push({ op: '-', line: x[i++] });
  while (j < m) out.push({ op: '+', line: y[j++] });
  return out;
}

const pad2 = (n) => String(n).padStart(2, '0');

// time formats a moment as ISO 8601 does, in the browser's time zone:
// 2026-12-06 09:04:42.313 +01:00.
export function time(ms) {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${pad2(Math.floor(Math.abs(off) / 60))}:${pad2(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')} ${zone}`;
}

export function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
