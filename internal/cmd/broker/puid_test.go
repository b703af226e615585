//go:build unix

package broker

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestResolveDropUser(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	tests := []struct {
		name              string
		env               map[string]string
		wantUID, wantGID  string
		wantNil           bool
		wantErr, wantName string
	}{
		{name: "root", wantNil: true},
		{name: "nobody", env: map[string]string{"PUID": "4321"}, wantUID: "4321", wantGID: "4321"}, // PUID wins over user
		{name: "nobody", env: map[string]string{"PUID": "4321", "PGID": "99"}, wantUID: "4321", wantGID: "99"},
		{name: "", env: map[string]string{"PUID": "0"}, wantNil: true}, // root: stays, with the warning
		{name: "nobody", env: map[string]string{"PUID": "bob"}, wantErr: "Invalid PUID 'bob'"},
		{name: "nobody", env: map[string]string{"PGID": "-1"}, wantErr: "Invalid PGID '-1'"},
		{name: "no-such-user-midge", wantErr: "Unable to drop privileges to 'no-such-user-midge' because this user does not exist."},
		{name: "nobody", env: map[string]string{"PGID": "4242"}, wantGID: "4242", wantName: "nobody"}, // PGID alone: the user's group replaced
	}
	for _, tt := range tests {
		u, err := resolveDropUser(tt.name, env(tt.env), nil)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q %v: error %v, want %q", tt.name, tt.env, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%q %v: %v", tt.name, tt.env, err)
		case tt.wantNil:
			if u != nil {
				t.Errorf("%q %v: %+v, want none", tt.name, tt.env, u)
			}
		case u == nil:
			t.Errorf("%q %v: nil", tt.name, tt.env)
		default:
			if tt.wantUID != "" && u.Uid != tt.wantUID || u.Gid != tt.wantGID || tt.wantName != "" && u.Username != tt.wantName {
				t.Errorf("%q %v: uid %s gid %s name %q", tt.name, tt.env, u.Uid, u.Gid, u.Username)
			}
		}
	}
}

// TestPUIDPGID starts the broker binary as root with PUID and PGID set, as
// a container would, and reads the identity of the running process: the
// numbers given, though no user has them and the configuration names
// another user.
func TestPUIDPGID(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the privilege tests must run as root in CI")
		}
		t.Skip("needs root: the broker drops privileges only when started as root")
	}
	dir, port := worldDir(t), freePort(t)
	logf := filepath.Join(dir, "m.log")
	conf := filepath.Join(dir, "m.conf")
	os.WriteFile(conf, []byte("user nobody\nlistener "+port+" 127.0.0.1\nlog_dest file "+logf+"\n"), 0o644)
	cmd := exec.Command(midgeBinary(t), "-c", conf)
	cmd.Env = append(os.Environ(), "PUID=54321", "PGID=54320")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitLog(t, logf, "running as uid 54321, gid 54320.")
	status := func(field string) string {
		f, err := os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
				return strings.Join(strings.Fields(v), " ")
			}
		}
		return ""
	}
	if runtimeLinux() {
		if got := status("Uid"); got != "54321 54321 54321 54321" {
			t.Errorf("Uid %q", got)
		}
		if got := status("Gid"); got != "54320 54320 54320 54320" {
			t.Errorf("Gid %q", got)
		}
		if got := status("Groups"); got != "54320" {
			t.Errorf("Groups %q", got)
		}
	}
}

func runtimeLinux() bool { _, err := os.Stat("/proc/self/status"); return err == nil }
