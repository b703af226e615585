package passwd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// passwdRun runs "midge passwd args" with stdin and returns the exit status
// and what it wrote.
func passwdRun(t *testing.T, stdin string, args ...string) (rc int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	rc = Run(context.Background(), "midge passwd", args, base.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return rc, out.String(), errOut.String()
}

// mustPasswd runs "midge passwd args" and fails the test unless it succeeds.
func mustPasswd(t *testing.T, stdin string, args ...string) {
	t.Helper()
	if rc, out, errOut := passwdRun(t, stdin, args...); rc != 0 {
		t.Fatalf("midge passwd %q = %d\n%s%s", args, rc, out, errOut)
	}
}

func loadPW(t *testing.T, path string) *auth.PasswordFile {
	t.Helper()
	pf, err := auth.LoadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

func TestParsePasswdArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want options
	}{
		{[]string{"f", "u"}, options{file: "f", username: "u"}},
		{[]string{"-b", "f", "u", "p"}, options{batch: true, file: "f", username: "u", password: "p"}},
		{[]string{"-c", "f", "u"}, options{create: true, file: "f", username: "u"}},
		{[]string{"-c", "-b", "f", "u", "p", "ignored"}, options{create: true, batch: true, file: "f", username: "u", password: "p"}},
		{[]string{"-c", "-b", "-", "u", "p"}, options{create: true, batch: true, file: "-", username: "u", password: "p"}},
		{[]string{"-D", "f", "u"}, options{delete: true, file: "f", username: "u"}},
		{[]string{"-U", "f"}, options{update: true, file: "f"}},
		{[]string{"-b", "-U", "f"}, options{update: true, batch: true, file: "f"}},
		{[]string{"-H", "sha512", "-I", "5", "f", "u"}, options{alg: auth.SHA512, iterations: 5, file: "f", username: "u"}},
		{[]string{"-H", "argon2id", "-H", "sha512-pbkdf2", "f", "u"}, options{alg: auth.SHA512PBKDF2, file: "f", username: "u"}},
		{[]string{"-I", "12abc", "f", "u"}, options{iterations: 12, file: "f", username: "u"}}, // atoi
		{[]string{"-b", "f", "u", ""}, options{batch: true, file: "f", username: "u"}},
		{[]string{"-b", "f", "ü ser", "p"}, options{batch: true, file: "f", username: "ü ser", password: "p"}},
	} {
		got, err := parseArgs(tc.args)
		if err != nil || got != tc.want {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
	// Messages as mosquitto_passwd 2.0.11 prints them.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, ""},
		{[]string{"f"}, ""},
		{[]string{"f", "u", "p"}, ""},
		{[]string{"-b", "f", "u"}, ""},
		{[]string{"--help"}, ""},
		{[]string{"f", "-c", "u"}, ""},
		{[]string{"-H"}, "Error: -H argument given but not enough other arguments."},
		{[]string{"-H", "md5", "f", "u"}, "Error: Unknown hash type 'md5'"},
		{[]string{"-I"}, "Error: -I argument given but not enough other arguments."},
		{[]string{"-I", "0", "f", "u"}, "Error: Number of iterations must be > 0."},
		{[]string{"-I", "x", "f", "u"}, "Error: Number of iterations must be > 0."},
		{[]string{"-I", "99999999999", "f", "u"}, "Error: Number of iterations must be > 0."},
		{[]string{"-c", "-D", "f", "u"}, "Error: -c and -D cannot be used together."},
		{[]string{"-c", "-U", "f"}, "Error: -c and -U cannot be used together."},
		{[]string{"-D", "-U", "f"}, "Error: -D and -U cannot be used together."},
		{[]string{"-b", "-D", "f", "u"}, "Error: -b and -D cannot be used together."},
		{[]string{"-c", "-b", "f", "u"}, "Error: -c argument given but password file, username, or password missing."},
		{[]string{"-c", "f"}, "Error: -c argument given but password file or username missing."},
		{[]string{"-D", "f"}, "Error: -D argument given but password file or username missing."},
		{[]string{"-U"}, "Error: -U argument given but password file missing."},
		{[]string{"-U", "f", "u"}, "Error: -U argument given but password file missing."},
		{[]string{"-b", "f", "u:x", "p"}, "Error: Username must not contain the ':' character."},
		{[]string{"-b", "f", "u\tx", "p"}, "Error: Username must not contain control characters."},
		{[]string{"-b", "f", "u\x7f", "p"}, "Error: Username must not contain control characters."},
		{[]string{"-b", "f", strings.Repeat("u", 65536), "p"}, "Error: Username must be less than 65536 characters long."},
		{[]string{"-b", "f", "u", strings.Repeat("p", 65536)}, "Error: Password must be less than 65536 characters long."},
	} {
		_, err := parseArgs(tc.args)
		switch {
		case tc.want == "" && !errors.Is(err, errUsage):
			t.Errorf("parseArgs(%.40q) = %v, want the usage", tc.args, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("parseArgs(%.40q) = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestPasswdUsage(t *testing.T) {
	t.Parallel()
	rc, out, errOut := passwdRun(t, "")
	if rc != 1 || errOut != "" || !strings.HasPrefix(out, "midge passwd is a tool for managing password files for mosquitto.\n\nUsage: midge passwd [-H sha512") {
		t.Errorf("midge passwd = %d, %q, %q", rc, out, errOut)
	}
	rc, out, errOut = passwdRun(t, "", "-c", "-D", "f", "u")
	if rc != 1 || out != "" || errOut != "Error: -c and -D cannot be used together.\n" {
		t.Errorf("midge passwd -c -D f u = %d, %q, %q", rc, out, errOut)
	}

}

func TestPasswdCreateAddUpdateDelete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")

	mustPasswd(t, "", "-c", "-b", f, "alice", "a1")
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new password file mode %v, want 0600", fi.Mode().Perm())
	}
	mustPasswd(t, "", "-b", f, "bob", "b1")
	mustPasswd(t, "", "-H", "sha512", "-b", f, "carol", "c1")
	mustPasswd(t, "", "-H", "argon2id", "-b", f, "dave", "d1")
	mustPasswd(t, "", "-I", "7", "-b", f, "alice", "a2") // update

	body, _ := os.ReadFile(f)
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	wantPrefix := []string{"alice:$7$7$", "bob:$7$1000$", "carol:$6$", "dave:$argon2id$v=19$m=47104,t=1,p=1$"}
	if len(lines) != len(wantPrefix) {
		t.Fatalf("file has %d lines, want %d:\n%s", len(lines), len(wantPrefix), body)
	}
	for i, p := range wantPrefix {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d = %.40q, want it to start %q", i+1, lines[i], p)
		}
	}
	pf := loadPW(t, f)
	for _, c := range []struct {
		u, p string
		want bool
	}{{"alice", "a2", true}, {"alice", "a1", false}, {"bob", "b1", true}, {"carol", "c1", true}, {"dave", "d1", true}, {"dave", "d2", false}} {
		if got := pf.Check(c.u, c.p); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.u, c.p, got, c.want)
		}
	}

	if err := os.Chmod(f, 0o640); err != nil {
		t.Fatal(err)
	}
	mustPasswd(t, "", "-D", f, "bob")
	if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o640 {
		t.Errorf("after -D the mode is %v, want the file's 0640 kept", fi.Mode().Perm())
	}
	if got := loadPW(t, f).Users(); strings.Join(got, ",") != "alice,carol,dave" {
		t.Errorf("after -D bob the users are %q", got)
	}
	rc, out, errOut := passwdRun(t, "", "-D", f, "bob")
	if rc != 1 || out != "" || errOut != "Warning: User bob not found in password file.\n" {
		t.Errorf("-D of a missing user = %d, %q, %q", rc, out, errOut)
	}

	// -c overwrites.
	mustPasswd(t, "", "-c", "-b", f, "zed", "z")
	if got := loadPW(t, f).Users(); strings.Join(got, ",") != "zed" {
		t.Errorf("after -c the users are %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestPasswdPrompt(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "pw")
	rc, out, errOut := passwdRun(t, "s3cret\ns3cret\n", "-c", f, "u")
	if rc != 0 || out != "Password: \nReenter password: \n" || errOut != "" {
		t.Fatalf("prompted -c = %d, %q, %q", rc, out, errOut)
	}
	rc, _, _ = passwdRun(t, "with space\r\nwith space\r\n", f, "v") // CRLF, no -b
	if rc != 0 || !loadPW(t, f).Check("u", "s3cret") || !loadPW(t, f).Check("v", "with space") {
		t.Errorf("prompted passwords did not take: rc %d", rc)
	}
	rc, _, _ = passwdRun(t, "last\nlast", f, "w") // no final newline
	if rc != 0 || !loadPW(t, f).Check("w", "last") {
		t.Errorf("a last line without a newline: rc %d", rc)
	}
	before, _ := os.ReadFile(f)
	for _, tc := range []struct {
		stdin, out, errOut string
		rc                 int
	}{
		{"a\nb\n", "Password: \nReenter password: \n", "Error: Passwords do not match.\n", 2},
		{"\n", "Password: ", "Error: Empty password.\n", 1},
		{"", "Password: ", "Error: Empty password.\n", 1},
		{"a\n", "Password: \nReenter password: ", "Error: Empty password.\n", 1},
		{strings.Repeat("x", 70000) + "\n", "Password: ", "Error: Password must be less than 65536 characters long.\n", 1},
	} {
		rc, out, errOut := passwdRun(t, tc.stdin, f, "u")
		if rc != tc.rc || out != tc.out || errOut != tc.errOut {
			t.Errorf("stdin %.20q: %d, %q, %q; want %d, %q, %q", tc.stdin, rc, out, errOut, tc.rc, tc.out, tc.errOut)
		}
	}
	if after, _ := os.ReadFile(f); !bytes.Equal(before, after) {
		t.Error("a failed prompt changed the file")
	}
}

func TestPasswdInterruptedPrompt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe() // never written: the prompt waits
	defer pw.Close()
	var out, errOut bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, "midge passwd", []string{"-c", filepath.Join(t.TempDir(), "pw"), "u"}, base.Streams{In: pr, Out: &out, Err: &errOut})
	}()
	cancel()
	select {
	case rc := <-done:
		if rc != 130 {
			t.Errorf("interrupted prompt = %d, want 130", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the prompt did not return when its context ended")
	}
}

func TestPasswdUpdatePlainFile(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "pw")
	hashed, _ := auth.HashPassword("h", auth.SHA512, 0)
	plain := "# users\n\nu1:p1\n u2 : p 2 \r\nu3:p3:extra\nu4:" + hashed + "\n"
	if err := os.WriteFile(f, []byte(plain), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, out, errOut := passwdRun(t, "", "-H", "sha512", "-U", f)
	if rc != 0 || out != "" || errOut != "Warning: User u4 already has a hashed password, leaving it unchanged.\n" {
		t.Fatalf("-U = %d, %q, %q", rc, out, errOut)
	}
	body, _ := os.ReadFile(f)
	if !strings.HasPrefix(string(body), "# users\n\nu1:$6$") || !strings.Contains(string(body), "\nu4:"+hashed+"\n") {
		t.Errorf("-U wrote:\n%s", body)
	}
	if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o644 {
		t.Errorf("-U changed the mode to %v", fi.Mode().Perm())
	}
	pf := loadPW(t, f)
	for _, c := range [][2]string{{"u1", "p1"}, {"u2", "p 2"}, {"u3", "p3"}, {"u4", "h"}} {
		if !pf.Check(c[0], c[1]) {
			t.Errorf("after -U, %s's password %q does not check", c[0], c[1])
		}
	}
}

func TestPasswdCorruptFileUntouched(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "pw")
	corrupt := "# fine\nalice:$6$x$y\nnot a user line\n"
	if err := os.WriteFile(f, []byte(corrupt), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-b", f, "bob", "p"}, {"-D", f, "alice"}, {"-U", f}} {
		rc, out, errOut := passwdRun(t, "", args...)
		if rc != 1 || out != "" || errOut != "Error: Corrupt password file at line 3.\n" {
			t.Errorf("%q on a corrupt file = %d, %q, %q", args, rc, out, errOut)
		}
	}
	if body, _ := os.ReadFile(f); string(body) != corrupt {
		t.Errorf("the corrupt file was changed:\n%s", body)
	}
}

func TestPasswdFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	rc, _, errOut := passwdRun(t, "", "-b", missing, "u", "p")
	if rc != 1 || errOut != "Error: Unable to open password file "+missing+". No such file or directory.\n" {
		t.Errorf("missing file = %d, %q", rc, errOut)
	}
	nodir := filepath.Join(dir, "no", "such", "dir")
	rc, _, errOut = passwdRun(t, "", "-c", "-b", nodir, "u", "p")
	if rc != 1 || errOut != "Error: Unable to open file "+nodir+" for writing. No such file or directory.\n" {
		t.Errorf("create in a missing directory = %d, %q", rc, errOut)
	}
	rc, _, errOut = passwdRun(t, "", "-b", dir, "u", "p")
	if rc != 1 || errOut != "Error: Unable to open password file "+dir+". Is a directory.\n" {
		t.Errorf("a directory = %d, %q", rc, errOut)
	}
}

func TestPasswdThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	mustPasswd(t, "", "-c", "-b", target, "a", "1")
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	mustPasswd(t, "", "-b", link, "b", "2")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if !loadPW(t, target).Check("b", "2") {
		t.Error("the user was not added to the link's target")
	}
}

func TestPasswdToStdout(t *testing.T) {
	t.Parallel()
	rc, out, errOut := passwdRun(t, "", "-c", "-b", "-", "u", "p")
	if rc != 0 || errOut != "" || !strings.HasPrefix(out, "u:$7$1000$") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("-c -b - = %d, %q, %q", rc, out, errOut)
	}
	pf, err := auth.ParsePasswords(strings.NewReader(out), "stdout")
	if err != nil || !pf.Check("u", "p") {
		t.Errorf("the line written to stdout does not check: %v", err)
	}
}

