package interop_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Debian files of dynamic security: the plugin and mosquitto_ctrl.
const (
	debianDynsecPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
	debianCtrl         = "/usr/bin/mosquitto_ctrl"
	dynsecAdminPW      = "admin-password-1"
)

// dynsecBroker starts Debian's mosquitto with its dynamic security plugin
// (mosquitto true) or midge with the same configuration, on a file made by
// "mosquitto_ctrl dynsec init", and returns the port and the file.
func dynsecBroker(t *testing.T, mosquitto bool) (port, file string) {
	t.Helper()
	for _, f := range []string{debianDynsecPlugin, debianCtrl} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s not found: %v; install it with: apt-get install mosquitto mosquitto-clients", f, err)
		}
	}
	dir := worldDir(t)
	if err := os.Chmod(dir, 0o777); err != nil { // the broker's user writes the file
		t.Fatal(err)
	}
	file = filepath.Join(dir, "dynamic-security.json")
	if out, err := exec.Command(debianCtrl, "dynsec", "init", file, "admin", dynsecAdminPW).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_ctrl dynsec init: %v\n%s", err, out)
	}
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	conf := func(port string) string {
		return "listener " + port + " 127.0.0.1\nallow_anonymous false\nplugin " + debianDynsecPlugin +
			"\nplugin_opt_config_file " + file + "\n"
	}
	if mosquitto {
		_, port = startDebianMosquitto(t, dir, conf)
		return port, file
	}
	_, ports := startMidge(t, dir, 1, func(ports []string) string { return conf(ports[0]) })
	return ports[0], file
}

// ctrl runs mosquitto_ctrl as admin against port and returns its output
// (stdout then stderr) and exit status.
func ctrl(t *testing.T, port string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianCtrl, append([]string{"-h", "127.0.0.1", "-p", port, "-u", "admin", "-P", dynsecAdminPW, "dynsec"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := "exit 0"
	if err != nil {
		status = err.Error()
	}
	return stdout.String() + stderr.String() + status + "\n"
}

// dynsecCtrlScript is the administration both brokers are given.
var dynsecCtrlScript = [][]string{
	{"createClient", "u1", "-p", "pw1"},
	{"createClient", "u1", "-p", "pw1"},
	{"getClient", "u1"},
	{"getClient", "nobody"},
	{"listClients"},
	{"createRole", "r1"},
	{"createRole", "r1"},
	{"addRoleACL", "r1", "publishClientSend", "a/#", "allow", "5"},
	{"addRoleACL", "r1", "subscribeLiteral", "a/b", "deny"},
	{"addRoleACL", "r1", "subscribePattern", "a/+", "allow", "5"},
	{"addRoleACL", "r1", "publishClientReceive", "x/%c", "allow"},
	{"addRoleACL", "r1", "publishClientSend", "a/#", "allow"},
	{"addRoleACL", "r1", "bogus", "a/#", "allow"},
	{"addRoleACL", "nope", "publishClientSend", "a/#", "allow"},
	{"getRole", "r1"},
	{"addClientRole", "u1", "r1", "3"},
	{"addClientRole", "u1", "nope"},
	{"getClient", "u1"},
	{"createGroup", "g1"},
	{"createGroup", "g1"},
	{"createGroup", "g2"},
	{"addGroupRole", "g1", "r1", "2"},
	{"addGroupClient", "g1", "u1", "4"},
	{"addGroupClient", "g2", "u1"},
	{"addGroupClient", "nope", "u1"},
	{"getGroup", "g1"},
	{"getClient", "u1"},
	{"listGroups"},
	{"listRoles"},
	{"listClients", "1"},
	{"listClients", "1", "1"},
	{"getAnonymousGroup"},
	{"setAnonymousGroup", "g2"},
	{"setAnonymousGroup", "nope"},
	{"getAnonymousGroup"},
	{"getDefaultACLAccess"},
	{"setDefaultACLAccess", "publishClientSend", "allow"},
	{"setDefaultACLAccess", "subscribe", "allow"},
	{"getDefaultACLAccess"},
	{"setClientId", "u1", "cid"},
	{"getClient", "u1"},
	{"setClientId", "u1"},
	{"setClientPassword", "u1", "pw2"},
	{"disableClient", "u1"},
	{"getClient", "u1"},
	{"enableClient", "u1"},
	{"disableClient", "nobody"},
	{"removeGroupClient", "g1", "u1"},
	{"removeGroupRole", "g1", "r1"},
	{"removeClientRole", "u1", "r1"},
	{"removeRoleACL", "r1", "publishClientSend", "a/#"},
	{"removeRoleACL", "r1", "publishClientSend", "a/#"},
	{"getRole", "r1"},
	// (Mosquitto 2.0 crashes deleting the anonymous group; 2.1 and midge
	// refuse it, see the dynsec package's tests.)
	{"createGroup", "anon"},
	{"setAnonymousGroup", "anon"},
	{"deleteGroup", "g2"},
	{"deleteGroup", "g1"},
	{"deleteGroup", "g1"},
	{"deleteRole", "r1"},
	{"deleteRole", "r1"},
	{"deleteClient", "u1"},
	{"deleteClient", "u1"},
	{"listClients"},
	{"listGroups"},
	{"listRoles"},
}

// TestDynsecMosquittoCtrl administers midge and Debian's mosquitto with
// its dynamic security plugin with Debian's mosquitto_ctrl, giving both the
// same commands, and compares the output line for line.
func TestDynsecMosquittoCtrl(t *testing.T) {
	mport, _ := dynsecBroker(t, true)
	port, _ := dynsecBroker(t, false)
	for _, args := range dynsecCtrlScript {
		want := ctrl(t, mport, args...)
		got := ctrl(t, port, args...)
		if got != want {
			t.Errorf("mosquitto_ctrl dynsec %s:\nmidge:\n%smosquitto:\n%s", strings.Join(args, " "), got, want)
		}
	}
}
