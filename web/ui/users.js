// The Users page: dynamic security's clients, groups and roles, their ACLs
// and the default access. Every change is a command of dynamic security's
// API (POST /api/v1/dynsec), the same the broker takes on
// $CONTROL/dynamic-security/v1, so it is logged with who made it.

const ACL_TYPES = ['publishClientSend', 'publishClientReceive', 'subscribeLiteral', 'subscribePattern', 'unsubscribeLiteral', 'unsubscribePattern'];
const DEFAULTS = ['publishClientSend', 'publishClientReceive', 'subscribe', 'unsubscribe'];

export function initUsers({ api, h, $ }) {
  const status = () => $('#users-status');
  const toast = (msg, bad = false) => {
    const m = $('#users-msg');
    m.textContent = msg;
    m.className = `small ${bad ? 'bad' : 'ok'}`;
  };

  // run sends commands; it throws with the errors of those that failed.
  async function run(...commands) {
    const r = await api('/api/v1/dynsec', { method: 'POST', body: { commands } });
    const errs = r.responses.filter((x) => x.error).map((x) => `${x.command}: ${x.error}`);
    if (errs.length) throw new Error(errs.join('; '));
    return r.responses;
  }

  // act runs commands, says what happened and reloads the page.
  async function act(what, ...commands) {
    try {
      await run(...commands);
      toast(what);
    } catch (err) { toast(err.message, true); }
    await load();
  }

  const prio = (p) => (p === undefined ? '' : ` (${p})`);
  const btn = (label, onclick, cls = '') => h('button', { type: 'button', class: cls, onclick }, label);

  function renderClients(clients) {
    $('#ds-clients tbody').replaceChildren(...clients.map((c) => h('tr', { 'data-user': c.username },
      h('td', { class: 'mono' }, c.username),
      h('td', { class: 'mono' }, c.clientid || ''),
      h('td', {}, c.textname || ''),
      h('td', {}, c.roles.map((r) => h('span', { class: 'chip' }, r.rolename + prio(r.priority),
        btn('×', () => act(`role ${r.rolename} removed from ${c.username}`, { command: 'removeClientRole', username: c.username, rolename: r.rolename }), 'chip-x')))),
      h('td', {}, c.groups.map((g) => g.groupname + prio(g.priority)).join(', ')),
      h('td', { class: c.disabled ? 'state-off' : 'state-on' }, c.disabled ? 'disabled' : 'enabled'),
      h('td', {},
        c.disabled ? btn('Enable', () => act(`${c.username} enabled`, { command: 'enableClient', username: c.username }))
          : btn('Disable', () => act(`${c.username} disabled`, { command: 'disableClient', username: c.username })),
        btn('Password', () => {
          const pw = prompt(`New password for ${c.username}`);
          if (pw) act(`password of ${c.username} set`, { command: 'setClientPassword', username: c.username, password: pw });
        }),
        btn('Delete', () => confirm(`Delete client ${c.username}?`) && act(`${c.username} deleted`, { command: 'deleteClient', username: c.username }), 'danger')))));
  }

  function renderRoles(roles) {
    $('#ds-roles').replaceChildren(...roles.map((r) => h('div', { class: 'role', 'data-role': r.rolename },
      h('div', { class: 'role-head' }, h('strong', {}, r.rolename), r.textname ? h('span', { class: 'muted' }, ` ${r.textname}`) : '',
        h('label', { class: 'check small' }, h('input', { type: 'checkbox', checked: r.allowwildcardsubs, onchange: (e) =>
          act(`wildcard subscriptions ${e.target.checked ? 'allowed' : 'refused'} for ${r.rolename}`,
            { command: 'modifyRole', rolename: r.rolename, allowwildcardsubs: e.target.checked }) }), ' wildcard subscriptions'),
        btn('Delete', () => confirm(`Delete role ${r.rolename}?`) && act(`role ${r.rolename} deleted`, { command: 'deleteRole', rolename: r.rolename }), 'danger')),
      h('ul', { class: 'acls' }, r.acls.map((a) => h('li', { class: a.allow ? 'allow' : 'deny' },
        h('code', {}, `${a.acltype} ${a.allow ? 'allow' : 'deny'} ${a.topic}`), ` priority ${a.priority} `,
        btn('×', () => act(`ACL removed from ${r.rolename}`, { command: 'removeRoleACL', rolename: r.rolename, acltype: a.acltype, topic: a.topic }), 'chip-x')))))));
  }

  function renderGroups(groups, anon) {
    $('#ds-groups').replaceChildren(...groups.map((g) => h('div', { class: 'role' },
      h('div', { class: 'role-head' }, h('strong', {}, g.groupname), g.groupname === anon ? h('span', { class: 'muted' }, ' (anonymous group)') : '',
        g.groupname === anon ? '' : btn('Make anonymous', () => act(`${g.groupname} is the anonymous group`, { command: 'setAnonymousGroup', groupname: g.groupname })),
        btn('Delete', () => confirm(`Delete group ${g.groupname}?`) && act(`group ${g.groupname} deleted`, { command: 'deleteGroup', groupname: g.groupname }), 'danger')),
      h('div', { class: 'small' }, 'Roles: ', g.roles.map((r) => h('span', { class: 'chip' }, r.rolename + prio(r.priority),
        btn('×', () => act(`role removed from ${g.groupname}`, { command: 'removeGroupRole', groupname: g.groupname, rolename: r.rolename }), 'chip-x')))),
      h('div', { class: 'small' }, 'Clients: ', g.clients.map((c) => h('span', { class: 'chip' }, c.username,
        btn('×', () => act(`${c.username} removed from ${g.groupname}`, { command: 'removeGroupClient', groupname: g.groupname, username: c.username }), 'chip-x')))))));
  }

  function renderDefaults(acls) {
    const f = $('#ds-defaults');
    for (const a of acls) f.elements[a.acltype].checked = a.allow;
  }

  // fillSelects offers the names that exist in the forms' lists.
  function fillSelects(id, names) {
    $(`#${id}`).replaceChildren(...names.map((n) => h('option', { value: n })));
  }

  async function load() {
    try {
      const [clients, groups, roles, defaults, anon] = await run(
        { command: 'listClients', verbose: true }, { command: 'listGroups', verbose: true }, { command: 'listRoles', verbose: true },
        { command: 'getDefaultACLAccess' }, { command: 'getAnonymousGroup' });
      renderClients(clients.data.clients);
      renderRoles(roles.data.roles);
      renderGroups(groups.data.groups, anon.data.group.groupname);
      renderDefaults(defaults.data.acls);
      fillSelects('ds-user-names', clients.data.clients.map((c) => c.username));
      fillSelects('ds-role-names', roles.data.roles.map((r) => r.rolename));
      fillSelects('ds-group-names', groups.data.groups.map((g) => g.groupname));
      status().textContent = `${clients.data.totalCount} clients, ${groups.data.totalCount} groups, ${roles.data.totalCount} roles`;
    } catch (err) {
      status().textContent = err.status === 404 ? 'Dynamic security is not configured on this broker (plugin mosquitto_dynamic_security.so).' : err.message;
    }
  }

  const form = (id, fn) => $(id).addEventListener('submit', (e) => {
    e.preventDefault();
    fn(e.target, e.submitter ? e.submitter.value : '');
  });
  const num = (v) => (v === '' ? undefined : Number(v));
  form('#ds-new-client', (f) => {
    const c = { command: 'createClient', username: f.username.value };
    if (f.password.value) c.password = f.password.value;
    if (f.clientid.value) c.clientid = f.clientid.value;
    if (f.textname.value) c.textname = f.textname.value;
    act(`client ${c.username} created`, c).then(() => f.reset());
  });
  form('#ds-client-role', (f, how) => act(how === 'remove' ? 'role removed' : 'role added',
    { command: how === 'remove' ? 'removeClientRole' : 'addClientRole', username: f.username.value, rolename: f.rolename.value, priority: num(f.priority.value) }));
  form('#ds-new-role', (f) => act(`role ${f.rolename.value} created`, { command: 'createRole', rolename: f.rolename.value }).then(() => f.reset()));
  form('#ds-acl', (f) => act(`ACL added to ${f.rolename.value}`, { command: 'addRoleACL', rolename: f.rolename.value, acltype: f.acltype.value,
    topic: f.topic.value, priority: num(f.priority.value), allow: f.allow.checked }));
  form('#ds-new-group', (f) => act(`group ${f.groupname.value} created`, { command: 'createGroup', groupname: f.groupname.value }).then(() => f.reset()));
  form('#ds-group-member', (f, how) => act('group changed', how === 'role'
    ? { command: 'addGroupRole', groupname: f.groupname.value, rolename: f.rolename.value, priority: num(f.priority.value) }
    : { command: 'addGroupClient', groupname: f.groupname.value, username: f.username.value, priority: num(f.priority.value) }));
  form('#ds-defaults', (f) => act('default access saved', { command: 'setDefaultACLAccess',
    acls: DEFAULTS.map((t) => ({ acltype: t, allow: f.elements[t].checked })) }));
  $('#ds-acl select[name=acltype]').replaceChildren(...ACL_TYPES.map((t) => h('option', { value: t }, t)));

  return { load };
}
