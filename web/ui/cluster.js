// The Cluster page: this node's view of its cluster (GET /api/v1/cluster,
// administrators only): its raft state, the leader, every member with its
// state and whether it votes, and the forwarding streams to the others,
// refreshed every two seconds. A broker without cluster options says so.
// Selecting a node lists the client ids it owns
// (GET /api/v1/cluster/clients?node=ID).

export function initCluster({ getOr, h, $ }) {
  let selected = '';
  async function loadClients() {
    if (!selected) { $('#cluster-clients').hidden = true; return; }
    const r = await getOr('/api/v1/cluster/clients?node=' + encodeURIComponent(selected), '#cluster-summary');
    if (!r) return;
    const more = r.total > r.clients.length ? ` (the first ${r.clients.length})` : '';
    $('#cluster-clients-title').textContent = `Clients of ${r.node}: ${r.total}${more}`;
    $('#cluster-clients-list').replaceChildren(...r.clients.map((id) => h('li', {}, id)));
    $('#cluster-clients').hidden = false;
  }
  async function load() {
    const r = await getOr('/api/v1/cluster', '#cluster-summary');
    if (!r) return;
    if (!r.enabled) {
      $('#cluster-summary').textContent = 'This broker is not a cluster node (the cluster_* options of the configuration file).';
      $('#cluster-members tbody').replaceChildren();
      return;
    }
    const s = r.status;
    const peers = new Map((s.peers || []).map((p) => [p.id, p]));
    $('#cluster-members tbody').replaceChildren(...(s.members || []).map((m) => {
      const p = peers.get(m.id);
      const row = h('tr', { 'data-node': m.id, class: m.id === selected ? 'selected' : '' },
        h('td', { class: 'mono' }, m.id + (m.id === s.node_id ? ' (this node)' : '')),
        h('td', { class: m.state === 'alive' ? 'state-on' : 'state-off' }, m.state),
        h('td', {}, m.leader ? 'leader' : ''),
        h('td', {}, m.voter ? 'yes' : 'no'),
        h('td', { class: 'num' }, m.clients || 0),
        h('td', { class: 'mono' }, m.address || ''),
        h('td', { class: 'mono' }, m.gossip || ''),
        h('td', { class: 'num' }, p ? p.queued : ''),
        h('td', { class: 'num' }, p ? p.sent : ''),
        h('td', { class: 'num' }, p ? p.dropped : ''));
      row.addEventListener('click', () => { selected = m.id; load(); });
      return row;
    }));
    loadClients();
    const alive = (s.members || []).filter((m) => m.state === 'alive').length;
    const leader = s.leader ? `leader ${s.leader}` : 'no leader known';
    $('#cluster-summary').textContent = `Cluster ${s.cluster}: node ${s.node_id} (${s.state}), ${leader}; ` +
      `${alive} of ${(s.members || []).length} members alive; raft term ${s.term}, ` +
      `commit index ${s.commit_index}, applied index ${s.applied_index}.`;
  }
  return { load };
}
