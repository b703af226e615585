package dynsec

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/internal/atomicfile"
	"github.com/midge-mqtt/midge/internal/cjson"
)

// fileJSON is the configuration file as midge writes it: Mosquitto 2.1's
// format (encoded_password), keys in Mosquitto's order.
type fileJSON struct {
	ChangeIndex      int          `json:"changeIndex"`
	DefaultACLAccess fileDefaults `json:"defaultACLAccess"`
	Clients          []fileClient `json:"clients"`
	Groups           []fileGroup  `json:"groups"`
	Roles            []fileRole   `json:"roles"`
	AnonymousGroup   string       `json:"anonymousGroup,omitempty"`
}

type fileDefaults struct {
	PublishClientSend    bool `json:"publishClientSend"`
	PublishClientReceive bool `json:"publishClientReceive"`
	Subscribe            bool `json:"subscribe"`
	Unsubscribe          bool `json:"unsubscribe"`
}

type fileClient struct {
	Username        string        `json:"username"`
	TextName        string        `json:"textname,omitempty"`
	TextDescription string        `json:"textdescription,omitempty"`
	ClientID        string        `json:"clientid,omitempty"`
	Disabled        bool          `json:"disabled,omitempty"`
	Roles           []roleRefJSON `json:"roles"`
	EncodedPassword string        `json:"encoded_password,omitempty"`
}

type fileGroup struct {
	GroupName       string          `json:"groupname"`
	TextName        string          `json:"textname,omitempty"`
	TextDescription string          `json:"textdescription,omitempty"`
	Roles           []roleRefJSON   `json:"roles"`
	Clients         []clientRefJSON `json:"clients"`
}

type fileRole struct {
	RoleName          string    `json:"rolename"`
	TextName          string    `json:"textname,omitempty"`
	TextDescription   string    `json:"textdescription,omitempty"`
	AllowWildcardSubs bool      `json:"allowwildcardsubs"`
	ACLs              []aclJSON `json:"acls"`
}

type roleRefJSON struct {
	RoleName string `json:"rolename"`
	Priority *int   `json:"priority,omitempty"`
}

type groupRefJSON struct {
	GroupName string `json:"groupname"`
	Priority  *int   `json:"priority,omitempty"`
}

type clientRefJSON struct {
	Username string `json:"username"`
	Priority *int   `json:"priority,omitempty"`
}

type aclJSON struct {
	ACLType  string `json:"acltype"`
	Topic    string `json:"topic"`
	Priority int    `json:"priority"`
	Allow    bool   `json:"allow"`
}

func prio(p int) *int {
	if p == noPriority {
		return nil
	}
	return &p
}

func roleRefs(rs []roleLink) []roleRefJSON {
	out := make([]roleRefJSON, 0, len(rs))
	for _, l := range rs {
		out = append(out, roleRefJSON{l.role.name, prio(l.priority)})
	}
	return out
}

func roleACLs(r *role) []aclJSON {
	out := []aclJSON{}
	for i, list := range r.acls {
		for _, a := range list {
			out = append(out, aclJSON{aclTypes[i], a.topic, a.priority, a.allow})
		}
	}
	return out
}

// groupJSON is g as the file has it; without its clients' priorities
// unless priorities.
func groupJSON(g *group, priorities bool) fileGroup {
	fg := fileGroup{GroupName: g.name, TextName: g.textName, TextDescription: g.textDescription,
		Roles: roleRefs(g.roles), Clients: []clientRefJSON{}}
	for _, l := range g.clients {
		ref := clientRefJSON{Username: l.client.username}
		if priorities {
			ref.Priority = prio(l.priority)
		}
		fg.Clients = append(fg.Clients, ref)
	}
	return fg
}

// encode returns the file's contents for st.
func (st *state) encode() []byte {
	f := fileJSON{ChangeIndex: st.changeIndex,
		DefaultACLAccess: fileDefaults{st.defaults[0], st.defaults[1], st.defaults[2], st.defaults[3]},
		Clients:          []fileClient{}, Groups: []fileGroup{}, Roles: []fileRole{}}
	for _, name := range sortedKeys(st.clients) {
		c := st.clients[name]
		f.Clients = append(f.Clients, fileClient{Username: c.username, TextName: c.textName, TextDescription: c.textDescription,
			ClientID: c.clientID, Disabled: c.disabled, Roles: roleRefs(c.roles), EncodedPassword: c.password})
	}
	for _, name := range sortedKeys(st.groups) {
		f.Groups = append(f.Groups, groupJSON(st.groups[name], true))
	}
	for _, name := range sortedKeys(st.roles) {
		f.Roles = append(f.Roles, describeRole(st.roles[name]))
	}
	if st.anonGroup != nil {
		f.AnonymousGroup = st.anonGroup.name
	}
	return append(marshal(f, true), '\n')
}

