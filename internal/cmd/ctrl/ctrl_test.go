package ctrl

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// result is what one run printed and returned.
type result struct {
	out, err string
	code     int
}

// runWith runs the ctrl command as mosquitto_ctrl with args, input on
// stdin and env for the options file.
func runWith(t *testing.T, env map[string]string, input string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	st := base.Streams{In: strings.NewReader(input), Out: &out, Err: &errb}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := run(context.Background(), "mosquitto_ctrl", args, st, lookup)
	return result{out.String(), errb.String(), code}
}

const warning = "Warning: You are running mosquitto_ctrl without encryption.\nThis means all of the configuration changes you are making are visible on the network, including passwords.\n\n"

// TestRequestPayloads checks the JSON each command line sends: cJSON's
// member order, priorities and counts only when given, 2.1's "allow".
func TestRequestPayloads(t *testing.T) {
	f := startFake(t, func(_, payload string) string { return `{"responses":[{"command":"x"}]}` })
	for _, c := range []struct {
		args  []string
		input string
		want  string
	}{
		{[]string{"dynsec", "setDefaultACLAccess", "subscribe", "allow"}, "",
			`{"commands":[{"command":"setDefaultACLAccess","acls":[{"acltype":"subscribe","allow":true}]}]}`},
		{[]string{"dynsec", "createClient", "u", "-c", "id", "-p", "pw"}, "",
			`{"commands":[{"command":"createClient","username":"u","clientid":"id","password":"pw"}]}`},
		{[]string{"dynsec", "createClient", "u"}, "a\na\n",
			`{"commands":[{"command":"createClient","username":"u","password":"a"}]}`},
		{[]string{"dynsec", "createClient", "u", "--no-password"}, "",
			`{"commands":[{"command":"createClient","username":"u"}]}`},
		{[]string{"dynsec", "addGroupClient", "g", "u", "5"}, "",
			`{"commands":[{"command":"addGroupClient","username":"u","groupname":"g","priority":5}]}`},
		{[]string{"dynsec", "addClientRole", "u", "r", "-1"}, "",
			`{"commands":[{"command":"addClientRole","username":"u","rolename":"r"}]}`},
		{[]string{"dynsec", "ADDROLEACL", "r", "subscribepattern", "a/\"b\"", "Deny", "7"}, "",
			`{"commands":[{"command":"addRoleACL","rolename":"r","acltype":"subscribepattern","topic":"a/\"b\"","allow":false,"priority":7}]}`},
		{[]string{"dynsec", "listClients", "0", "3"}, "",
			`{"commands":[{"command":"listClients","offset":3}]}`},
		{[]string{"dynsec", "setClientId", "u"}, "",
			`{"commands":[{"command":"setClientId","username":"u"}]}`},
		{[]string{"broker", "listListeners"}, "",
			`{"commands":[{"command":"listListeners"}]}`},
	} {
		before := len(f.sent())
		r := runWith(t, nil, c.input, append([]string{"-p", f.port}, c.args...)...)
		sent := f.sent()
		if r.code != 0 || len(sent) != before+1 || sent[before] != c.want {
			t.Errorf("%q: exit %d, stderr %q, sent %q, want %s", c.args, r.code, r.err, sent[before:], c.want)
		}
	}
}

