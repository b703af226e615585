package dynsec

import (
	"slices"
)

// groupData is a group as getGroup and listGroups describe it.
type groupData struct {
	GroupName       string          `json:"groupname"`
	TextName        string          `json:"textname,omitempty"`
	TextDescription string          `json:"textdescription,omitempty"`
	Roles           []roleRefJSON   `json:"roles"`
	Clients         []clientRefJSON `json:"clients"`
}

func describeGroup(g *group) groupData {
	d := groupData{GroupName: g.name, TextName: g.textName, TextDescription: g.textDescription,
		Roles: roleData(g.roles), Clients: []clientRefJSON{}}
	for _, l := range g.clients {
		d.Clients = append(d.Clients, clientRefJSON{Username: l.client.username})
	}
	return d
}

// findGroup reads the "groupname" argument and finds the group.
func (c *cmd) findGroup() (*group, string) {
	name, msg := c.required("groupname", "Invalid/missing groupname")
	if msg != "" {
		return nil, msg
	}
	g := c.st.groups[name]
	if g == nil {
		return nil, "Group not found"
	}
	c.log = append(c.log, "groupname="+name)
	return g, ""
}

func createGroup(c *cmd) result {
	name, msg := c.required("groupname", "Invalid/missing groupname")
	switch {
	case msg != "":
		return fail(msg)
	case name == "":
		return fail("Empty groupname")
	case !validUTF8(name):
		return fail("Group name not valid UTF-8")
	}
	tn, _, msg := c.text("textname", "Invalid/missing textname")
	if msg != "" {
		return fail(msg)
	}
	td, _, msg := c.text("textdescription", "Invalid/missing textdescription")
	if msg != "" {
		return fail(msg)
	}
	if c.st.groups[name] != nil {
		return fail("Group already exists")
	}
	roles, _, msg := c.roleList()
	if msg != "" {
		return fail(msg)
	}
	c.st.groups[name] = &group{name: name, textName: tn, textDescription: td, roles: roles}
	c.log = append(c.log, "groupname="+name)
	return changed
}

func deleteGroup(c *cmd) result {
	name, msg := c.required("groupname", "Invalid/missing groupname")
	if msg != "" {
		return fail(msg)
	}
	g := c.st.groups[name]
	if g != nil && g == c.st.anonGroup {
		return fail("Deleting the anonymous group is forbidden")
	}
	if g == nil {
		return fail("Group not found")
	}
	c.kick.group(c.st, g)
	for _, l := range slices.Clone(g.clients) {
		removeFromGroup(l.client, g)
	}
	delete(c.st.groups, name)
	c.log = append(c.log, "groupname="+name)
	return changed
}

func getGroup(c *cmd) result {
	name, msg := c.required("groupname", "Invalid/missing groupname")
	if msg != "" {
		return fail(msg)
	}
	g := c.st.groups[name]
	if g == nil {
		return fail("Group not found")
	}
	return result{data: map[string]any{"group": describeGroup(g)}}
}

func listGroups(c *cmd) result { return listPage(c, c.st.groups, "groups", describeGroup) }

func modifyGroup(c *cmd) result {
	g, msg := c.findGroup()
	if msg != "" {
		return fail(msg)
	}
	tn, hasTN, msg := c.text("textname", "Invalid/missing textname")
	if msg != "" {
		return fail(msg)
	}
	td, hasTD, msg := c.text("textdescription", "Invalid/missing textdescription")
	if msg != "" {
		return fail(msg)
	}
	roles, hasRoles, msg := c.roleList()
	if msg == "Role not found" {
		msg = "'roles' contains an object with a 'rolename' that does not exist"
	}
	if msg != "" {
		return fail(msg)
	}
	list, hasClients, ok := c.o.array("clients")
	const bad = "'clients' not an array or missing/invalid username"
	if !ok {
		return fail(bad)
	}
	var members []clientLink
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return fail(bad)
		}
		u, present, ok := obj(m).str("username")
		if !present || !ok {
			return fail(bad)
		}
		cl := c.st.clients[u]
		if cl == nil {
			return fail("'clients' contains an object with a 'username' that does not exist")
		}
		p, _ := obj(m).integer("priority", noPriority)
		if !slices.ContainsFunc(members, func(l clientLink) bool { return l.client == cl }) {
			members = append(members, clientLink{cl, clampPriority(p)})
		}
	}
	if hasTN {
		g.textName = tn
	}
	if hasTD {
		g.textDescription = td
	}
	if hasRoles {
		g.roles = roles
	}
	c.kick.group(c.st, g)
	if hasClients {
		for _, l := range slices.Clone(g.clients) {
			removeFromGroup(l.client, g)
		}
		for _, l := range members {
			addToGroup(l.client, g, l.priority)
		}
		c.kick.group(c.st, g)
	}
	return changed
}

