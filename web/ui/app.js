// midge's dashboard: topics, clients, statistics, the ACL tester, the
// users of dynamic security and the bridges.
import { TopicTree, TreeView } from './tree.js';
import { lineChart, COLORS, bytes, shortNumber } from './chart.js';
import { pretty, series, lineDiff, time, ago } from './format.js';
import { initUsers } from './users.js';
import { initBridges } from './bridges.js';
import { initCluster } from './cluster.js';
import { setupSource, exportLinks } from './explore.js';

const $ = (sel, root = document) => root.querySelector(sel);
const state = { me: null, page: '', selected: null, detail: null, hiddenFields: new Set(), stats: null, events: null };

function h(tag, props = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

class HTTPError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (state.me && state.me.csrf) headers['X-CSRF-Token'] = state.me.csrf;
  }
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  let data = null;
  try { data = await r.json(); } catch { /* empty */ }
  if (!r.ok) {
    if (r.status === 401 && path !== '/api/v1/login') showLogin();
    throw new HTTPError(r.status, (data && data.error) || r.statusText);
  }
  return data;
}

// getOr returns the answer of GET path, or null once it has shown why not in
// the element sel (the status line of the page that asked).
async function getOr(path, sel) {
  try {
    return await api(path);
  } catch (err) {
    $(sel).textContent = err.message;
    return null;
  }
}

// ---- login ----

function showLogin() {
  if (state.events) { state.events.close(); state.events = null; }
  state.me = null;
  for (const p of document.querySelectorAll('.page')) p.hidden = true;
  $('#nav').hidden = true;
  $('#logout').hidden = true;
  $('#who').textContent = '';
  $('#login').hidden = false;
  $('#login-form input[name=username]').focus();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  $('#login-error').textContent = '';
  try {
    const me = await api('/api/v1/login', { method: 'POST', body: { username: f.username.value, password: f.password.value } });
    f.password.value = '';
    start(me);
  } catch (err) {
    $('#login-error').textContent = err.message;
  }
});

$('#logout').addEventListener('click', async () => {
  try { await api('/api/v1/logout', { method: 'POST' }); } catch { /* gone already */ }
  showLogin();
});

// ---- start ----

const view = new TreeView($('#tree'), { onSelect: (n) => selectTopic(n.path) });

async function boot() {
  const me = await api('/api/v1/me');
  if (!me.loggedIn) { showLogin(); return; }
  start(me);
}

async function start(me) {
  state.me = me;
  $('#login').hidden = true;
  $('#nav').hidden = false;
  document.body.classList.toggle('is-admin', me.admin);
  $('#who').textContent = me.auth === 'open' ? 'local access (no logins)' : `${me.user}${me.admin ? ' (admin)' : ''}`;
  $('#logout').hidden = me.auth === 'open';
  $('#publish-box').hidden = false;
  setupSource(me, h);
  await loadTopics();
  connectEvents();
  route();
}

async function loadTopics() {
  const snap = await api('/api/v1/topics');
  const tree = new TopicTree();
  for (const u of snap.u) tree.apply(u, 0);
  view.reset(tree);
  treeMeta(snap);
}

// treeMeta sums the tree up. The count is of the topics in this page's
// tree, those the user may read, not of every topic the broker has seen.
function treeMeta(ev) {
  const n = view.tree.root.topics;
  const parts = [`${n} topic${n === 1 ? '' : 's'}`];
  if (ev.dropped) parts.push(`${ev.dropped} messages not shown (dashboard queue full)`);
  if (ev.refused) parts.push(`${ev.refused} messages of topics beyond the limit`);
  $('#tree-meta').textContent = parts.join(' · ');
}

function connectEvents() {
  if (state.events) state.events.close();
  const es = new EventSource('/api/v1/events');
  state.events = es;
  es.addEventListener('hello', () => $('#live').classList.add('on'));
  es.addEventListener('topics', (e) => {
    const ev = JSON.parse(e.data);
    view.update(ev.u);
    treeMeta(ev);
    if (state.selected && ev.u.some((u) => u.t === state.selected)) refreshDetailSoon();
  });
  es.addEventListener('stats', (e) => {
    if (!state.stats) return;
    const s = JSON.parse(e.data);
    state.stats.series.push(s);
    if (state.stats.series.length > 900) state.stats.series.shift();
    if (state.page === 'stats') renderStats();
  });
  es.addEventListener('resync', () => loadTopics());
  es.addEventListener('logout', () => showLogin());
  es.onerror = () => {
    $('#live').classList.remove('on');
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(async () => {
        if (state.events !== es) return;
        try { await api('/api/v1/me').then((me) => (me.loggedIn ? (loadTopics(), connectEvents()) : showLogin())); } catch { /* retry later */ }
      }, 3000);
    }
  };
}

