// The Bridges page: each bridge to a remote broker, its state, the address
// in use, its message counters and its last error, from GET
// /api/v1/bridges (administrators only), refreshed every two seconds.

export function initBridges({ getOr, h, $, ago }) {
  async function load() {
    const r = await getOr('/api/v1/bridges', '#bridge-count');
    if (!r) return;
    const list = r.bridges || [];
    $('#bridges tbody').replaceChildren(...list.map((b) => h('tr', { 'data-bridge': b.name },
      h('td', { class: 'mono' }, b.name),
      h('td', { class: b.state === 'connected' ? 'state-on' : 'state-off' }, b.state),
      h('td', { class: 'mono' }, b.address || ''),
      h('td', {}, b.since ? ago(b.since) : ''),
      h('td', { class: 'num' }, b.queued),
      h('td', { class: 'num' }, b.sent),
      h('td', { class: 'num' }, b.received),
      h('td', { class: 'num' }, b.dropped),
      h('td', { class: b.last_error ? 'bad' : 'muted' }, b.last_error || '—'))));
    const up = list.filter((b) => b.state === 'connected').length;
    $('#bridge-count').textContent = list.length
      ? `${up} of ${list.length} bridges connected`
      : 'No bridges are configured (the connection option of the configuration file).';
  }
  return { load };
}
