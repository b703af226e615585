package dynsec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/cjson"
)

// Replication (Options.Replicate) splits a change in two: propose, on the
// node the request arrived on, turns the request into a prepared command
// whose outcome depends on the state alone (passwords hashed with their
// random salts, duplicate keys removed), and Apply runs that command on
// every replica, in the same order, with the same result everywhere. Each
// replica saves its file and kicks its own clients.

// readOnly are the commands that change nothing: a request of these only
// is answered without replication.
var readOnly = map[string]bool{
	"getdetails": true, "getdefaultaclaccess": true, "getclient": true, "listclients": true,
	"getgroup": true, "listgroups": true, "getanonymousgroup": true, "getrole": true, "listroles": true,
}

// passwordCommands say, for each command with a password argument, whether
// an empty password is hashed too (createClient's is; modifyClient and
// setClientPassword leave an empty one alone).
var passwordCommands = map[string]bool{"createclient": true, "modifyclient": false, "setclientpassword": false}

// replicated reports whether a request goes through Options.Replicate: if
// it is set and the request is a batch with a command that is not a get or
// list (a malformed request is answered here: it changes nothing).
func (s *Security) replicated(payload []byte) bool {
	if s.replicate == nil {
		return false
	}
	v, err := cjson.Parse(payload, cjson.RejectTrailing)
	if err != nil {
		return false
	}
	root, _ := v.(map[string]any)
	list, present, ok := obj(root).array("commands")
	if root == nil || !present || !ok {
		return false
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return false // answered with an error from here on
		}
		name, _, _ := obj(m).str("command")
		if !readOnly[strings.ToLower(name)] {
			return true
		}
	}
	return false
}

// replicatedCmd is a prepared request, as Apply receives it.
type replicatedCmd struct {
	ClientID string          `json:"clientid,omitempty"`
	Username string          `json:"username,omitempty"`
	Request  json.RawMessage `json:"request"`
}

// propose prepares a request and hands it to Options.Replicate, and
// returns the answer of this replica's Apply, or an answer with the
// error for each command.
func (s *Security) propose(ctx context.Context, who Requester, payload []byte) []byte {
	cmd, err := prepare(who, payload)
	if err == nil {
		var resp []byte
		resp, err = s.replicate(ctx, cmd)
		if err == nil {
			return resp
		}
	}
	s.log.Warn(fmt.Sprintf("dynsec: %s/%s | change refused: %v", who.ClientID, who.Username, err))
	return refusal(payload, "Change not applied: "+err.Error())
}

// prepare returns the command Apply runs for a request: its passwords
// hashed, and keys that differ only in case reduced to one, so that every
// replica reads the same arguments.
func prepare(who Requester, payload []byte) ([]byte, error) {
	v, err := cjson.Parse(payload, cjson.RejectTrailing)
	if err != nil {
		return nil, err
	}
	v = canonical(v)
	root, _ := v.(map[string]any)
	list, _, _ := obj(root).array("commands")
	for _, m := range objectsOf(list) {
		name, _, _ := m.str("command")
		emptyToo, ok := passwordCommands[strings.ToLower(name)]
		if !ok {
			continue
		}
		key, pw := "", any(nil)
		for k, v := range m {
			if strings.EqualFold(k, "password") {
				key, pw = k, v
			}
		}
		s, isString := pw.(string)
		if !isString || (s == "" && !emptyToo) {
			continue // the command fails alike everywhere, or leaves the password
		}
		h, err := hashPassword(s)
		if err != nil {
			return nil, err
		}
		m[key] = h
	}
	req, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(replicatedCmd{ClientID: who.ClientID, Username: who.Username, Request: req})
}

// canonical returns v with, in each object, only one of the keys that are
// equal without regard to case (the first in byte order): cJSON's look-up
// of such a key depends on the order of the object's keys, which a
// prepared command does not keep.
func canonical(v any) any {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			l := strings.ToLower(k)
			if seen[l] {
				delete(t, k)
				continue
			}
			seen[l] = true
			t[k] = canonical(t[k])
		}
	case []any:
		for i := range t {
			t[i] = canonical(t[i])
		}
	}
	return v
}