// ---- routing ----

function route() {
  if (!state.me) return;
  let page = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'topics';
  if (!state.me.admin && (page === 'clients' || page === 'acl' || page === 'users' || page === 'bridges' || page === 'cluster')) page = 'topics';
  state.page = page;
  for (const p of document.querySelectorAll('.page')) p.hidden = p.id !== `page-${page}`;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  clearInterval(state.poll);
  if (page === 'clients') { loadClients(); state.poll = setInterval(loadClients, 2000); }
  if (page === 'stats') loadStats();
  if (page === 'users') users.load();
  if (page === 'bridges') { bridges.load(); state.poll = setInterval(bridges.load, 2000); }
  if (page === 'cluster') { clusterPage.load(); state.poll = setInterval(clusterPage.load, 2000); }
  if (page === 'topics') view.schedule();
  const m = location.hash.match(/^#\/topics\/(.+)$/);
  if (page === 'topics' && m) {
    const path = decodeURIComponent(m[1]);
    if (path !== state.selected) { view.reveal(path); selectTopic(path, false); }
  }
}
window.addEventListener('hashchange', route);

// ---- topics ----

$('#search').addEventListener('input', (e) => view.setFilter(e.target.value));
$('#show-sys').addEventListener('change', (e) => view.setShowSys(e.target.checked));
$('#collapse').addEventListener('click', () => view.collapseAll());

let detailTimer = 0;
function refreshDetailSoon() {
  if (detailTimer) return;
  detailTimer = setTimeout(() => { detailTimer = 0; if (state.selected) loadDetail(state.selected); }, 300);
}

function selectTopic(path, setHash = true) {
  state.selected = path;
  if (setHash) history.replaceState(null, '', `#/topics/${encodeURIComponent(path)}`);
  if (!path.startsWith('$')) $('#publish-form').topic.value = path;
  loadDetail(path);
}

async function loadDetail(path) {
  let d = null;
  const n = view.tree.get(path);
  if (n && !n.hasValue) { // a branch: nothing was published to it
    state.detail = null;
    renderDetail(path, null);
    return;
  }
  try {
    d = await api(`/api/v1/topic?name=${encodeURIComponent(path)}`);
  } catch (err) {
    if (err.status !== 404) { $('#detail').replaceChildren(h('p', { class: 'error' }, err.message)); return; }
  }
  if (path !== state.selected) return;
  state.detail = d;
  renderDetail(path, d);
}

function renderDetail(path, d) {
  const n = view.tree.get(path);
  const box = h('div', { class: 'card detail' });
  box.append(h('h2', { id: 'detail-topic' }, path));
  const badges = h('div', { class: 'badges' });
  if (n && n.children.size) badges.append(h('span', { class: 'badge' }, `${n.topics} topics below, ${n.total} messages`));
  if (d) {
    badges.append(h('span', { class: 'badge' }, `${d.count} message${d.count === 1 ? '' : 's'} seen`));
    if (d.retained) badges.append(h('span', { class: 'badge ret' }, 'retained'));
  }
  box.append(badges);
  const admin = state.me && state.me.admin && !/^\$SYS(\/|$)/.test(path);
  const actions = h('div', { class: 'actions' });
  if (d && d.history.length) {
    const last = d.history[d.history.length - 1];
    actions.append(h('button', { type: 'button', onclick: () => fillPublish(path, last) }, 'Publish to this topic…'));
    actions.append(exportLinks(state.me, path, h) || '');
  }
  if (admin && d && d.retained) actions.append(h('button', { type: 'button', class: 'danger', onclick: () => deleteRetained(path, false) }, 'Delete retained message'));
  if (admin && n && n.children.size) actions.append(h('button', { type: 'button', class: 'danger', onclick: () => deleteRetained(path, true) }, 'Delete retained messages of this subtree'));
  if (!d) {
    box.append(h('p', { class: 'muted' }, 'No message was published to this topic itself; pick a topic below it.'), actions);
    $('#detail').replaceChildren(box);
    return;
  }
  const hist = d.history;
  const last = hist[hist.length - 1];
  if (last) {
    const pv = pretty(last);
    box.append(h('pre', { class: `value ${pv.kind}`, id: 'detail-value' }, pv.text));
    const meta = h('dl', { class: 'meta' });
    const row = (k, v) => meta.append(h('dt', {}, k), h('dd', {}, v));
    row('received', `${time(last.at)} (${ago(last.at)})`);
    row('publisher', last.publisher || unknownPublisher());
    row('QoS', last.qos);
    row('retain flag', last.retain ? 'yes' : 'no');
    row('size', `${last.size} bytes${last.truncated ? ' (shown cut)' : ''}${pv.kind === 'hex' ? ', binary' : ''}`);
    const p = last.properties;
    if (p) {
      if (p.payloadFormat !== undefined) row('payload format', p.payloadFormat ? 'UTF-8' : 'bytes');
      if (p.contentType) row('content type', p.contentType);
      if (p.responseTopic) row('response topic', p.responseTopic);
      if (p.correlationData) row('correlation data', p.correlationData);
      for (const u of p.userProperties || []) row(`user property`, `${u.key} = ${u.value}`);
    }
    box.append(meta, actions);
  }
  const parts = [box];
  const ser = series(hist);
  const fields = Object.keys(ser);
  if (fields.length) parts.push(chartCard(ser, fields));
  parts.push(historyCard(hist));
  $('#detail').replaceChildren(...parts);
}

// chartCard draws the numeric fields of a topic's history, each on a chart
// of its own: fields are different quantities (a temperature, a humidity, a
// battery level), which one y axis would squash together.
function chartCard(ser, fields) {
  const card = h('div', { class: 'card chart', id: 'history-chart' });
  card.append(h('h3', {}, 'History chart'));
  const legend = h('div', { class: 'legend' });
  const holder = h('div', { class: 'field-charts' });
  const draw = () => {
    const shown = fields.filter((f) => !state.hiddenFields.has(f));
    const one = shown.length === 1;
    holder.replaceChildren(...shown.map((f) => {
      const s = [{ name: f, color: COLORS[fields.indexOf(f) % COLORS.length], points: ser[f] }];
      return h('div', { class: 'field-chart', 'data-field': f },
        lineChart(s, { width: 640, height: one ? 220 : 150, title: fields.length > 1 ? f : '' }));
    }));
  };
  fields.forEach((f, i) => {
    const cb = h('input', { type: 'checkbox' });
    cb.checked = !state.hiddenFields.has(f);
    cb.addEventListener('change', () => { if (cb.checked) state.hiddenFields.delete(f); else state.hiddenFields.add(f); draw(); });
    const sw = h('span', { class: 'sw' });
    sw.style.background = COLORS[i % COLORS.length];
    legend.append(h('label', {}, cb, sw, f));
  });
  card.append(legend, holder);
  draw();
  return card;
}

// unknownPublisher names the publisher of a message that names none: the
// broker itself, or, seen by a client (midge explore), whoever it was.
function unknownPublisher() {
  return state.me.source && state.me.source.kind === 'client' ? '(MQTT does not say)' : '(the broker)';
}

function historyCard(hist) {
  const card = h('div', { class: 'card' });
  card.append(h('h3', {}, `History (last ${hist.length} of up to ${state.me.history})`));
  const list = h('div', { class: 'history', id: 'history' });
  for (let i = hist.length - 1; i >= 0; i--) {
    const e = hist[i];
    const item = h('div', { class: 'item' });
    item.append(h('div', { class: 'head' }, h('span', {}, time(e.at)), h('span', {}, e.publisher || unknownPublisher()),
      h('span', {}, `QoS ${e.qos}${e.retain ? ', retained' : ''}`), h('span', {}, `${e.size} B`)));
    const cur = pretty(e).text;
    const diff = h('div', { class: 'diff' });
    if (i > 0) {
      const prev = pretty(hist[i - 1]).text;
      const ops = lineDiff(prev, cur);
      if (ops.every((o) => o.op === ' ')) diff.append(h('span', { class: 'same' }, `${cur.length > 200 ? `${cur.slice(0, 200)}…` : cur}  (unchanged)`));
      for (const o of ops) {
        if (o.op === ' ' && ops.length > 12) continue; // show changes only for long values
        if (o.op === ' ' && ops.every((x) => x.op === ' ')) continue;
        diff.append(h('span', { class: o.op === '+' ? 'add' : o.op === '-' ? 'del' : 'same' }, `${o.op} ${o.line}`));
      }
    } else {
      diff.append(h('span', { class: 'same' }, cur.length > 400 ? `${cur.slice(0, 400)}…` : cur));
    }
    item.append(diff);
    list.append(item);
  }
  card.append(list);
  return card;
}

async function deleteRetained(path, subtree) {
  const what = subtree ? `every retained message under ${path}/` : `the retained message of ${path}`;
  if (!confirm(`Delete ${what}?`)) return;
  try {
    const r = await api('/api/v1/retained/delete', { method: 'POST', body: { topic: path, subtree } });
    toast(`${r.deleted} retained message${r.deleted === 1 ? '' : 's'} deleted`);
    refreshDetailSoon();
  } catch (err) { toast(err.message, true); }
}

function fillPublish(path, last) {
  const f = $('#publish-form');
  f.topic.value = path;
  if (last && last.encoding === 'utf8') { f.payload.value = last.payload; f.encoding.value = 'utf8'; }
  $('#publish-box').open = true;
  f.payload.focus();
}

function toast(msg, bad = false) {
  const r = $('#publish-result');
  r.textContent = msg;
  r.className = `small ${bad ? 'bad' : 'ok'}`;
}

$('#publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  let payload = f.payload.value;
  let encoding = f.encoding.value;
  if (encoding === 'json') {
    try { payload = JSON.stringify(JSON.parse(payload)); } catch (err) { toast(`not JSON: ${err.message}`, true); return; }
    encoding = 'utf8';
  }
  const props = {};
  if (f.utf8.checked) props.payloadFormat = 1;
  if (f.contentType.value) props.contentType = f.contentType.value;
  if (f.responseTopic.value) props.responseTopic = f.responseTopic.value;
  if (f.correlationData.value) props.correlationData = f.correlationData.value;
  if (Number(f.expiry.value) > 0) props.messageExpiry = Number(f.expiry.value);
  const ups = f.userProps.value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? { key: l, value: '' } : { key: l.slice(0, i).trim(), value: l.slice(i + 1).trim() };
  });
  if (ups.length) props.userProperties = ups;
  const body = { topic: f.topic.value, payload, encoding, qos: Number(f.qos.value), retain: f.retain.checked };
  if (Object.keys(props).length) body.properties = props;
  try {
    await api('/api/v1/publish', { method: 'POST', body });
    toast(`published to ${body.topic}`);
  } catch (err) { toast(err.message, true); }
});

