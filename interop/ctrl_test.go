package interop_test

// midge ctrl against Debian's mosquitto_ctrl: both administer Debian's
// mosquitto with its own Dynamic Security plugin, one broker each, started
// from the same configuration, and every command's standard output,
// standard error and exit status must be the same, byte for byte.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

const (
	mosquittoCtrl    = "/usr/bin/mosquitto_ctrl"
	dynsecPluginGlob = "/usr/lib/*/mosquitto_dynamic_security.so"
)

// dynsecPlugin returns the path of Debian's Dynamic Security plugin,
// failing the test if it or the tools are not installed.
func dynsecPlugin(t *testing.T) string {
	t.Helper()
	for _, f := range []string{debianMosquitto, mosquittoCtrl} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v; install it with: apt-get install mosquitto mosquitto-clients", err)
		}
	}
	plugins, _ := filepath.Glob(dynsecPluginGlob)
	if len(plugins) == 0 {
		t.Fatalf("no %s; install it with: apt-get install mosquitto", dynsecPluginGlob)
	}
	return plugins[0]
}

// ctrlTools returns the two tools to compare: Debian's mosquitto_ctrl, and
// midge through a link named mosquitto_ctrl.
func ctrlTools(t *testing.T) (debian, midge string) {
	t.Helper()
	link := filepath.Join(testutil.MidgeLinks(t, "mosquitto_ctrl"), "mosquitto_ctrl")
	return mosquittoCtrl, link
}

// ctrlResult is what one run of a tool did.
type ctrlResult struct {
	stdout, stderr string
	code           int
}

// runCtrl runs tool with args and input on stdin, with a HOME of its own
// (so that no options file is read).
func runCtrl(t *testing.T, home, tool, input string, args ...string) ctrlResult {
	t.Helper()
	return runCtrlIn(t, "", home, tool, input, args...)
}

// ctrlBroker is a Debian mosquitto with the Dynamic Security plugin:
// a plain TCP listener, a TLS one (its CA in ca) and a Unix socket.
type ctrlBroker struct {
	port, tlsPort, sock, ca string
}