// refusal is the answer to a request that was not applied: each command
// with the error, as Mosquitto answers a command that failed.
func refusal(payload []byte, msg string) []byte {
	out := responses{Responses: []response{}}
	v, _ := cjson.Parse(payload, cjson.RejectTrailing)
	root, _ := v.(map[string]any)
	list, _, _ := obj(root).array("commands")
	for _, m := range objectsOf(list) {
		name, _, _ := m.str("command")
		r := response{Command: name, Error: msg}
		if c, present, ok := m.str("correlationData"); present && ok {
			r.CorrelationData = &c
		}
		out.Responses = append(out.Responses, r)
	}
	return marshal(out, false)
}

// Apply runs a command that propose prepared, on a replica: it changes
// the state as on every other replica, saves the file, kicks this
// broker's clients the change concerns (the requester a moment later, so
// that it gets its answer first) and returns the response JSON. It is
// what Options.Replicate has every replica run.
func (s *Security) Apply(cmd []byte) []byte {
	var rc replicatedCmd
	if err := json.Unmarshal(cmd, &rc); err != nil {
		s.log.Error("dynsec: a replicated command that cannot be read: " + err.Error())
		return refusal(nil, "Internal error")
	}
	who := Requester{ClientID: rc.ClientID, Username: rc.Username}
	resp, kick := s.execute(who, rc.Request, true)
	s.mu.RLock()
	brk := s.brk
	s.mu.RUnlock()
	if brk == nil {
		return resp
	}
	s.kick(brk, kick, who.ClientID)
	if id := who.ClientID; id != "" && (len(kick.users) > 0 || kick.anonymous) {
		time.AfterFunc(kickDelay, func() {
			brk.DisconnectClients(func(c *broker.Client) bool { return c.ID == id && kick.concerns(c) })
		})
	}
	return resp
}

// Snapshot returns the whole state, as the file has it.
func (s *Security) Snapshot() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.encode(), nil
}

// Restore replaces the state with one Snapshot returned (by another
// replica), saves the file, and kicks this broker's clients whose rights
// it changed.
func (s *Security) Restore(state []byte) error {
	st, err := decode(state)
	if err != nil {
		return fmt.Errorf("dynsec: restore: %w", err)
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	kick := changedRights(s.st, st)
	s.st = st
	brk := s.brk
	data := st.encode()
	s.mu.Unlock()
	var errs []error
	if err := save(s.path, data); err != nil {
		s.log.Error(err.Error())
		errs = append(errs, err)
	}
	if brk != nil {
		s.kick(brk, kick, "")
	}
	return errors.Join(errs...)
}

// changedRights returns the clients whose rights differ between two
// states: the users whose entry, roles or groups differ, and anonymous
// clients if the anonymous group's roles do.
func changedRights(old, cur *state) affected {
	var a affected
	for _, st := range []*state{old, cur} {
		for name := range st.clients {
			if userPrint(old, name) != userPrint(cur, name) {
				a.user(name)
			}
		}
	}
	if anonPrint(old) != anonPrint(cur) {
		a.anonymous = true
	}
	return a
}

// userPrint describes everything that decides a user's rights.
func userPrint(st *state, name string) string {
	c := st.clients[name]
	if c == nil {
		return ""
	}
	type groupPrint struct {
		Name     string
		Priority int
		Roles    []fileRole
	}
	p := struct {
		Client fileClient
		Roles  []fileRole
		Groups []groupPrint
	}{Client: fileClient{Username: c.username, ClientID: c.clientID, Disabled: c.disabled, EncodedPassword: c.password,
		Roles: roleRefs(c.roles)}, Roles: rolePrints(c.roles)}
	for _, g := range c.groups {
		p.Groups = append(p.Groups, groupPrint{g.group.name, g.priority, rolePrints(g.group.roles)})
	}
	return string(marshal(p, false))
}

// anonPrint describes the anonymous group's rights.
func anonPrint(st *state) string {
	if st.anonGroup == nil {
		return ""
	}
	return string(marshal(rolePrints(st.anonGroup.roles), false))
}

func rolePrints(rs []roleLink) []fileRole {
	out := make([]fileRole, 0, len(rs))
	for _, l := range rs {
		out = append(out, describeRole(l.role))
	}
	return out
}
