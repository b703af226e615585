package dynsec

import (
	"cmp"
	"slices"
	"strings"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/topic"
)

// The ACL types of a role, in the order getRole and the file list them.
const (
	aclPubSend    = "publishClientSend"
	aclPubRecv    = "publishClientReceive"
	aclSubLiteral = "subscribeLiteral"
	aclSubPattern = "subscribePattern"
	aclUnsLiteral = "unsubscribeLiteral"
	aclUnsPattern = "unsubscribePattern"
)

// aclTypes lists the ACL types in Mosquitto's order.
var aclTypes = [...]string{aclPubSend, aclPubRecv, aclSubLiteral, aclSubPattern, aclUnsLiteral, aclUnsPattern}

// aclTypeIndex returns the index in aclTypes of name (matched without
// regard to case), -1 if it is none.
func aclTypeIndex(name string) int {
	for i, t := range aclTypes {
		if strings.EqualFold(t, name) {
			return i
		}
	}
	return -1
}

// The default accesses, in the order getDefaultACLAccess lists them.
const (
	defPubSend = iota
	defPubRecv
	defSubscribe
	defUnsubscribe
	numDefaults
)

var defaultNames = [numDefaults]string{"publishClientSend", "publishClientReceive", "subscribe", "unsubscribe"}

// noPriority is the priority of a role or group link that has none.
const noPriority = -1

// priorityMax bounds priorities as Mosquitto's PRIORITY_MAX does.
const priorityMax = 100000

func clampPriority(p int) int { return min(max(p, -priorityMax), priorityMax) }

// state is the whole configuration: what the JSON file holds. It is only
// read or changed with Security.mu held.
type state struct {
	changeIndex int
	defaults    [numDefaults]bool
	clients     map[string]*client
	groups      map[string]*group
	roles       map[string]*role
	anonGroup   *group // nil: none
}

func newState() *state {
	return &state{
		defaults: [numDefaults]bool{false, true, false, true},
		clients:  make(map[string]*client),
		groups:   make(map[string]*group),
		roles:    make(map[string]*role),
	}
}

type client struct {
	username        string
	clientID        string // "" : any
	textName        string
	textDescription string
	password        string // encoded hash; "" : none, the client cannot log in
	disabled        bool
	roles           []roleLink  // sorted: see sortRoles
	groups          []groupLink // sorted: see sortGroups
}

type group struct {
	name            string
	textName        string
	textDescription string
	roles           []roleLink
	clients         []clientLink // in the order they joined
}

type role struct {
	name              string
	textName          string
	textDescription   string
	allowWildcardSubs bool
	acls              [len(aclTypes)][]*acl // each sorted by priority, highest first
}

type acl struct {
	topic    string
	priority int
	allow    bool
	pattern  topic.Pattern // topic with %c and %u as whole levels
}

type roleLink struct {
	role     *role
	priority int
}

type groupLink struct {
	group    *group
	priority int
}

type clientLink struct {
	client   *client
	priority int
}

// sortRoles orders a role list as Mosquitto does: priority, highest first,
// then by name.
func sortRoles(rs []roleLink) {
	slices.SortStableFunc(rs, func(a, b roleLink) int {
		if c := cmp.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		return strings.Compare(a.role.name, b.role.name)
	})
}

func sortGroups(gs []groupLink) {
	slices.SortStableFunc(gs, func(a, b groupLink) int {
		if c := cmp.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		return strings.Compare(a.group.name, b.group.name)
	})
}

// insertACL adds a to the list in priority order, after those of the same
// priority, as Mosquitto does (ties keep the order they were added in).
func insertACL(list []*acl, a *acl) []*acl {
	i := 0
	for i < len(list) && list[i].priority >= a.priority {
		i++
	}
	return slices.Insert(list, i, a)
}

func newACL(t string, priority int, allow bool) *acl {
	return &acl{topic: t, priority: priority, allow: allow, pattern: topic.ParseLevelPattern(t)}
}

// findACL returns the index of the ACL with topic t in list, -1 if none.
func findACL(list []*acl, t string) int {
	return slices.IndexFunc(list, func(a *acl) bool { return a.topic == t })
}

// linkRole adds (or replaces) r in a role list.
func linkRole(rs []roleLink, r *role, priority int) []roleLink {
	rs = slices.DeleteFunc(rs, func(l roleLink) bool { return l.role == r })
	rs = append(rs, roleLink{r, priority})
	sortRoles(rs)
	return rs
}

func unlinkRole(rs []roleLink, r *role) []roleLink {
	return slices.DeleteFunc(rs, func(l roleLink) bool { return l.role == r })
}

func hasRole(rs []roleLink, r *role) bool {
	return slices.ContainsFunc(rs, func(l roleLink) bool { return l.role == r })
}

// addToGroup makes c a member of g with priority.
func addToGroup(c *client, g *group, priority int) {
	g.clients = append(g.clients, clientLink{c, priority})
	c.groups = append(c.groups, groupLink{g, priority})
	sortGroups(c.groups)
}

// removeFromGroup ends c's membership of g.
func removeFromGroup(c *client, g *group) {
	g.clients = slices.DeleteFunc(g.clients, func(l clientLink) bool { return l.client == c })
	c.groups = slices.DeleteFunc(c.groups, func(l groupLink) bool { return l.group == g })
}

func inGroup(c *client, g *group) bool {
	return slices.ContainsFunc(c.groups, func(l groupLink) bool { return l.group == g })
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// affected is who a change concerns: the clients to kick.
type affected struct {
	users     map[string]bool
	anonymous bool
}

// concerns reports whether client c is among those affected.
func (a *affected) concerns(c *broker.Client) bool {
	if !c.HasUsername {
		return a.anonymous
	}
	return a.users[c.Username]
}

func (a *affected) user(name string) {
	if a.users == nil {
		a.users = make(map[string]bool)
	}
	a.users[name] = true
}

// group adds the members of g (and anonymous clients if g is the anonymous
// group).
func (a *affected) group(st *state, g *group) {
	for _, l := range g.clients {
		a.user(l.client.username)
	}
	if st.anonGroup == g {
		a.anonymous = true
	}
}

// role adds every client that has r, directly or through a group.
func (a *affected) role(st *state, r *role) {
	for _, c := range st.clients {
		if hasRole(c.roles, r) {
			a.user(c.username)
		}
	}
	for _, g := range st.groups {
		if hasRole(g.roles, r) {
			a.group(st, g)
		}
	}
}
