package dynsec

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/cjson"
)

// response is one command's answer, keys in Mosquitto's order.
type response struct {
	Command         string  `json:"command"`
	Error           string  `json:"error,omitempty"`
	Data            any     `json:"data,omitempty"`
	CorrelationData *string `json:"correlationData,omitempty"`
}

type responses struct {
	Responses []response `json:"responses"`
}

// cmd is one command being run: its arguments, the state it may change,
// and what it reports.
type cmd struct {
	name  string // canonical command name
	o     obj
	st    *state
	who   Requester
	kick  *affected
	conns map[string][]string // connected clients' addresses by user name; nil if unknown
	log   []string            // k=v pairs for the change log
	// prepared: the passwords of the command are hashed already
	// (replicate.go).
	prepared bool
}

// hash returns the encoded hash of a password argument: pw itself in a
// prepared command, whose passwords the origin node hashed.
func (c *cmd) hash(pw string) (string, error) {
	if c.prepared {
		return pw, nil
	}
	return hashPassword(pw)
}

// result is what a command returns: data for get and list commands, an
// error message, and whether the configuration changed.
type result struct {
	data    any
	err     string
	changed bool
}

func fail(msg string) result { return result{err: msg} }

var changed = result{changed: true}

// commands maps lower-case command names to their canonical name and
// implementation.
var commands = map[string]struct {
	name string
	run  func(*cmd) result
}{}

func init() {
	// Commands on an existing entry (or two) find it first: see onEntry
	// and onPair.
	cl, gr, ro := (*cmd).clientKind, (*cmd).groupKind, (*cmd).roleKind
	for name, f := range map[string]func(*cmd) result{
		"getDetails":          getDetails,
		"setDefaultACLAccess": setDefaultACLAccess,
		"getDefaultACLAccess": getDefaultACLAccess,

		"createClient":      createClient,
		"deleteClient":      onEntry(cl, deleteClient),
		"enableClient":      onEntry(cl, enableClient),
		"disableClient":     onEntry(cl, disableClient),
		"getClient":         onEntry(cl, getClient),
		"listClients":       listClients,
		"modifyClient":      onEntry(cl, modifyClient),
		"setClientId":       setClientID,
		"setClientPassword": setClientPassword,
		"addClientRole":     onPair(cl, ro, false, addClientRole),
		"removeClientRole":  onPair(cl, ro, false, removeClientRole),

		"createGroup":       createGroup,
		"deleteGroup":       onEntry(gr, deleteGroup),
		"getGroup":          onEntry(gr, getGroup),
		"listGroups":        listGroups,
		"modifyGroup":       onEntry(gr, modifyGroup),
		"addGroupClient":    onPair(gr, cl, true, addGroupClient),
		"removeGroupClient": onPair(gr, cl, true, removeGroupClient),
		"addGroupRole":      onPair(gr, ro, false, addGroupRole),
		"removeGroupRole":   onPair(gr, ro, false, removeGroupRole),
		"setAnonymousGroup": onEntry(gr, setAnonymousGroup),
		"getAnonymousGroup": getAnonymousGroup,

		"createRole":    createRole,
		"deleteRole":    onEntry(ro, deleteRole),
		"getRole":       onEntry(ro, getRole),
		"listRoles":     listRoles,
		"modifyRole":    modifyRole,
		"addRoleACL":    onEntry(ro, addRoleACL),
		"removeRoleACL": onEntry(ro, removeRoleACL),
	} {
		commands[strings.ToLower(name)] = struct {
			name string
			run  func(*cmd) result
		}{name, f}
	}
}

// needsConnections reports whether a command lists connections.
func needsConnections(name string) bool {
	n := strings.ToLower(name)
	return n == "getclient" || n == "listclients"
}

// execute runs a batch of commands and returns the response JSON and the
// clients to kick. Commands run one batch at a time; the file is saved
// once after a batch that changed anything. A prepared batch's passwords
// are hashed already (replicate.go).
func (s *Security) execute(who Requester, payload []byte, prepared bool) ([]byte, affected) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	var kick affected
	out := responses{Responses: []response{}}
	v, err := cjson.Parse(payload, cjson.RejectTrailing)
	if err != nil {
		out.Responses = append(out.Responses, response{Command: "Unknown command", Error: "Payload not valid JSON"})
		return marshal(out, false), kick
	}
	root, _ := v.(map[string]any)
	list, present, ok := obj(root).array("commands")
	if root == nil || !present || !ok {
		out.Responses = append(out.Responses, response{Command: "Unknown command", Error: "Invalid/missing commands"})
		return marshal(out, false), kick
	}
	var conns map[string][]string
	s.mu.RLock()
	brk := s.brk
	s.mu.RUnlock()
	if brk != nil {
		for _, m := range objectsOf(list) {
			if n, _, _ := m.str("command"); needsConnections(n) {
				conns = connections(brk)
				break
			}
		}
	}

	s.mu.Lock()
	dirty := false
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			out.Responses = append(out.Responses, response{Command: "Unknown command", Error: "Command not an object"})
			break
		}
		o := obj(m)
		name, present, ok := o.str("command")
		if !present || !ok {
			out.Responses = append(out.Responses, response{Command: "Unknown command", Error: "Missing command"})
			break
		}
		var corr *string
		if c, present, ok := o.str("correlationData"); present {
			if !ok {
				out.Responses = append(out.Responses, response{Command: name, Error: "Invalid correlationData data type."})
				break
			}
			corr = &c
		}
		def, known := commands[strings.ToLower(name)]
		if !known {
			out.Responses = append(out.Responses, response{Command: name, Error: "Unknown command", CorrelationData: corr})
			continue
		}
		c := &cmd{name: def.name, o: o, st: s.st, who: who, kick: &kick, conns: conns, prepared: prepared}
		r := def.run(c)
		if r.changed {
			dirty = true
			s.st.changeIndex++
			s.log.Info(fmt.Sprintf("dynsec: %s/%s | %s%s | changeIndex=%d", who.ClientID, who.Username, def.name,
				logArgs(c.log), s.st.changeIndex))
		}
		out.Responses = append(out.Responses, response{Command: def.name, Error: r.err, Data: r.data, CorrelationData: corr})
	}
	var data []byte
	if dirty {
		data = s.st.encode()
	}
	s.mu.Unlock()
	s.saveErr = nil
	if dirty {
		if err := save(s.path, data); err != nil {
			s.saveErr = err
			s.log.Error(err.Error())
		}
	}
	return marshal(out, false), kick
}

