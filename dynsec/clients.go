package dynsec

import (
	"slices"
)

// clientData is a client as getClient and listClients describe it.
type clientData struct {
	Username        string         `json:"username"`
	ClientID        string         `json:"clientid,omitempty"`
	TextName        string         `json:"textname,omitempty"`
	TextDescription string         `json:"textdescription,omitempty"`
	Disabled        bool           `json:"disabled,omitempty"`
	Roles           []roleRefJSON  `json:"roles"`
	Groups          []groupRefJSON `json:"groups"`
	Connections     []connData     `json:"connections"`
}

type connData struct {
	Address string `json:"address"`
}

func (c *cmd) describeClient(cl *client) clientData {
	d := clientData{Username: cl.username, ClientID: cl.clientID, TextName: cl.textName,
		TextDescription: cl.textDescription, Disabled: cl.disabled, Roles: roleData(cl.roles), Groups: []groupRefJSON{}}
	for _, g := range cl.groups {
		d.Groups = append(d.Groups, groupRefJSON{g.group.name, prio(g.priority)})
	}
	d.Connections = []connData{}
	for _, a := range c.conns[cl.username] {
		d.Connections = append(d.Connections, connData{a})
	}
	return d
}

// groupList reads a "groups" argument: existing groups with priorities,
// each once; notFound is the error for a group that does not exist.
func (c *cmd) groupList(notFound string) ([]groupLink, bool, string) {
	var out []groupLink
	present, msg := links(c, "groups", c.groupKind(), notFound, func(g *group, p int) {
		if !slices.ContainsFunc(out, func(l groupLink) bool { return l.group == g }) {
			out = append(out, groupLink{g, p})
		}
	})
	return out, present, msg
}

// clientIDArg reads the optional clientid argument; missing is the error
// if it is not a string.
func (c *cmd) clientIDArg(missing string) (id string, present bool, msg string) {
	id, present, msg = c.text("clientid", missing)
	if msg == "" && !validUTF8(id) {
		msg = "Client ID not valid UTF-8"
	}
	return id, present, msg
}

// clientArgs are the optional arguments that createClient and
// modifyClient read after the client's identity.
type clientArgs struct {
	texts
	roles     []roleLink
	hasRoles  bool
	groups    []groupLink
	hasGroups bool
}

// clientArgs reads textname, textdescription, roles and groups;
// groupNotFound is the error for a group that does not exist.
func (c *cmd) clientArgs(groupNotFound string) (a clientArgs, msg string) {
	if a.texts, msg = c.texts(); msg != "" {
		return a, msg
	}
	if a.roles, a.hasRoles, msg = c.roleList("Role not found"); msg != "" {
		return a, msg
	}
	a.groups, a.hasGroups, msg = c.groupList(groupNotFound)
	return a, msg
}

func createClient(c *cmd) result {
	name, msg := c.clientKind().newName(c, "Empty username", "Username not valid UTF-8")
	if msg != "" {
		return fail(msg)
	}
	pw, hasPW, msg := c.text("password", "Invalid/missing password")
	if msg != "" {
		return fail(msg)
	}
	id, _, msg := c.clientIDArg("Invalid/missing client id")
	if msg != "" {
		return fail(msg)
	}
	if c.st.clients[name] != nil {
		return fail("Client already exists")
	}
	a, msg := c.clientArgs("Group not found")
	if msg != "" {
		return fail(msg)
	}
	cl := &client{username: name, clientID: id, textName: a.name, textDescription: a.desc, roles: a.roles}
	if hasPW {
		h, err := c.hash(pw)
		if err != nil {
			return fail("Internal error")
		}
		cl.password = h
	}
	c.st.clients[name] = cl
	for _, g := range a.groups {
		addToGroup(cl, g.group, g.priority)
	}
	c.log = append(c.log, "username="+name, "password=******")
	if id != "" {
		c.log = append(c.log, "clientid="+id)
	}
	return changed
}

func deleteClient(c *cmd, cl *client) result {
	for _, g := range slices.Clone(cl.groups) {
		removeFromGroup(cl, g.group)
	}
	delete(c.st.clients, cl.username)
	c.kick.user(cl.username)
	return changed
}