// load reads a configuration file in Mosquitto 2.0's or 2.1's format. An
// empty file is an empty configuration.
func load(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dynsec: %w", err)
	}
	st, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("dynsec: %s: %w", path, err)
	}
	return st, nil
}

// decode parses the configuration file's contents as the plugin loads
// them: duplicates are skipped, links to unknown roles, groups or clients
// are dropped, a missing defaultACLAccess key is false.
func decode(b []byte) (*state, error) {
	st := newState()
	if len(strings.TrimSpace(string(b))) == 0 {
		return st, nil
	}
	v, err := cjson.Parse(b, cjson.RejectTrailing)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	o := obj(root)
	st.changeIndex, _ = o.integer("changeIndex", 0)
	if d, ok := o.object("defaultACLAccess"); ok {
		for i, name := range defaultNames {
			st.defaults[i], _ = d.boolean(name, false)
		}
	}
	for _, ro := range o.objects("roles") {
		r, err := roleFromJSON(ro)
		if err != nil {
			return nil, err
		}
		if r != nil && st.roles[r.name] == nil {
			st.roles[r.name] = r
		}
	}
	for _, co := range o.objects("clients") {
		c, err := st.clientFromFile(co)
		if err != nil {
			return nil, err
		}
		if c != nil && st.clients[c.username] == nil {
			st.clients[c.username] = c
		}
	}
	for _, g := range o.objects("groups") {
		name, tn, td := fileEntry(g, "groupname")
		if name == "" || st.groups[name] != nil {
			continue
		}
		gr := &group{name: name, textName: tn, textDescription: td}
		gr.roles = st.roleLinks(g)
		st.groups[name] = gr
		for _, cm := range g.objects("clients") {
			u, _, _ := cm.str("username")
			p, _ := cm.integer("priority", noPriority)
			if c := st.clients[u]; c != nil && !inGroup(c, gr) {
				addToGroup(c, gr, p)
			}
		}
	}
	if name, _, _ := o.str("anonymousGroup"); name != "" {
		st.anonGroup = st.groups[name]
	}
	return st, nil
}

// roleLinks reads a "roles" array of links, dropping unknown roles.
func (st *state) roleLinks(o obj) []roleLink {
	var out []roleLink
	for _, rm := range o.objects("roles") {
		name, _, _ := rm.str("rolename")
		p, _ := rm.integer("priority", noPriority)
		if r := st.roles[name]; r != nil && !hasRole(out, r) {
			out = append(out, roleLink{r, p})
		}
	}
	sortRoles(out)
	return out
}

// fileEntry reads what a client, group or role has in the file: its name,
// under key ("" if missing or not a string: the entry is passed over),
// text name and text description.
func fileEntry(o obj, key string) (name, textName, textDescription string) {
	name, _, _ = o.str(key)
	textName, _, _ = o.str("textname")
	textDescription, _, _ = o.str("textdescription")
	return name, textName, textDescription
}

func roleFromJSON(o obj) (*role, error) {
	name, tn, td := fileEntry(o, "rolename")
	if name == "" {
		return nil, nil
	}
	r := &role{name: name, textName: tn, textDescription: td}
	r.allowWildcardSubs, _ = o.boolean("allowwildcardsubs", true)
	for _, a := range o.objects("acls") {
		typ, _, _ := a.str("acltype")
		t, _, _ := a.str("topic")
		i := aclTypeIndex(typ)
		if i < 0 || t == "" || findACL(r.acls[i], t) >= 0 {
			continue
		}
		p, _ := a.integer("priority", 0)
		allow, _ := a.boolean("allow", false)
		r.acls[i] = insertACL(r.acls[i], newACL(t, p, allow))
	}
	return r, nil
}

// clientFromFile reads a client, with its password in either format:
// 2.1's encoded_password, or 2.0's password, salt and iterations.
func (st *state) clientFromFile(o obj) (*client, error) {
	name, tn, td := fileEntry(o, "username")
	if name == "" {
		return nil, nil
	}
	c := &client{username: name, textName: tn, textDescription: td}
	c.clientID, _, _ = o.str("clientid")
	c.disabled, _ = o.boolean("disabled", false)
	c.roles = st.roleLinks(o)
	if enc, _, _ := o.str("encoded_password"); enc != "" {
		c.password = enc
	} else if pw, _, _ := o.str("password"); pw != "" {
		salt, _, _ := o.str("salt")
		n, _ := o.integer("iterations", 0)
		if salt == "" || n <= 0 {
			return nil, fmt.Errorf("client %q: password without salt or iterations", name)
		}
		c.password = "$7$" + strconv.Itoa(n) + "$" + salt + "$" + pw
	}
	return c, nil
}

