package auth_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// mosquittoPasswd runs Debian's mosquitto_passwd with args and stdin.
func mosquittoPasswd(t *testing.T, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command(testutil.NeedTool(t, "mosquitto_passwd", "mosquitto"), args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd %q: %v\n%s", args, err, out)
	}
}

// Files written by Debian's mosquitto_passwd, in every way it writes them,
// are read by LoadPasswordFile and their passwords check.
func TestMosquittoPasswdFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	mosquittoPasswd(t, "", "-c", "-b", pw, "alice", "alice's password")
	mosquittoPasswd(t, "", "-H", "sha512", "-b", pw, "bob", "b:o$b")
	mosquittoPasswd(t, "", "-I", "7", "-b", pw, "carol", "ç")
	mosquittoPasswd(t, "dave pw\ndave pw\n", pw, "dave") // prompted, stdin not a terminal
	mosquittoPasswd(t, "", "-b", pw, "erin", "")
	mosquittoPasswd(t, "", "-b", pw, "alice", "new") // changes alice

	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("frank:f1\ngina: g2 \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mosquittoPasswd(t, "", "-U", plain)

	body, err := os.ReadFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"alice:$7$101$", "bob:$6$", "carol:$7$7$", "dave:$7$101$"} {
		if !strings.Contains(string(body), "\n"+prefix) && !strings.HasPrefix(string(body), prefix) {
			t.Errorf("mosquitto_passwd wrote no line starting %q:\n%s", prefix, body)
		}
	}

	pf, err := auth.LoadPasswordFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	up, err := auth.LoadPasswordFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pf             *auth.PasswordFile
		user, password string
		want           bool
	}{
		{pf, "alice", "new", true},
		{pf, "alice", "alice's password", false},
		{pf, "bob", "b:o$b", true},
		{pf, "bob", "b:o$", false},
		{pf, "carol", "ç", true},
		{pf, "carol", "c", false},
		{pf, "dave", "dave pw", true},
		{pf, "dave", "dave pw\n", false},
		{pf, "erin", "", true},
		{pf, "erin", " ", false},
		{pf, "nobody", "new", false},
		{up, "frank", "f1", true},
		{up, "gina", "g2", true}, // -U trims blanks around the password
		{up, "gina", " g2 ", false},
	} {
		if got := tc.pf.Check(tc.user, tc.password); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.user, tc.password, got, tc.want)
		}
	}
}