func logArgs(kv []string) string {
	var b strings.Builder
	for _, a := range kv {
		b.WriteString(" | ")
		b.WriteString(a)
	}
	return b.String()
}

// connections returns the addresses of connected clients by user name
// (anonymous clients under "").
func connections(brk Broker) map[string][]string {
	m := make(map[string][]string)
	for _, s := range brk.Sessions() {
		if s.Connected && s.HasUsername {
			addr := s.Remote
			if h, _, ok := strings.Cut(addr, "]:"); ok && strings.HasPrefix(h, "[") {
				addr = h[1:]
			} else if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.Count(addr, ":") == 1 {
				addr = addr[:i]
			}
			m[s.Username] = append(m[s.Username], addr)
		}
	}
	return m
}

// text reads an optional string argument; msg is the error if it is not a
// string.
func (c *cmd) text(key, msg string) (string, bool, string) {
	s, present, ok := c.o.str(key)
	if !ok {
		return "", true, msg
	}
	return s, present, ""
}

// required reads a required string argument.
func (c *cmd) required(key, msg string) (string, string) {
	s, present, ok := c.o.str(key)
	if !present || !ok {
		return "", msg
	}
	return s, ""
}

// hashPassword hashes a password as Mosquitto 2.1 does:
// PBKDF2-HMAC-SHA512, 1000 iterations, a 64-byte salt, encoded
// "$7$1000$SALT$HASH".
func hashPassword(pw string) (string, error) {
	const iterations = 1000
	salt := make([]byte, 64)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("dynsec: salt: %w", err)
	}
	sum, err := pbkdf2.Key(sha512.New, pw, salt, iterations, sha512.Size)
	if err != nil {
		return "", fmt.Errorf("dynsec: hashing: %w", err)
	}
	return "$7$" + strconv.Itoa(iterations) + "$" + base64.StdEncoding.EncodeToString(salt) + "$" +
		base64.StdEncoding.EncodeToString(sum), nil
}

func validUTF8(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func getDetails(c *cmd) result {
	return result{data: map[string]int{"clientCount": len(c.st.clients), "groupCount": len(c.st.groups),
		"roleCount": len(c.st.roles), "changeIndex": c.st.changeIndex}}
}

type aclDefault struct {
	ACLType string `json:"acltype"`
	Allow   bool   `json:"allow"`
}

func getDefaultACLAccess(c *cmd) result {
	acls := make([]aclDefault, numDefaults)
	for i := range acls {
		acls[i] = aclDefault{defaultNames[i], c.st.defaults[i]}
	}
	return result{data: map[string]any{"acls": acls}}
}

func setDefaultACLAccess(c *cmd) result {
	list, present, ok := c.o.array("acls")
	if !present || !ok {
		return fail("Missing/invalid actions array")
	}
	for _, m := range objectsOf(list) {
		typ, _, _ := m.str("acltype")
		allow, ok := m.boolean("allow", false)
		if !ok {
			continue
		}
		for i, n := range defaultNames {
			if n == typ {
				c.st.defaults[i] = allow
				c.log = append(c.log, fmt.Sprintf("%s=%s", n, map[bool]string{true: "allow", false: "deny"}[allow]))
			}
		}
	}
	return changed
}

// roleList reads a "roles" argument: links to existing roles; notFound is
// the error for a role that does not exist.
func (c *cmd) roleList(notFound string) ([]roleLink, bool, string) {
	var out []roleLink
	present, msg := links(c, "roles", c.roleKind(), notFound, func(r *role, p int) { out = linkRole(out, r, p) })
	return out, present, msg
}

// roleRef is a role in a client's or group's description.
func roleData(rs []roleLink) []roleRefJSON { return roleRefs(rs) }

var _ = broker.Allow
