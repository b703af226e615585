package dynsec_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/dynsec"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// A Mosquitto 2.0 file (password, salt, iterations, as "mosquitto_ctrl
// dynsec init" writes it, with keys in any case) is read; midge writes
// it back in 2.1's format (encoded_password $7$1000$ with a 64-byte salt),
// which it reads too, and which survives a restart unchanged.
func TestFileFormats(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ds.json")
	// A 2.0 hash: PBKDF2-SHA512, 101 iterations, 12-byte salt.
	h, err := auth.HashPassword(adminPassword, auth.SHA512PBKDF2, 101)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(h, "$") // "", "7", "101", salt, hash
	file20 := fmt.Sprintf(`{"clients":[{"username":"admin","textName":"Dynsec admin user","password":%q,"salt":%q,"iterations":101,
		"roles":[{"rolename":"admin"}]}],
		"roles":[{"rolename":"admin","acls":[{"acltype":"publishClientSend","topic":"$CONTROL/dynamic-security/#","allow":true},
		{"acltype":"publishClientReceive","topic":"$CONTROL/dynamic-security/#","allow":true},
		{"acltype":"subscribePattern","topic":"$CONTROL/dynamic-security/#","allow":true}]}],
		"defaultACLAccess":{"publishClientSend":false,"publishClientReceive":true,"subscribe":false,"unsubscribe":true}}`, f[4], f[3])
	if err := os.WriteFile(path, []byte(file20), 0o600); err != nil {
		t.Fatal(err)
	}
	ds, err := dynsec.Open(dynsec.Options{ConfigFile: path})
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, ds, path, false)
	r := e.one(t, `{"command":"getClient","username":"admin"}`)
	if got := fmt.Sprint(r["data"]); !strings.Contains(got, "textname:Dynsec admin user") {
		t.Errorf("textName read as %s", got)
	}
	e.ok(t, `{"command":"createClient","username":"u","password":"pw"}`)

	var saved map[string]any
	b := testutil.ReadFile(t, path)
	if err := json.Unmarshal([]byte(b), &saved); err != nil {
		t.Fatalf("saved file: %v\n%s", err, b)
	}
	if !strings.Contains(b, "\n\t\"") {
		t.Errorf("the file is not tab-indented:\n%s", b)
	}
	for _, c := range saved["clients"].([]any) {
		c := c.(map[string]any)
		enc, _ := c["encoded_password"].(string)
		if c["password"] != nil || c["salt"] != nil || !strings.HasPrefix(enc, "$7$") {
			t.Errorf("client saved as %v", c)
		}
		if c["username"] == "u" {
			p := strings.Split(enc, "$")
			if p[2] != "1000" || len(p[3]) != 88 { // 64 bytes in base64
				t.Errorf("new hash %s: want 1000 iterations and a 64-byte salt", enc)
			}
			if ok, err := auth.VerifyHash(enc, "pw"); !ok || err != nil {
				t.Errorf("the auth package does not verify %s: %v", enc, err)
			}
		}
	}
	if saved["changeIndex"] != 1.0 {
		t.Errorf("changeIndex %v", saved["changeIndex"])
	}

	// Restart on the 2.1 file: everyone logs in, and the state is the same.
	ds2, err := dynsec.Open(dynsec.Options{ConfigFile: path})
	if err != nil {
		t.Fatal(err)
	}
	e2 := startEnv(t, ds2, path, false)
	e2.login(t, 5, "u1", "u", "pw")
	if got := e2.one(t, `{"command":"getDetails"}`)["data"]; fmt.Sprint(got) != "map[changeIndex:1 clientCount:2 groupCount:0 roleCount:1]" {
		t.Errorf("after a restart: %v", got)
	}
}