// TestPrintedAnswers checks how answers are printed, including 2.1's
// getClient with connections, verbose lists and broken answers.
func TestPrintedAnswers(t *testing.T) {
	var answer string
	f := startFake(t, func(_, _ string) string { return answer })
	for _, c := range []struct {
		answer  string
		args    []string
		out, er string
	}{
		{`{"responses":[{"command":"getClient","data":{"client":{"username":"u","clientid":"c","disabled":false,` +
			`"roles":[{"rolename":"r","priority":3}],"groups":[{"groupname":"g"}],"connections":[{"address":"127.0.0.1"},{"address":"::1"}]}}}]}`,
			[]string{"dynsec", "getClient", "u"},
			"Username:    u\nClientid:    c\nDisabled:    false\nRoles:       r (priority: 3)\nGroups:      g (priority: -1)\n" +
				"Connections: 127.0.0.1\n             ::1\n", ""},
		{`{"responses":[{"command":"getClient","data":{"client":{"username":"u","roles":[]}}}]}`,
			[]string{"dynsec", "getClient", "u"}, "Username: u\nClientid:\nGroups:\n", ""},
		{`{"responses":[{"command":"listClients","data":{"totalCount":2,"clients":[{"username":"a"},{"username":"b"},7]}}]}`,
			[]string{"dynsec", "listClients"}, "a\nb\n", ""},
		{`{"responses":[{"command":"getRole","data":{"role":{"rolename":"r","acls":[{"acltype":"subscribeLiteral","topic":"t","allow":false},` +
			`{"acltype":"publishClientSend","topic":"#","allow":true,"priority":9}]}}}]}`,
			[]string{"dynsec", "getRole", "r"},
			"Rolename: r\nACLs:     subscribeLiteral     : deny  : t (priority: -1)\n          publishClientSend    : allow : # (priority: 9)\n", ""},
		{`{"responses":[{"command":"getGroup","data":{"group":{"groupname":"g","roles":[{"rolename":"r","priority":1}],"clients":[{"username":"u"}]}}}]}`,
			[]string{"dynsec", "getGroup", "g"}, "Groupname: g\nRoles:     r (priority: 1)\nClients:   u\n", ""},
		{`{"responses":[{"command":"getAnonymousGroup","data":{"group":{"groupname":""}}}]}`,
			[]string{"dynsec", "getAnonymousGroup"}, "\n", ""},
		{`{"responses":[{"command":"deleteClient","error":"Client not found"}]}`,
			[]string{"dynsec", "deleteClient", "u"}, "", "deleteClient: Error: Client not found\n"},
		{`not json`, []string{"dynsec", "listRoles"}, "", "Error: Payload not JSON.\n"},
		{`{"responses":[]}`, []string{"dynsec", "listRoles"}, "", "Error: Payload missing data.\n"},
		{`{"responses":[{"command":"getRole"}]}`, []string{"dynsec", "getRole", "r"}, "", "Error: Invalid response from server.\n"},
		{`{"responses":[{"command":"listPlugins","data":{"plugins":[{"name":"dynsec","version":"1.0","control-endpoints":["$CONTROL/a/v1","$CONTROL/b/v1"]}]}}]}`,
			[]string{"broker", "listPlugins"},
			"Plugin:            dynsec\nVersion:           1.0\nControl endpoints: $CONTROL/a/v1\n                   $CONTROL/b/v1\n", ""},
		{`{"responses":[{"command":"listListeners","data":{"listeners":[{"port":1883,"protocol":"mqtt","tls":false},{"port":0,"socket-path":"/s","bind-address":"x","tls":true}]}}]}`,
			[]string{"broker", "listListeners"},
			"Listener 1:\n  Port:              1883\n  Protocol:          mqtt\n  TLS:               false\n\n" +
				"Listener 2:\n  Port:              0\n  Socket path:       /s\n  Bind address:      x\n  TLS:               true\n\n", ""},
		{`{"responses":[{"command":"listPlugins","error":"endpoint not available"}]}`,
			[]string{"broker", "listPlugins"}, "", "listPlugins: Error: endpoint not available.\n"},
	} {
		answer = c.answer
		r := runWith(t, nil, "", append([]string{"-p", f.port}, c.args...)...)
		if r.code != 0 || r.out != c.out || r.err != warning+c.er {
			t.Errorf("%q answered %s:\nexit %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", c.args, c.answer, r.code, r.out, c.out, r.err, warning+c.er)
		}
	}
}