// save writes st to path atomically: a temporary file in the same
// directory, written and synced, renamed over path, and the directory
// synced, so that a crash leaves the old file or the new one, never a
// mixture.
func save(path string, data []byte) error {
	if err := atomicfile.Write(path, data, filepath.Base(path)+".new*"); err != nil {
		return fmt.Errorf("dynsec: saving: %w", err)
	}
	return nil
}

// removeStale removes the temporary files of saves a crash interrupted.
func removeStale(path string) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(filepath.Base(path))+".new*"))
	for _, f := range stale {
		os.Remove(f)
	}
}

// globEscape escapes the characters filepath.Match gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// loadOrCreate loads o.ConfigFile, writing the default configuration
// first if it does not exist.
func loadOrCreate(o Options) (*state, error) {
	st, err := load(o.ConfigFile)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	if err := WriteDefault(o); err != nil {
		return nil, err
	}
	return load(o.ConfigFile)
}

// WriteDefault writes Mosquitto 2.1's default configuration to
// o.ConfigFile: the roles client, broker-admin, dynsec-admin, super-admin,
// sys-notify, sys-observe and topic-observe, the anonymous group
// "unauthenticated", and the client "admin" (roles super-admin,
// sys-observe, topic-observe) whose password is the first line of
// o.PasswordInitFile, else o.PasswordEnv (at least 12 characters), else
// random; with a random password a client "democlient" (role client) is
// made too, and both passwords are written to ConfigFile + ".pw".
func WriteDefault(o Options) error {
	st := newState()
	full := func(name, filter string) {
		r := &role{name: name, allowWildcardSubs: true}
		for _, i := range []int{0, 1, 3, 5} {
			r.acls[i] = []*acl{newACL(filter, 0, true)}
		}
		st.roles[name] = r
	}
	full("client", "#")
	full("broker-admin", "$CONTROL/broker/#")
	full("dynsec-admin", "$CONTROL/dynamic-security/#")
	full("super-admin", "$CONTROL/#")
	notify := &role{name: "sys-notify", allowWildcardSubs: true}
	notify.acls[0] = []*acl{newACL("$SYS/broker/connection/%c/state", 0, true)}
	st.roles[notify.name] = notify
	observe := &role{name: "sys-observe", allowWildcardSubs: true}
	observe.acls[1] = []*acl{newACL("$SYS/#", 0, true)}
	observe.acls[3] = []*acl{newACL("$SYS/#", 0, true)}
	st.roles[observe.name] = observe
	tobs := &role{name: "topic-observe", allowWildcardSubs: true}
	for _, i := range []int{1, 3, 5} {
		tobs.acls[i] = []*acl{newACL("#", 0, true)}
	}
	st.roles[tobs.name] = tobs
	anon := &group{name: "unauthenticated", textName: "Unauthenticated group"}
	st.groups[anon.name] = anon
	st.anonGroup = anon

	pw, random, err := initialPassword(o)
	if err != nil {
		return err
	}
	admin := &client{username: "admin", textName: "Admin user"}
	for _, r := range []string{"super-admin", "sys-observe", "topic-observe"} {
		admin.roles = linkRole(admin.roles, st.roles[r], noPriority)
	}
	if admin.password, err = hashPassword(pw); err != nil {
		return err
	}
	st.clients[admin.username] = admin
	if random {
		demoPW := randomPassword()
		demo := &client{username: "democlient", roles: []roleLink{{st.roles["client"], noPriority}}}
		if demo.password, err = hashPassword(demoPW); err != nil {
			return err
		}
		st.clients[demo.username] = demo
		if err := save(o.ConfigFile+".pw", []byte("admin "+pw+"\ndemoclient "+demoPW+"\n")); err != nil {
			return err
		}
	}
	return save(o.ConfigFile, st.encode())
}

// initialPassword returns the admin password of a default configuration
// and whether it was made at random.
func initialPassword(o Options) (string, bool, error) {
	if o.PasswordInitFile != "" {
		f, err := os.Open(o.PasswordInitFile)
		if err != nil {
			return "", false, fmt.Errorf("dynsec: password init file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		line := ""
		if sc.Scan() {
			line = strings.TrimRight(sc.Text(), " \t\r\n")
		}
		if line == "" {
			return "", false, fmt.Errorf("dynsec: password init file %s: the first line is empty", o.PasswordInitFile)
		}
		return line, false, nil
	}
	if o.PasswordEnv != "" {
		if utf8.RuneCountInString(o.PasswordEnv) < 12 {
			return "", false, errors.New("dynsec: MOSQUITTO_DYNSEC_PASSWORD must be at least 12 characters")
		}
		return o.PasswordEnv, false, nil
	}
	return randomPassword(), true, nil
}

// randomPassword returns 20 random characters.
func randomPassword() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