// ---- clients ----

$('#client-filter').addEventListener('input', () => renderClients());
$('#only-connected').addEventListener('change', () => renderClients());
let clientList = [];

async function loadClients() {
  const r = await getOr('/api/v1/clients', '#client-count');
  if (!r) return;
  clientList = r.clients;
  renderClients();
}

function renderClients() {
  const q = $('#client-filter').value.trim().toLowerCase();
  const only = $('#only-connected').checked;
  const rows = clientList.filter((c) => (!only || c.connected) &&
    (!q || c.clientId.toLowerCase().includes(q) || (c.username || '').toLowerCase().includes(q) || (c.address || '').includes(q)));
  const open = new Set([...document.querySelectorAll('#clients details[open]')].map((d) => d.dataset.id));
  $('#clients tbody').replaceChildren(...rows.map((c) => {
    const subs = h('details', { 'data-id': c.clientId }, h('summary', {}, String(c.subscriptions.length)),
      h('ul', { class: 'subs' }, c.subscriptions.map((s) => h('li', {}, `${s.Filter} (QoS ${s.QoS}${s.NoLocal ? ', no local' : ''}${s.RetainAsPublished ? ', RAP' : ''})`))));
    if (open.has(c.clientId)) subs.open = true;
    return h('tr', {},
      h('td', { class: 'mono' }, c.clientId),
      h('td', { class: c.connected ? 'state-on' : 'state-off' }, c.connected ? 'connected' : 'offline'),
      h('td', { class: 'mono' }, c.address || ''),
      h('td', {}, c.protocol),
      h('td', {}, c.username === null ? h('span', { class: 'muted' }, '(none)') : c.username),
      h('td', { class: 'num' }, c.keepAlive ? `${c.keepAlive}s` : '—'),
      h('td', {}, subs),
      h('td', { class: 'num' }, c.queued),
      h('td', { class: 'num' }, c.inflight),
      h('td', { class: 'num' }, c.dropped),
      h('td', {}, c.connectedAt ? ago(c.connectedAt) : ''),
      h('td', {}, c.connected ? h('button', { type: 'button', class: 'danger', onclick: () => disconnect(c.clientId) }, 'Disconnect') : ''));
  }));
  const connected = clientList.filter((c) => c.connected).length;
  $('#client-count').textContent = `${connected} connected, ${clientList.length} sessions`;
}

