// The Cluster page: this node's view of its cluster (GET /api/v1/cluster,
// administrators only): its raft state, the leader, every member with its
// state and whether it votes, and the forwarding streams to the others,
// refreshed every two seconds. A broker without cluster options says so.

export function initCluster({ getOr, h, $ }) {
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
      return h('tr', { 'data-node': m.id },
        h('td', { class: 'mono' }, m.id + (m.id === s.node_id ? ' (this node)' : '')),
        h('td', { class: m.state === 'alive' ? 'state-on' : 'state-off' }, m.state),
        h('td', {}, m.leader ? 'leader' : ''),
        h('td', {}, m.voter ? 'yes' : 'no'),
        h('td', { class: 'mono' }, m.address || ''),
        h('td', { class: 'mono' }, m.gossip || ''),
        h('td', { class: 'num' }, p ? p.queued : ''),
        h('td', { class: 'num' }, p ? p.sent : ''),
        h('td', { class: 'num' }, p ? p.dropped : ''));
    }));
    const alive = (s.members || []).filter((m) => m.state === 'alive').length;
    const leader = s.leader ? `leader ${s.leader}` : 'no leader known';
    $('#cluster-summary').textContent = `Cluster ${s.cluster}: node ${s.node_id} (${s.state}), ${leader}; ` +
      `${alive} of ${(s.members || []).length} members alive; raft term ${s.term}, ` +
      `commit index ${s.commit_index}, applied index ${s.applied_index}.`;
  }
  return { load };
}