// Without a file, Mosquitto 2.1's default one is made: the admin's
// password from the environment variable, or random ones written to
// FILE.pw for admin and democlient.
func TestDefaultFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if _, err := dynsec.Open(dynsec.Options{ConfigFile: path, PasswordEnv: "short"}); err == nil {
		t.Error("a password of 5 characters was taken")
	}
	ds, err := dynsec.Open(dynsec.Options{ConfigFile: path, PasswordEnv: "from-the-environment"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, ds, path, "from-the-environment")
	r := e.one(t, `{"command":"listRoles"}`)
	if got := fmt.Sprint(r["data"]); got != "map[roles:[broker-admin client dynsec-admin super-admin sys-notify sys-observe topic-observe] totalCount:7]" {
		t.Errorf("roles %s", got)
	}

	path = filepath.Join(dir, "b.json")
	ds, err = dynsec.Open(dynsec.Options{ConfigFile: path})
	if err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(path + ".pw")
	if err != nil {
		t.Fatal(err)
	}
	var admin, demo string
	fmt.Sscanf(string(pw), "admin %s\ndemoclient %s\n", &admin, &demo)
	if len(admin) != 20 || len(demo) != 20 {
		t.Fatalf("passwords file %q", pw)
	}
	e = newEnvWith(t, ds, path, admin)
	c := e.login(t, 5, "demo", "democlient", demo)
	if got := sub(t, c, 1, "$CONTROL/dynamic-security/#"); got != packet.NotAuthorized {
		t.Errorf("democlient may subscribe to $CONTROL: %v", got)
	}
	if got := sub(t, c, 2, "any/topic"); got != 1 {
		t.Errorf("democlient subscribing: %v", got)
	}
}

// newEnvWith starts a broker with ds and logs the admin in with pw.
func newEnvWith(t *testing.T, ds *dynsec.Security, path, pw string) *env {
	t.Helper()
	return startEnvPW(t, ds, path, pw)
}

// saveLoopEnv names the file TestSaveLoopHelper changes in a loop.
const saveLoopEnv = "MIDGE_DYNSEC_SAVE_LOOP"

// TestSaveLoopHelper is the process TestCrashDuringSave kills: it changes
// the file as fast as it can.
func TestSaveLoopHelper(t *testing.T) {
	path := os.Getenv(saveLoopEnv)
	if path == "" {
		t.Skip("run by TestCrashDuringSave")
	}
	for i := 0; ; i++ {
		req := fmt.Sprintf(`{"commands":[{"command":"createClient","username":"user%d","password":"p"},{"command":"createRole","rolename":"role%d","acls":[{"acltype":"subscribePattern","topic":"t/%d/#","allow":true}]}]}`, i, i, i)
		if _, err := dynsec.ApplyFile(path, []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashDuringSave kills a process that saves the file in a loop, many
// times, at moments spread over its saves: the file is always a complete
// configuration, with a client for every role, never a half-written one.
func TestCrashDuringSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ds.json")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	last := -1
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSaveLoopHelper$")
		cmd.Env = append(os.Environ(), saveLoopEnv+"="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until it has saved a few times more.
		deadline := time.Now().Add(30 * time.Second)
		for changeIndex(t, path) < last+2*(round+1) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("the helper does not save")
			}
			time.Sleep(time.Millisecond) // polling a file another process writes
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		n := changeIndex(t, path)
		if n < last {
			t.Fatalf("round %d: changeIndex went back from %d to %d", round, last, n)
		}
		last = n
	}
	// Opening the file removes what killed saves left behind.
	if _, err := dynsec.Open(dynsec.Options{ConfigFile: path}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + ".new*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// changeIndex loads the file as dynsec does and checks that it is whole:
// every batch made a user and a role, so there are as many of each.
func changeIndex(t *testing.T, path string) int {
	t.Helper()
	b := testutil.ReadFile(t, path)
	if len(b) == 0 {
		return -1
	}
	var f struct {
		ChangeIndex int
		Clients     []any
		Roles       []any
	}
	if err := json.Unmarshal([]byte(b), &f); err != nil {
		t.Fatalf("the file is damaged: %v\n%s", err, b)
	}
	if len(f.Clients) != len(f.Roles) || 2*len(f.Clients) != f.ChangeIndex {
		t.Fatalf("the file is inconsistent: %d clients, %d roles, changeIndex %d", len(f.Clients), len(f.Roles), f.ChangeIndex)
	}
	return f.ChangeIndex
}
