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
  document.querySelector('#who').after(sel);
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
