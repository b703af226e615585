package dynsec

import (
	"slices"
)

// describeGroup is g as getGroup and listGroups describe it: as the file
// has it, without the clients' priorities.
func describeGroup(g *group) fileGroup { return groupJSON(g, false) }

func createGroup(c *cmd) result {
	name, t, msg := c.groupKind().newEntry(c, "Empty groupname", "Group name not valid UTF-8")
	if msg != "" {
		return fail(msg)
	}
	if c.st.groups[name] != nil {
		return fail("Group already exists")
	}
	roles, _, msg := c.roleList("Role not found")
	if msg != "" {
		return fail(msg)
	}
	c.st.groups[name] = &group{name: name, textName: t.name, textDescription: t.desc, roles: roles}
	c.log = append(c.log, "groupname="+name)
	return changed
}

func deleteGroup(c *cmd, g *group) result {
	if g == c.st.anonGroup {
		return fail("Deleting the anonymous group is forbidden")
	}
	c.kick.group(c.st, g)
	for _, l := range slices.Clone(g.clients) {
		removeFromGroup(l.client, g)
	}
	delete(c.st.groups, g.name)
	return changed
}

func getGroup(c *cmd, g *group) result {
	return result{data: map[string]any{"group": describeGroup(g)}}
}

func listGroups(c *cmd) result { return listPage(c, c.st.groups, "groups", describeGroup) }

func modifyGroup(c *cmd, g *group) result {
	t, msg := c.texts()
	if msg != "" {
		return fail(msg)
	}
	roles, hasRoles, msg := c.roleList("'roles' contains an object with a 'rolename' that does not exist")
	if msg != "" {
		return fail(msg)
	}
	var members []clientLink
	hasClients, msg := links(c, "clients", c.clientKind(),
		"'clients' contains an object with a 'username' that does not exist", func(cl *client, p int) {
			if !slices.ContainsFunc(members, func(l clientLink) bool { return l.client == cl }) {
				members = append(members, clientLink{cl, p})
			}
		})
	if msg != "" {
		return fail(msg)
	}
	t.apply(&g.textName, &g.textDescription)
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

func addGroupClient(c *cmd, g *group, cl *client) result {
	if inGroup(cl, g) {
		return fail("Client is already in this group")
	}
	p, _ := c.o.integer("priority", noPriority)
	addToGroup(cl, g, clampPriority(p))
	c.kick.user(cl.username)
	return changed
}

func removeGroupClient(c *cmd, g *group, cl *client) result {
	if !inGroup(cl, g) {
		return fail("Client not in group")
	}
	removeFromGroup(cl, g)
	c.kick.user(cl.username)
	return changed
}

func addGroupRole(c *cmd, g *group, r *role) result {
	if hasRole(g.roles, r) {
		return fail("Group is already in this role")
	}
	p, _ := c.o.integer("priority", noPriority)
	g.roles = linkRole(g.roles, r, clampPriority(p))
	c.kick.group(c.st, g)
	return changed
}

func removeGroupRole(c *cmd, g *group, r *role) result {
	if !hasRole(g.roles, r) {
		return fail("Group is not in this role")
	}
	g.roles = unlinkRole(g.roles, r)
	c.kick.group(c.st, g)
	return changed
}

func setAnonymousGroup(c *cmd, g *group) result {
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