// startDynsecMosquitto starts Debian's mosquitto on free ports of
// 127.0.0.1 with the Dynamic Security plugin and a copy of config, its
// TLS listener with a certificate of pki, and returns it once it accepts
// connections.
func startDynsecMosquitto(t *testing.T, plugin, config string, pki *testutil.PKI) ctrlBroker {
	t.Helper()
	// The broker runs as the mosquitto user and saves the plugin's file:
	// both the directory and the file must be writable for it.
	dir := worldDir(t)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	dsfile := copyFile(t, config, dir, "dynamic-security.json")
	if err := os.Chmod(dsfile, 0o666); err != nil {
		t.Fatal(err)
	}
	tlsf := newTLSFiles(t, dir, pki, "server")
	b := ctrlBroker{sock: filepath.Join(dir, "mosquitto.sock"), ca: tlsf.ca}
	_, ports := startDebianMosquitto(t, dir, 2, func(ports []string) string {
		return "per_listener_settings false\nallow_anonymous false\n" +
			"plugin " + plugin + "\nplugin_opt_config_file " + dsfile + "\n" +
			"listener " + ports[0] + " 127.0.0.1\n" + tlsf.listener(ports[1]) + "listener 0 " + b.sock + "\n"
	})
	b.port, b.tlsPort = ports[0], ports[1]
	testutil.WaitFor(t, "mosquitto's Unix socket", func() bool {
		c, err := net.Dial("unix", b.sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return b
}

// ctrlStep is one command line, with what stdin gives it.
type ctrlStep struct {
	input string
	args  []string
}

func step(args ...string) ctrlStep { return ctrlStep{args: args} }

func stepIn(input string, args ...string) ctrlStep { return ctrlStep{input: input, args: args} }

// compareCtrl runs each step with Debian's tool, its arguments after
// prefixA, and with midge's after prefixB, and reports every difference.
func compareCtrl(t *testing.T, home, debian, midge string, prefixA, prefixB []string, steps []ctrlStep) {
	t.Helper()
	compareSides(t, ctrlSide{tool: debian, home: home, prefix: prefixA}, ctrlSide{tool: midge, home: home, prefix: prefixB}, steps)
}

// ctrlSide is how compareSides runs one of the two tools: with HOME home,
// in directory dir ("" for the test's), with prefix before each step's
// arguments.
type ctrlSide struct {
	tool, home, dir string
	prefix          []string
}

// compareSides runs each step on side a (Debian's tool) and side b
// (midge's) and reports every difference.
func compareSides(t *testing.T, a, b ctrlSide, steps []ctrlStep) {
	t.Helper()
	for _, s := range steps {
		argsA := append(append([]string(nil), a.prefix...), s.args...)
		argsB := append(append([]string(nil), b.prefix...), s.args...)
		want := runCtrlIn(t, a.dir, a.home, a.tool, s.input, argsA...)
		got := runCtrlIn(t, b.dir, b.home, b.tool, s.input, argsB...)
		if got != want {
			t.Errorf("mosquitto_ctrl %q (stdin %q):\nmosquitto_ctrl: exit %d\nstdout:\n%s\nstderr:\n%s\nmidge:          exit %d\nstdout:\n%s\nstderr:\n%s",
				argsA, s.input, want.code, want.stdout, want.stderr, got.code, got.stdout, got.stderr)
		}
	}
}

// TestCtrlDynsecLikeMosquittoCtrl runs every dynsec command, and its
// mistakes, through both tools against two identical brokers.
func TestCtrlDynsecLikeMosquittoCtrl(t *testing.T) {
	plugin := dynsecPlugin(t)
	debian, midge := ctrlTools(t)
	home := t.TempDir()
	config := filepath.Join(t.TempDir(), "dynsec.json")
	if r := runCtrl(t, home, debian, "", "dynsec", "init", config, "admin", "adminpw"); r.code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %+v", r)
	}
	pki := testutil.NewPKI(t, "midge test CA")
	brokerA := startDynsecMosquitto(t, plugin, config, pki)
	brokerB := startDynsecMosquitto(t, plugin, config, pki)
	portA, portB := brokerA.port, brokerB.port
	onA, onB := []string{"-p", portA}, []string{"-p", portB}
	admin := func(args ...string) ctrlStep {
		return step(append([]string{"-u", "admin", "-P", "adminpw", "dynsec"}, args...)...)
	}
	adminIn := func(input string, args ...string) ctrlStep {
		s := admin(args...)
		s.input = input
		return s
	}
	compareCtrl(t, home, debian, midge, onA, onB, []ctrlStep{
		admin("listClients"),
		admin("getClient", "admin"),
		admin("getClient", "nobody"),
		admin("getDefaultACLAccess"),
		admin("getAnonymousGroup"),
		admin("listRoles"),
		admin("getRole", "admin"),
		admin("createClient", "u1", "-c", "cid1", "-p", "pw1"),
		admin("createClient", "u1", "-p", "again"),
		adminIn("secret\nsecret\n", "createClient", "u2"),
		adminIn("secret\nother\n", "createClient", "u3"),
		adminIn("", "createClient", "u4"),
		adminIn("half\n", "createClient", "u5"),
		admin("createClient"),
		admin("createClient", "u6", "-c"),
		admin("createClient", "u6", "-p"),
		admin("getClient", "u1"),
		admin("getClient", "u4"),
		admin("createRole", "r1"),
		admin("createRole", "r1"),
		admin("addRoleACL", "r1", "publishClientSend", "a/#", "allow", "5"),
		admin("addRoleACL", "r1", "subscribeLiteral", "b", "deny"),
		admin("addRoleACL", "r1", "unsubscribePattern", "c/+", "ALLOW", "-1"),
		admin("addRoleACL", "r1", "subscribeLiteral", "b", "deny"),
		admin("addRoleACL", "r1", "bogus", "b", "deny"),
		admin("addRoleACL", "r1", "subscribeLiteral", "b", "maybe"),
		admin("addRoleACL", "r1", "subscribeLiteral"),
		admin("getRole", "r1"),
		admin("getRole", "nothere"),
		admin("addClientRole", "u1", "r1", "3"),
		admin("addClientRole", "u1", "nothere"),
		admin("addClientRole", "u1"),
		admin("createGroup", "g1"),
		admin("createGroup", "g1"),
		admin("addGroupClient", "g1", "u1", "2"),
		admin("addGroupClient", "g1", "u2"),
		admin("addGroupClient", "g1", "nobody"),
		admin("addGroupRole", "g1", "r1"),
		admin("addGroupRole", "g1", "r1", "4"),
		admin("getGroup", "g1"),
		admin("getGroup", "nothere"),
		admin("getClient", "u1"),
		admin("listGroups"),
		admin("listClients", "2"),
		admin("listClients", "2", "1"),
		admin("listClients", "-1", "0"),
		admin("listClients", "1", "2", "3"),
		admin("createGroup", "anon"),
		admin("setAnonymousGroup", "anon"),
		admin("setAnonymousGroup", "nothere"),
		admin("getAnonymousGroup"),
		admin("disableClient", "u1"),
		admin("getClient", "u1"),
		admin("enableClient", "u1"),
		admin("disableClient", "nobody"),
		admin("getClient", "u1"),
		admin("setClientId", "u1"),
		admin("setClientId", "u1", "cid9"),
		admin("setClientId", "nobody", "x"),
		admin("setClientPassword", "u1", "newpw"),
		adminIn("p\np\n", "setClientPassword", "u1"),
		adminIn("p\nq\n", "setClientPassword", "u1"),
		adminIn("", "setClientPassword", "u1"),
		admin("setClientPassword", "nobody", "pw"),
		admin("setClientPassword"),
		admin("setDefaultACLAccess", "nothing", "allow"),
		admin("setDefaultACLAccess", "subscribe", "perhaps"),
		admin("setDefaultACLAccess", "subscribe"),
		admin("removeClientRole", "u1", "r1"),
		admin("removeClientRole", "u1", "r1"),
		admin("removeGroupClient", "g1", "u1"),
		admin("removeGroupClient", "g1", "u1"),
		admin("removeGroupRole", "g1", "r1"),
		admin("removeGroupRole", "g1", "r1"),
		admin("removeRoleACL", "r1", "subscribeLiteral", "b"),
		admin("removeRoleACL", "r1", "subscribeLiteral", "b"),
		admin("removeRoleACL", "r1", "bogus", "b"),
		admin("getRole", "r1"),
		admin("deleteRole", "r1"),
		admin("deleteRole", "r1"),
		admin("deleteGroup", "g1"),
		admin("deleteGroup", "g1"),
		admin("deleteClient", "u1"),
		admin("deleteClient", "u1"),
		admin("GETCLIENT", "admin"),
		admin("listclients"),
		admin("nocommand"),
		admin("help"),
		admin(),
		// Other users, protocol versions and QoS.
		step("-u", "admin", "-P", "wrong", "dynsec", "listClients"),
		step("-u", "admin", "-P", "wrong", "-V", "311", "dynsec", "listClients"),
		step("-u", "u2", "-P", "secret", "dynsec", "listClients"),
		step("-u", "u2", "-P", "secret", "-V", "311", "dynsec", "listClients"),
		step("dynsec", "listClients"),
		step("-u", "admin", "-P", "adminpw", "-V", "mqttv311", "-q", "0", "dynsec", "listGroups"),
		step("-u", "admin", "-P", "adminpw", "-q", "2", "dynsec", "listRoles"),
		stepIn("adminpw\n", "-u", "admin", "dynsec", "listClients"),
		stepIn("", "-u", "admin", "dynsec", "listClients"),
		step("-u", "admin", "-P", "adminpw", "-i", "ctrl-id", "dynsec", "getClient", "u2"),
		step("-u", "admin", "-P", "adminpw", "-i", "", "dynsec", "getClient", "u2"),
		step("-u", "admin", "-P", "adminpw", "--cert", "only", "dynsec", "listClients"),
		step("-u", "admin", "-P", "adminpw", "--cafile", "/nonexistent/ca.pem", "dynsec", "listClients"),
		step("-u", "admin", "-P", "adminpw", "-q", "3", "dynsec", "listClients"),
		step("-u", "admin", "-P", "adminpw", "-V", "6", "dynsec", "listClients"),
	})

	// Over TLS, through the Unix socket, and with the options file.
	login := []string{"-u", "admin", "-P", "adminpw"}
	other := testutil.NewPKI(t, "another CA")
	for _, c := range []struct{ a, b []string }{
		{[]string{"-p", brokerA.tlsPort, "--cafile", brokerA.ca}, []string{"-p", brokerB.tlsPort, "--cafile", brokerB.ca}},
		{[]string{"-h", "localhost", "-p", brokerA.tlsPort, "--cafile", brokerA.ca, "--insecure"},
			[]string{"-h", "localhost", "-p", brokerB.tlsPort, "--cafile", brokerB.ca, "--insecure"}},
		{[]string{"-p", brokerA.tlsPort, "--cafile", brokerA.ca, "--tls-version", "tlsv9"}, []string{"-p", brokerB.tlsPort, "--cafile", brokerB.ca, "--tls-version", "tlsv9"}},
		{[]string{"--unix", brokerA.sock}, []string{"--unix", brokerB.sock}},
		{[]string{"-L", "mqtt://admin:adminpw@127.0.0.1:" + portA + "/"}, []string{"-L", "mqtt://admin:adminpw@127.0.0.1:" + portB + "/"}},
	} {
		compareCtrl(t, home, debian, midge, append(c.a, login...), append(c.b, login...), []ctrlStep{
			step("dynsec", "listClients"), step("dynsec", "getClient", "u2"),
		})
	}
	// A server certificate not trusted: libmosquitto mostly fails the
	// handshake inside mosquitto_connect ("Unable to connect"), sometimes
	// in the loop, where mosquitto_ctrl says nothing and waits 10 s.
	untrusted := append([]string{"-p", portB, "--cafile", other.CAFile}, login...)
	untrusted[1] = brokerA.tlsPort
	want := runCtrl(t, home, debian, "", append(untrusted, "dynsec", "listClients")...)
	untrusted[1] = brokerB.tlsPort
	got := runCtrl(t, home, midge, "", append(untrusted, "dynsec", "listClients")...)
	tlsErr := ctrlResult{"", "Unable to connect (A TLS error occurred.).\n", 8}
	if got != tlsErr || want != tlsErr && want != (ctrlResult{}) {
		t.Errorf("untrusted server: mosquitto_ctrl %+v, midge %+v", want, got)
	}

	homeA, homeB := t.TempDir(), t.TempDir()
	for home, port := range map[string]string{homeA: portA, homeB: portB} {
		writeFile(t, home, "mosquitto_ctrl", "# options\n-p "+port+"\n-u admin\n-P adminpw\n-q 2\n")
	}
	// With an options file.
	compareSides(t, ctrlSide{tool: debian, home: homeA}, ctrlSide{tool: midge, home: homeB}, []ctrlStep{
		step("dynsec", "listClients"), step("-p", "1", "dynsec", "getClient", "u2"), step("-P", "wrong", "dynsec", "listRoles"),
	})

	// setDefaultACLAccess: 2.0.11's tool sends {"access": "allow"}, which
	// its own plugin ignores; midge sends 2.1's {"allow": true}, which both
	// versions read. The output is the same; the effect is not.
	set := admin("setDefaultACLAccess", "subscribe", "allow")
	compareCtrl(t, home, debian, midge, onA, onB, []ctrlStep{set})
	get := []string{"-u", "admin", "-P", "adminpw", "dynsec", "getDefaultACLAccess"}
	a := runCtrl(t, home, midge, "", append([]string{"-p", portA}, get...)...)
	b := runCtrl(t, home, midge, "", append([]string{"-p", portB}, get...)...)
	if !strings.Contains(a.stdout, "subscribe            : deny\n") || !strings.Contains(b.stdout, "subscribe            : allow\n") {
		t.Errorf("after setDefaultACLAccess subscribe allow by mosquitto_ctrl:\n%s\nby midge:\n%s", a.stdout, b.stdout)
	}
	// Bring broker A level with B, then compare again.
	runCtrl(t, home, midge, "", append([]string{"-p", portA}, set.args...)...)
	compareCtrl(t, home, debian, midge, onA, onB, []ctrlStep{admin("getDefaultACLAccess")})
}

// TestCtrlWithoutBrokerLikeMosquittoCtrl compares what needs no broker, or
// finds none: usage, help, refused options, unknown modules and commands,
// servers that cannot be reached.
func TestCtrlWithoutBrokerLikeMosquittoCtrl(t *testing.T) {
	dynsecPlugin(t)
	debian, midge := ctrlTools(t)
	home := t.TempDir()
	closed := freePorts(t, 1)[0] // nothing listens there now
	compareCtrl(t, home, debian, midge, nil, nil, []ctrlStep{
		step(),
		step("dynsec"),
		step("--help"),
		step("--version"),
		step("--help", "dynsec", "listClients"),
		step("dynsec", "help"),
		step("DynSec", "HELP"),
		step("dynsec", "nocommand"),
		step("nomodule", "command"),
		step("-x", "dynsec", "listClients"),
		step("-p", "99999", "dynsec", "listClients"),
		step("-u", "admin", "-p", "99999", "dynsec", "listClients"),
		step("-p"),
		step("-h"),
		step("-u", "x", "-p"),
		step("-q", "5", "dynsec", "listClients"),
		step("-V", "7", "dynsec", "listClients"),
		step("-L", "http://x/", "dynsec", "listClients"),
		step("-L", "mqtt://host", "dynsec", "listClients"),
		step("-L", "mqtt://:pw@host/", "dynsec", "listClients"),
		step("-L", "mqtt://host:/", "dynsec", "listClients"),
		step("-p", closed, "dynsec", "listClients"),
		step("-L", "mqtt://127.0.0.1:"+closed+"/", "dynsec", "listClients"),
		step("-h", "nonexistent.invalid", "dynsec", "listClients"),
		step("--unix", filepath.Join(home, "no-socket"), "dynsec", "listClients"),
		step("dynsec", "init"),
		step("dynsec", "init", "a", "b", "c", "d"),
		step("dynsec", "listClients", "1", "2", "3"),
		step("dynsec", "getClient"),
		step("dynsec", "setDefaultACLAccess", "subscribe", "maybe"),
	})
}

// TestCtrlDynsecInitLikeMosquittoCtrl compares "dynsec init": the output,
// and the file, whose password hashes differ only by their salt.
func TestCtrlDynsecInitLikeMosquittoCtrl(t *testing.T) {
	dynsecPlugin(t)
	debian, midge := ctrlTools(t)
	home := t.TempDir()
	dirA, dirB := t.TempDir(), t.TempDir()
	compareSides(t, ctrlSide{tool: debian, home: home, dir: dirA}, ctrlSide{tool: midge, home: home, dir: dirB}, []ctrlStep{
		step("dynsec", "init", "dynsec.json", "admin", "pw"),
		step("dynsec", "init", "dynsec.json", "admin", "pw"), // exists now
		stepIn("pw2\npw2\n", "dynsec", "init", "prompted.json", "boss"),
		stepIn("pw2\nxx\n", "dynsec", "init", "mismatch.json", "boss"),
		stepIn("", "dynsec", "init", "empty.json", "boss"),
		step("dynsec", "init", filepath.Join("missing", "dir.json"), "admin", "pw"),
	})
	for _, name := range []string{"dynsec.json", "prompted.json"} {
		a, errA := os.ReadFile(filepath.Join(dirA, name))
		b, errB := os.ReadFile(filepath.Join(dirB, name))
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v, %v", name, errA, errB)
		}
		if sa, sb := saltless(t, a), saltless(t, b); !reflect.DeepEqual(sa, sb) {
			t.Errorf("%s differs:\nmosquitto_ctrl: %s\nmidge:          %s", name, a, b)
		}
		// The same layout (cJSON_Print's): equal once the hashes are.
		if la, lb := hashless(a), hashless(b); la != lb {
			t.Errorf("%s layout differs:\nmosquitto_ctrl:\n%s\nmidge:\n%s", name, la, lb)
		}
	}
	for _, name := range []string{"mismatch.json", "empty.json"} {
		if _, err := os.Stat(filepath.Join(dirB, name)); !os.IsNotExist(err) {
			t.Errorf("midge wrote %s: %v", name, err)
		}
	}
}

// runCtrlIn is runCtrl in directory dir ("" for the test's).
func runCtrlIn(t *testing.T, dir, home, tool, input string, args ...string) ctrlResult {
	t.Helper()
	r, err := execCtrl(dir, home, tool, strings.NewReader(input), args...)
	if err != nil {
		t.Fatalf("%s %q: %v", tool, args, err)
	}
	return r
}

// execCtrl runs tool with args in directory dir ("" for the test's), with
// HOME and XDG_CONFIG_HOME set to home and stdin read from stdin (nil for
// none), for at most 30 seconds. An error means it could not be run; an
// exit status other than 0 is only the result's code.
func execCtrl(dir, home, tool string, stdin io.Reader, args ...string) (ctrlResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ctrlResult{out.String(), errb.String(), ee.ExitCode()}, nil
	}
	return ctrlResult{out.String(), errb.String(), 0}, err
}