// groupAndClient reads the groupname and username arguments.
func (c *cmd) groupAndClient() (*group, *client, string) {
	gn, msg := c.required("groupname", "Invalid/missing groupname")
	if msg != "" {
		return nil, nil, msg
	}
	u, msg := c.required("username", "Invalid/missing username")
	if msg != "" {
		return nil, nil, msg
	}
	cl := c.st.clients[u]
	if cl == nil {
		return nil, nil, "Client not found"
	}
	g := c.st.groups[gn]
	if g == nil {
		return nil, nil, "Group not found"
	}
	c.log = append(c.log, "groupname="+gn, "username="+u)
	return g, cl, ""
}

func addGroupClient(c *cmd) result {
	g, cl, msg := c.groupAndClient()
	if msg != "" {
		return fail(msg)
	}
	if inGroup(cl, g) {
		return fail("Client is already in this group")
	}
	p, _ := c.o.integer("priority", noPriority)
	addToGroup(cl, g, clampPriority(p))
	c.kick.user(cl.username)
	return changed
}

func removeGroupClient(c *cmd) result {
	g, cl, msg := c.groupAndClient()
	if msg != "" {
		return fail(msg)
	}
	if !inGroup(cl, g) {
		return fail("Client not in group")
	}
	removeFromGroup(cl, g)
	c.kick.user(cl.username)
	return changed
}

// groupAndRole reads the groupname and rolename arguments.
func (c *cmd) groupAndRole() (*group, *role, string) {
	gn, msg := c.required("groupname", "Invalid/missing groupname")
	if msg != "" {
		return nil, nil, msg
	}
	rn, msg := c.required("rolename", "Invalid/missing rolename")
	if msg != "" {
		return nil, nil, msg
	}
	g := c.st.groups[gn]
	if g == nil {
		return nil, nil, "Group not found"
	}
	r := c.st.roles[rn]
	if r == nil {
		return nil, nil, "Role not found"
	}
	c.log = append(c.log, "groupname="+gn, "rolename="+rn)
	return g, r, ""
}

func addGroupRole(c *cmd) result {
	g, r, msg := c.groupAndRole()
	if msg != "" {
		return fail(msg)
	}
	if hasRole(g.roles, r) {
		return fail("Group is already in this role")
	}
	p, _ := c.o.integer("priority", noPriority)
	g.roles = linkRole(g.roles, r, clampPriority(p))
	c.kick.group(c.st, g)
	return changed
}

func removeGroupRole(c *cmd) result {
	g, r, msg := c.groupAndRole()
	if msg != "" {
		return fail(msg)
	}
	if !hasRole(g.roles, r) {
		return fail("Group is not in this role")
	}
	g.roles = unlinkRole(g.roles, r)
	c.kick.group(c.st, g)
	return changed
}

func setAnonymousGroup(c *cmd) result {
	g, msg := c.findGroup()
	if msg != "" {
		return fail(msg)
	}
	c.st.anonGroup = g
	c.kick.anonymous = true
	return changed
}

func getAnonymousGroup(c *cmd) result {
	name := ""
	if g := c.st.anonGroup; g != nil {
		name = g.name
	}
	return result{data: map[string]any{"group": map[string]string{"groupname": name}}}
}
