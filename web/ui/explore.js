// The parts of the dashboard that belong to its data source: the broker's
// own dashboard shows everything; midge explore's (a client of some broker)
// has no clients or ACL pages, names the broker it is connected to, lets the
// user switch between saved connections and exports a topic's stored history.

const isClient = (me) => !!(me && me.source && me.source.kind === 'client');

// setupSource adapts the page to me.source once logged in.
export function setupSource(me, h) {
  document.body.classList.toggle('source-client', isClient(me));
  if (!isClient(me)) return;
  for (const a of document.querySelectorAll('#nav a[data-page=clients], #nav a[data-page=acl]')) a.hidden = true;
  const who = document.querySelector('#who');
  who.textContent = `explore: ${me.source.server}${me.source.connected ? '' : ' (reconnecting)'}`;
  who.title = 'midge explore is a client of this broker';
  document.title = `midge explore: ${me.source.connection || me.source.server}`;
  connectionPicker(me, h);
}

// exploreAPI calls midge explore's own API.
async function exploreAPI(path, body) {
  const init = { headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.headers['X-Midge-Explore'] = '1';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}

// connectionPicker puts the saved connections in the header: choosing one
// reconnects midge explore and reloads the page.
async function connectionPicker(me, h) {
  let list;
  try { list = await exploreAPI('/api/v1/explore/connections'); } catch { return; }
  const old = document.querySelector('#connection');
  if (old) old.remove();
  const sel = h('select', { id: 'connection', 'aria-label': 'Connection', title: 'Saved connections' });
  if (!list.current) sel.append(h('option', { value: '' }, `${list.server} (command line)`));
  for (const c of list.connections) {
    sel.append(h('option', { value: c.name, disabled: c.error ? true : undefined, title: c.error || c.server },
      `${c.name}${c.server ? ` — ${c.server}` : ''}`));
  }
  sel.value = list.current || '';
  sel.addEventListener('change', async () => {
    if (!sel.value) return;
    sel.disabled = true;
    try {
      await exploreAPI('/api/v1/explore/connect', { name: sel.value });
      location.reload();
    } catch (err) {
      sel.disabled = false;
      sel.value = list.current || '';
      alert(`Cannot connect: ${err.message}`);
    }
  });
  const add = h('button', { type: 'button', id: 'add-connection', title: 'Save a connection (the options of midge sub)' }, '+');
  add.addEventListener('click', () => addConnection());
  const oldAdd = document.querySelector('#add-connection');
  if (oldAdd) oldAdd.remove();
  document.querySelector('#who').after(sel, add);
}

// splitArgs splits a command line as a shell would for simple cases:
// words separated by spaces, '...' and "..." quoting.
export function splitArgs(line) {
  const out = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m;
  while ((m = re.exec(line)) !== null) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3]);
  return out;
}

// addConnection asks for a name and midge sub's connection options, saves
// them (in explore's 0600 file) and switches to them.
async function addConnection() {
  const name = prompt('Name of the new connection:');
  if (!name) return;
  const line = prompt('Connection options, as for midge sub (e.g. -h pi.local -p 8883 --cafile /path/ca.crt -u alice -P secret):');
  if (line === null) return;
  try {
    await exploreAPI('/api/v1/explore/connections', { name, args: splitArgs(line) });
    await exploreAPI('/api/v1/explore/connect', { name });
    location.reload();
  } catch (err) {
    alert(`Cannot use this connection: ${err.message}`);
  }
}

// exportLinks returns the links that download a topic's stored history, or
// null when the source keeps none.
export function exportLinks(me, path, h) {
  if (!isClient(me) || !me.source.export) return null;
  const q = (f) => `/api/v1/explore/export?topic=${encodeURIComponent(path)}&format=${f}`;
  return h('span', { class: 'export small' }, 'Export history: ',
    h('a', { href: q('csv'), download: '', id: 'export-csv' }, 'CSV'), ' · ',
    h('a', { href: q('json'), download: '', id: 'export-json' }, 'JSON'));
}