// saltless decodes a dynsec file, with the password hashes and salts
// replaced by their lengths.
func saltless(t *testing.T, data []byte) any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v:\n%s", err, data)
	}
	for _, c := range v["clients"].([]any) {
		c := c.(map[string]any)
		for _, k := range []string{"password", "salt"} {
			if s, ok := c[k].(string); ok {
				c[k] = len(s)
			}
		}
	}
	return v
}

// hashless is the file's text with the base64 values of "password" and
// "salt" blanked out.
func hashless(data []byte) string {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		for _, k := range []string{`"password":`, `"salt":`} {
			if j := strings.Index(l, k); j >= 0 {
				lines[i] = l[:j+len(k)] + " ..."
			}
		}
	}
	return strings.Join(lines, "\n")
}

// TestCtrlTimeoutLikeMosquittoCtrl asks a broker without the plugin, which
// never answers: both tools give up after 10 seconds, saying nothing.
func TestCtrlTimeoutLikeMosquittoCtrl(t *testing.T) {
	dynsecPlugin(t)
	debian, midge := ctrlTools(t)
	home := t.TempDir()
	dir := worldDir(t)
	_, ports := startDebianMosquitto(t, dir, 1, func(ports []string) string {
		return "listener " + ports[0] + " 127.0.0.1\nallow_anonymous true\n"
	})
	port := ports[0]
	var want, got ctrlResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); want = runCtrlQuiet(home, debian, "-p", port, "dynsec", "listClients") }()
	go func() { defer wg.Done(); got = runCtrlQuiet(home, midge, "-p", port, "dynsec", "listClients") }()
	wg.Wait()
	if got != want || want.code < 0 {
		t.Errorf("no answer: mosquitto_ctrl %+v, midge %+v", want, got)
	}
}

// runCtrlQuiet is runCtrl for another goroutine than the test's: a
// failure to run is an exit code of -1.
func runCtrlQuiet(home, tool string, args ...string) ctrlResult {
	r, err := execCtrl("", home, tool, nil, args...)
	if err != nil {
		r.code = -1
	}
	return r
}