// TestOptionsFile checks that the options file is read before the
// command line (so the command line wins, as in Mosquitto 2.0.11), that
// -o names another (2.1), and what a refused line does.
func TestOptionsFile(t *testing.T) {
	f := startFake(t, func(_, _ string) string { return `{"responses":[{"command":"listRoles","data":{"roles":["r"]}}]}` })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mosquitto_ctrl"), []byte("# comment\n-p 1\n-i   fromfile\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CONFIG_HOME": dir}
	r := runWith(t, env, "", "-p", f.port, "dynsec", "listRoles")
	if r.code != 0 || r.out != "r\n" {
		t.Fatalf("with the default options file: %+v", r)
	}
	f.mu.Lock()
	id := f.connects[len(f.connects)-1].ClientID
	f.mu.Unlock()
	if id != "fromfile" {
		t.Errorf("client id %q, want the file's", id)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("-p "+f.port+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runWith(t, env, "", "-d", "-o", other, "dynsec", "listRoles"); r.code != 0 || r.out != "r\n" {
		t.Errorf("with -o: %+v", r)
	}
	if err := os.WriteFile(other, []byte("-q 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runWith(t, env, "", "-o", other, "-p", f.port, "dynsec", "listRoles")
	want := result{"", "Error: Invalid QoS given: 7\nError: Module '-o' not supported.\n", 10}
	if r != want {
		t.Errorf("with a refused line in -o's file: %+v, want %+v", r, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto_ctrl"), []byte("-q 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runWith(t, env, "", "dynsec", "listRoles")
	want = result{"", "Error: Invalid QoS given: 7\n" + warning + "Unable to connect (Invalid function arguments provided.).\n", 3}
	if r != want {
		t.Errorf("with a refused line in the default file: %+v, want %+v", r, want)
	}
}

// TestInit checks the file "dynsec init" writes: cJSON_Print's layout, a
// password its hash verifies, private permissions, and no overwriting.
func TestInit(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dynsec.json")
	r := runWith(t, nil, "", "dynsec", "init", file, "boss", "s3cret")
	if r.code != 0 || r.err != "" || !strings.HasPrefix(r.out, "The client 'boss' has been created in the file '"+file+"'.\n") {
		t.Fatalf("init: %+v", r)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm()&0o027 != 0 {
		t.Errorf("mode %v: readable by others", fi.Mode())
	}
	if !strings.HasPrefix(string(data), "{\n\t\"clients\":\t[{\n\t\t\t\"username\":\t\"boss\",\n\t\t\t\"textName\":\t\"Dynsec admin user\",\n") ||
		!strings.HasSuffix(string(data), "\t\t\"unsubscribe\":\ttrue\n\t}\n}") {
		t.Errorf("layout:\n%s", data)
	}
	var v struct {
		Clients []struct {
			Password, Salt string
			Iterations     int
		}
	}
	if err := json.Unmarshal(data, &v); err != nil || len(v.Clients) != 1 {
		t.Fatalf("%v: %s", err, data)
	}
	c := v.Clients[0]
	salt, _ := base64.StdEncoding.DecodeString(c.Salt)
	hash, _ := pbkdf2.Key(sha512.New, "s3cret", salt, c.Iterations, 64)
	if c.Iterations != 101 || len(salt) != 12 || base64.StdEncoding.EncodeToString(hash) != c.Password {
		t.Errorf("password hash does not verify: %+v", c)
	}
	r = runWith(t, nil, "", "dynsec", "init", file, "boss", "other")
	if r.code != 0 || r.err != "dynsec init: '"+file+"' already exists. Remove the file or use a different location..\n" {
		t.Errorf("init over an existing file: %+v", r)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, data) {
		t.Errorf("init replaced the file")
	}
}

// TestUsageUnderMidgeName checks that "midge ctrl" names itself and its
// modules.
func TestUsageUnderMidgeName(t *testing.T) {
	var out bytes.Buffer
	code := Run(context.Background(), "midge ctrl", nil, base.Streams{Out: &out, Err: &out})
	s := out.String()
	if code != 1 || !strings.HasPrefix(s, "midge ctrl is a tool for administering certain Mosquitto features.\nmidge ctrl version ") ||
		!strings.Contains(s, "Modules available: dynsec, broker\n") || strings.Contains(s, "mosquitto_ctrl <module>") {
		t.Errorf("exit %d:\n%s", code, s)
	}
}

// TestPrettyLayout compares pretty with cJSON_Print's layout of nested
// objects, arrays and empty values.
func TestPrettyLayout(t *testing.T) {
	v := (&object{}).add("a", []any{(&object{}).add("b", 1).add("c", []any{}), (&object{}).add("d", "x\ty")}).
		add("e", (&object{}).add("f", false)).add("g", []any{"s", 2})
	want := "{\n\t\"a\":\t[{\n\t\t\t\"b\":\t1,\n\t\t\t\"c\":\t[]\n\t\t}, {\n\t\t\t\"d\":\t\"x\\ty\"\n\t\t}],\n" +
		"\t\"e\":\t{\n\t\t\"f\":\tfalse\n\t},\n\t\"g\":\t[\"s\", 2]\n}"
	if got := pretty(v); got != want {
		t.Errorf("pretty:\n%s\nwant:\n%s", got, want)
	}
	if got := compact(v); got != `{"a":[{"b":1,"c":[]},{"d":"x\ty"}],"e":{"f":false},"g":["s",2]}` {
		t.Errorf("compact: %s", got)
	}
}

// TestEmptyClientID checks that -i ” is refused: Mosquitto's tool cannot
// make a client with it and fails on the credentials (or crashes without
// any).
func TestEmptyClientID(t *testing.T) {
	r := runWith(t, nil, "", "-i", "", "-p", "1", "dynsec", "listClients")
	if want := (result{"", warning + "Error: Invalid client id.\n", 1}); r != want {
		t.Errorf("-i '': %+v, want %+v", r, want)
	}
}

// TestFileSetPassword checks -f: the password changed in the file without
// a broker, and an unknown client or file refused.
func TestFileSetPassword(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dynsec.json")
	if r := runWith(t, nil, "", "dynsec", "init", file, "admin", "old"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	before, _ := os.ReadFile(file)
	if r := runWith(t, nil, "", "-f", file, "dynsec", "setClientPassword", "admin", "new"); r != (result{}) {
		t.Errorf("-f setClientPassword: %+v", r)
	}
	after, _ := os.ReadFile(file)
	if bytes.Equal(before, after) || !bytes.Contains(after, []byte(`"admin"`)) {
		t.Errorf("file not changed:\n%s", after)
	}
	if r := runWith(t, nil, "", "-f", file, "dynsec", "setClientPassword", "nobody", "pw"); r != (result{"", "Error: Client nobody not found.\n", 0}) {
		t.Errorf("unknown client: %+v", r)
	}
	missing := file + ".missing"
	if r := runWith(t, nil, "", "-f", missing, "dynsec", "setClientPassword", "admin", "pw"); r != (result{"", "Error: Unable to open " + missing + ".\nError: Invalid function arguments provided.\n", 3}) {
		t.Errorf("missing file: %+v", r)
	}
	if r := runWith(t, nil, "", "-f", file, "dynsec", "setClientPassword", "admin", "pw", "-x"); r != (result{"", "Error: Unknown argument: -x\nError: Invalid function arguments provided.\n", 3}) {
		t.Errorf("unknown argument: %+v", r)
	}
}