async function disconnect(id) {
  if (!confirm(`Disconnect ${id}?`)) return;
  try { await api('/api/v1/disconnect', { method: 'POST', body: { clientId: id } }); } catch (err) { alert(err.message); }
  loadClients();
}

// ---- statistics ----

async function loadStats() {
  const r = await getOr('/api/v1/stats', '#stat-cards');
  if (!r) return;
  state.stats = r;
  renderStats();
}

function rate(ser, key) {
  const out = [];
  for (let i = 1; i < ser.length; i++) {
    const dt = (ser[i].at - ser[i - 1].at) / 1000;
    if (dt > 0) out.push([ser[i].at, Math.max(0, (ser[i][key] - ser[i - 1][key]) / dt)]);
  }
  return out;
}

function renderStats() {
  const st = state.stats;
  const ser = st.series;
  const last = ser[ser.length - 1] || {};
  const sys = st.sys;
  const lastRate = (k) => { const r = rate(ser.slice(-2), k); return r.length ? r[0][1] : 0; };
  const cards = [
    ['clients connected', last.connected], ['sessions', last.sessions], ['subscriptions', last.subscriptions],
    ['retained messages', last.retained], ['messages in / s', shortNumber(lastRate('publishIn'))],
    ['messages out / s', shortNumber(lastRate('publishOut'))], ['dropped (queues full)', last.dropped],
    ['heap', bytes(last.heap || 0)], ['uptime', sys['$SYS/broker/uptime']],
    // The topics of this page's tree: those the user may read.
    ['topics you can see', view.tree.root.topics],
  ];
  $('#stat-cards').replaceChildren(...cards.map(([l, n]) => h('div', { class: 'card' }, h('div', { class: 'n' }, n ?? '—'), h('div', { class: 'l' }, l))));
  const pt = (k) => ser.map((s) => [s.at, s[k]]);
  // One quantity a chart (in and out of the same one may share it); counts
  // get whole-number axes.
  const count = true;
  const charts = [
    ['Publish messages per second', [{ name: 'in', color: COLORS[0], points: rate(ser, 'publishIn') }, { name: 'out', color: COLORS[1], points: rate(ser, 'publishOut') }], shortNumber],
    ['Clients connected', [{ name: 'connected', color: COLORS[2], points: pt('connected') }], shortNumber, count],
    ['Bytes per second', [{ name: 'in', color: COLORS[0], points: rate(ser, 'bytesIn') }, { name: 'out', color: COLORS[1], points: rate(ser, 'bytesOut') }], bytes],
    ['Heap in use', [{ name: 'heap', color: COLORS[3], points: pt('heap') }], bytes],
    ['Subscriptions', [{ name: 'subscriptions', color: COLORS[5], points: pt('subscriptions') }], shortNumber, count],
    ['Retained messages', [{ name: 'retained', color: COLORS[6], points: pt('retained') }], shortNumber, count],
    ['Dropped messages (total)', [{ name: 'dropped', color: COLORS[4], points: pt('dropped') }], shortNumber, count],
  ];
  $('#stat-charts').replaceChildren(...charts.map(([title, s, format, integer = false]) => {
    const legend = h('div', { class: 'legend' }, s.map((x) => { const sw = h('span', { class: 'sw' }); sw.style.background = x.color; return h('span', {}, sw, ` ${x.name}`); }));
    return h('div', { class: 'card chart' }, h('h3', {}, title), legend, lineChart(s, { width: 560, height: 180, format, integer }));
  }));
  const keys = Object.keys(sys).sort();
  $('#sys tbody').replaceChildren(...keys.map((k) => h('tr', {}, h('td', {}, k), h('td', {}, sys[k]))));
}

// ---- ACL tester ----

$('#acl-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  const out = $('#acl-result');
  try {
    const d = await api('/api/v1/acl', { method: 'POST', body: {
      username: f.username.value, hasUsername: !f.anonymous.checked, clientId: f.clientId.value,
      topic: f.topic.value, access: f.access.value } });
    out.className = `acl-result ${d.allowed ? 'allowed' : 'denied'}`;
    out.replaceChildren(h('div', { class: 'verdict' }, d.allowed ? 'Allowed' : 'Denied'),
      d.rule ? h('div', {}, 'by ', h('code', {}, d.rule), ` (${d.section})`) : h('div', { class: 'muted' }, 'no rule matched'),
      h('div', { class: 'small' }, d.reason));
  } catch (err) {
    out.className = 'acl-result denied';
    out.replaceChildren(h('div', {}, err.message));
  }
});

// ---- users (dynamic security) ----

const users = initUsers({ api, h, $ });
const bridges = initBridges({ getOr, h, $, ago });
const clusterPage = initCluster({ getOr, h, $ });

boot().catch((err) => { document.body.append(h('p', { class: 'error' }, `cannot reach the broker: ${err.message}`)); });