// A file midge passwd writes is one Debian's mosquitto_passwd edits, and the
// other way round.
func TestPasswdInteroperatesWithMosquittoPasswd(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "pw")
	mustPasswd(t, "", "-c", "-b", f, "midge1", "m1")
	testutil.MosquittoPasswd(t, "", "-b", f, "mosq1", "q1")
	testutil.MosquittoPasswd(t, "", "-b", f, "midge1", "m2")
	mustPasswd(t, "", "-b", f, "mosq1", "q2")
	mustPasswd(t, "", "-b", f, "midge2", "m3")
	pf := loadPW(t, f)
	for _, c := range [][2]string{{"midge1", "m2"}, {"mosq1", "q2"}, {"midge2", "m3"}} {
		if !pf.Check(c[0], c[1]) {
			t.Errorf("%s's password %q does not check", c[0], c[1])
		}
	}
}

// A password file written by midge passwd -c -b, by midge passwd -H sha512
// at its prompt, and by midge passwd -I 1000 is accepted by Debian's real
// Mosquitto broker: the right passwords connect, wrong ones are refused.
func TestPasswdFileWorksWithMosquittoBroker(t *testing.T) {
	t.Parallel()
	pub := testutil.NeedTool(t, "mosquitto_pub", "mosquitto-clients")
	dir := t.TempDir()
	f := filepath.Join(dir, "passwords")
	mustPasswd(t, "", "-c", "-b", f, "u1", "right1")
	mustPasswd(t, "right2\nright2\n", "-H", "sha512", f, "u2")
	mustPasswd(t, "", "-I", "1000", "-b", f, "u3", "right3")
	mustPasswd(t, "", "-I", "5", "-b", f, "u4", "right 4")

	port := startMosquitto(t, f)
	publish := func(user, password string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, pub, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-i", "midge-test-"+user,
			"-u", user, "-P", password, "-t", "t", "-m", "x")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, string(out)
		case errors.As(err, &ee):
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
		return 0, ""
	}
	for _, c := range [][2]string{{"u1", "right1"}, {"u2", "right2"}, {"u3", "right3"}, {"u4", "right 4"}} {
		if rc, out := publish(c[0], c[1]); rc != 0 {
			t.Errorf("mosquitto_pub -u %s with the right password = %d\n%s", c[0], rc, out)
		}
		rc, out := publish(c[0], "wrong")
		if rc != 5 || !strings.Contains(out, "Connection Refused: not authorised.") {
			t.Errorf("mosquitto_pub -u %s with a wrong password = %d %q, want 5 and \"not authorised\"", c[0], rc, out)
		}
	}
	if rc, _ := publish("nobody", "right1"); rc != 5 {
		t.Errorf("mosquitto_pub as an unknown user = %d, want 5", rc)
	}
}

// startMosquitto runs Debian's broker (testutil.StartMosquitto) with
// password file pwfile and anonymous clients refused, and returns its port.
func startMosquitto(t *testing.T, pwfile string) int {
	t.Helper()
	conf := []string{"allow_anonymous false", "password_file " + pwfile}
	if os.Geteuid() == 0 {
		// As root, mosquitto 2.0 becomes user "mosquitto" before it reads the
		// password file, which it then cannot read in the test's 0700 directory.
		conf = append(conf, "user root")
	}
	_, port, err := net.SplitHostPort(testutil.StartMosquitto(t, conf...))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}