func enableClient(c *cmd, cl *client) result {
	cl.disabled = false
	return changed
}

func disableClient(c *cmd, cl *client) result {
	cl.disabled = true
	c.kick.user(cl.username)
	return changed
}

func getClient(c *cmd, cl *client) result {
	return result{data: map[string]any{"client": c.describeClient(cl)}}
}

// listPage answers a list command: the total count of m's entries and,
// under key, the page of their names the command asks for (verbose,
// count, offset), or their descriptions if it asks for verbose output.
func listPage[V, D any](c *cmd, m map[string]V, key string, describe func(V) D) result {
	all := sortedKeys(m)
	verbose, _ := c.o.boolean("verbose", false)
	count, _ := c.o.integer("count", -1)
	offset, _ := c.o.integer("offset", 0)
	offset = max(offset, 0)
	if offset > len(all) {
		offset = len(all)
	}
	names := all[offset:]
	if count >= 0 && count < len(names) {
		names = names[:count]
	}
	var list any = names
	if verbose {
		ds := []D{}
		for _, n := range names {
			ds = append(ds, describe(m[n]))
		}
		list = ds
	}
	return result{data: map[string]any{"totalCount": len(all), key: list}}
}

func listClients(c *cmd) result { return listPage(c, c.st.clients, "clients", c.describeClient) }

func modifyClient(c *cmd, cl *client) result {
	id, hasID, msg := c.clientIDArg("Invalid/missing client id")
	if msg != "" {
		return fail(msg)
	}
	pw, _, msg := c.text("password", "Invalid/missing password")
	if msg != "" {
		return fail(msg)
	}
	a, msg := c.clientArgs("'groups' contains an object with a 'groupname' that does not exist")
	if msg != "" {
		return fail(msg)
	}
	var hash string
	if pw != "" {
		h, err := c.hash(pw)
		if err != nil {
			return fail("Internal error")
		}
		hash = h
	}
	if hasID {
		cl.clientID = id
	}
	if hash != "" {
		cl.password = hash
	}
	a.apply(&cl.textName, &cl.textDescription)
	if a.hasRoles {
		cl.roles = a.roles
	}
	if a.hasGroups {
		for _, g := range slices.Clone(cl.groups) {
			removeFromGroup(cl, g.group)
		}
		for _, g := range a.groups {
			addToGroup(cl, g.group, g.priority)
		}
	}
	c.kick.user(cl.username)
	return changed
}

func setClientID(c *cmd) result {
	name, msg := c.required("username", "Invalid/missing username")
	if msg != "" {
		return fail(msg)
	}
	id, _, msg := c.clientIDArg("Invalid/missing client ID")
	if msg != "" {
		return fail(msg)
	}
	cl := c.st.clients[name]
	if cl == nil {
		return fail("Client not found")
	}
	cl.clientID = id
	c.log = append(c.log, "username="+name, "clientid="+id)
	c.kick.user(name)
	return changed
}

func setClientPassword(c *cmd) result {
	name, msg := c.required("username", "Invalid/missing username")
	if msg != "" {
		return fail(msg)
	}
	pw, msg := c.required("password", "Invalid/missing password")
	if msg != "" {
		return fail(msg)
	}
	if pw == "" {
		return fail("Empty password is not allowed")
	}
	cl := c.st.clients[name]
	if cl == nil {
		return fail("Client not found")
	}
	h, err := c.hash(pw)
	if err != nil {
		return fail("Internal error")
	}
	cl.password = h
	c.log = append(c.log, "username="+name, "password=******")
	c.kick.user(name)
	return changed
}

func addClientRole(c *cmd, cl *client, r *role) result {
	p, _ := c.o.integer("priority", noPriority)
	cl.roles = linkRole(cl.roles, r, clampPriority(p))
	c.kick.user(cl.username)
	return changed
}

func removeClientRole(c *cmd, cl *client, r *role) result {
	cl.roles = unlinkRole(cl.roles, r)
	c.kick.user(cl.username)
	return changed
}
