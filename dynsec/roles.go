package dynsec

import (
	"strings"

	"github.com/midge-mqtt/midge/internal/topic"
)

// describeRole is r as getRole and listRoles describe it: as the file has
// it.
func describeRole(r *role) fileRole {
	return fileRole{RoleName: r.name, TextName: r.textName, TextDescription: r.textDescription,
		AllowWildcardSubs: r.allowWildcardSubs, ACLs: roleACLs(r)}
}

// aclType reads the acltype argument: its index in aclTypes.
func (c *cmd) aclType() (int, string) {
	typ, msg := c.required("acltype", "Invalid/missing acltype")
	if msg != "" {
		return -1, msg
	}
	i := aclTypeIndex(typ)
	if i < 0 {
		return -1, "Unknown acltype"
	}
	return i, ""
}

// aclArgs reads an ACL's acltype and topic arguments.
func (c *cmd) aclArgs() (int, string, string) {
	i, msg := c.aclType()
	if msg != "" {
		return -1, "", msg
	}
	t, msg := c.required("topic", "Invalid/missing topic")
	if msg != "" {
		return -1, "", msg
	}
	if !validUTF8(t) {
		return -1, "", "Topic not valid UTF-8"
	}
	if t == "" || !topic.ValidACLFilter(t) {
		return -1, "", "Invalid ACL topic"
	}
	return i, t, ""
}

// aclList reads a role's "acls" argument.
func (c *cmd) aclList() ([len(aclTypes)][]*acl, bool, string) {
	var out [len(aclTypes)][]*acl
	list, present, ok := c.o.array("acls")
	if !present {
		return out, false, ""
	}
	if !ok {
		return out, true, "'acls' not an array"
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return out, true, "'acls' not an array"
		}
		sub := &cmd{o: obj(m)}
		i, t, msg := sub.aclArgs()
		if msg != "" {
			return out, true, msg
		}
		if findACL(out[i], t) >= 0 {
			continue
		}
		p, _ := sub.o.integer("priority", 0)
		allow, _ := sub.o.boolean("allow", false)
		out[i] = insertACL(out[i], newACL(t, clampPriority(p), allow))
	}
	return out, true, ""
}

func createRole(c *cmd) result {
	name, t, msg := c.roleKind().newEntry(c, "Empty rolename", "Role name not valid UTF-8")
	if msg != "" {
		return fail(msg)
	}
	wild, _ := c.o.boolean("allowwildcardsubs", true)
	if c.st.roles[name] != nil {
		return fail("Role already exists")
	}
	acls, _, msg := c.aclList()
	if msg != "" {
		return fail(msg)
	}
	c.st.roles[name] = &role{name: name, textName: t.name, textDescription: t.desc, allowWildcardSubs: wild, acls: acls}
	c.log = append(c.log, "rolename="+name)
	return changed
}

func deleteRole(c *cmd, r *role) result {
	c.kick.role(c.st, r)
	for _, cl := range c.st.clients {
		cl.roles = unlinkRole(cl.roles, r)
	}
	for _, g := range c.st.groups {
		g.roles = unlinkRole(g.roles, r)
	}
	delete(c.st.roles, r.name)
	return changed
}

func getRole(c *cmd, r *role) result {
	return result{data: map[string]any{"role": describeRole(r)}}
}

func listRoles(c *cmd) result { return listPage(c, c.st.roles, "roles", describeRole) }

func modifyRole(c *cmd) result {
	r, msg := kind[role]{"rolename", c.st.roles, "Role does not exist"}.find(c)
	if msg != "" {
		return fail(msg)
	}
	t, msg := c.texts()
	if msg != "" {
		return fail(msg)
	}
	wild, ok := c.o.boolean("allowwildcardsubs", r.allowWildcardSubs)
	if !ok {
		wild = r.allowWildcardSubs
	}
	acls, hasACLs, msg := c.aclList()
	if msg != "" {
		return fail(msg)
	}
	t.apply(&r.textName, &r.textDescription)
	if hasACLs || wild != r.allowWildcardSubs {
		c.kick.role(c.st, r)
	}
	r.allowWildcardSubs = wild
	if hasACLs {
		r.acls = acls
	}
	return changed
}

func addRoleACL(c *cmd, r *role) result {
	i, t, msg := c.aclArgs()
	if msg != "" {
		return fail(msg)
	}
	if findACL(r.acls[i], t) >= 0 {
		return fail("ACL with this topic already exists")
	}
	p, _ := c.o.integer("priority", 0)
	allow, _ := c.o.boolean("allow", false)
	r.acls[i] = insertACL(r.acls[i], newACL(t, clampPriority(p), allow))
	c.log = append(c.log, "acltype="+aclTypes[i], "topic="+t, "allow="+map[bool]string{true: "true", false: "false"}[allow])
	c.kick.role(c.st, r)
	return changed
}

func removeRoleACL(c *cmd, r *role) result {
	i, msg := c.aclType()
	if msg != "" {
		return fail(msg)
	}
	t, msg := c.required("topic", "Invalid/missing topic")
	if msg != "" {
		return fail(msg)
	}
	j := findACL(r.acls[i], t)
	if j < 0 {
		return fail("ACL not found")
	}
	r.acls[i] = append(r.acls[i][:j:j], r.acls[i][j+1:]...)
	c.log = append(c.log, "acltype="+aclTypes[i], "topic="+t)
	c.kick.role(c.st, r)
	return changed
}

var _ = strings.EqualFold
