//go:build unix

package broker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/dynsec"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// privEnv is how the privilege tests start the broker in a process of its
// own (it switches user, which the test process must not): the test binary
// runs TestPrivilegesHelperProcess with MIDGE_TEST_MAIN=1 and midge's
// arguments after "--".
const privEnv = "MIDGE_TEST_MAIN"

// TestPrivilegesHelperProcess is the broker process of the privilege tests;
// it does nothing in a normal run.
func TestPrivilegesHelperProcess(t *testing.T) {
	if os.Getenv(privEnv) != "1" {
		t.Skip("the broker process of the privilege tests")
	}
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) < 2 {
		t.Fatal("no arguments after --")
	}
	// The broker handles SIGHUP only once it serves; until then Go's
	// default would end the process. Here a SIGHUP sent too early is
	// dropped instead, and the test sends it again (reload).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	os.Exit(Run(context.Background(), "midge", args[1:], base.OSStreams()))
}

// privSetup is a directory the unprivileged user can enter, with a password
// file made as "sudo midge passwd -c" makes it (root's, 0600), an ACL file
// and a configuration that drops to that user and logs to a file.
type privSetup struct {
	dir, conf, pw, acl, log string
	user                    *user.User
	uid, gid                int
}

func newPrivSetup(t *testing.T) *privSetup {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the privilege tests must run as root in CI")
		}
		t.Skip("needs root: the broker drops privileges only when started as root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	s := &privSetup{dir: t.TempDir(), user: u}
	s.uid, _ = strconv.Atoi(u.Uid)
	s.gid, _ = strconv.Atoi(u.Gid)
	// t.TempDir's directories are 0700: open them to the user, as /etc is.
	for _, d := range []string{s.dir, filepath.Dir(s.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.conf = filepath.Join(s.dir, "midge.conf")
	s.pw = filepath.Join(s.dir, "pwfile")
	s.acl = filepath.Join(s.dir, "aclfile")
	s.log = filepath.Join(s.dir, "midge.log")
	midgePasswd(t, "-c", "-b", s.pw, "alice", "s3cret")
	if fi, err := os.Stat(s.pw); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("midge passwd -c made %v (%v), want a 0600 file", fi.Mode(), err)
	}
	if err := os.WriteFile(s.acl, []byte("user alice\ntopic readwrite #\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := "user nobody\n" +
		"listener 0 " + filepath.Join(s.dir, "mqtt.sock") + "\n" +
		"allow_anonymous false\n" +
		"password_file " + s.pw + "\n" +
		"acl_file " + s.acl + "\n" +
		"log_dest file " + s.log + "\n" +
		"log_dest stderr\n" +
		"log_type all\n"
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// addConf appends lines to the configuration file.
func (s *privSetup) addConf(t *testing.T, lines string) {
	t.Helper()
	f, err := os.OpenFile(s.conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(lines); err != nil {
		t.Fatal(err)
	}
}

// start runs the broker as root, waits until it serves and returns its
// process and standard error.
func (s *privSetup) start(t *testing.T) (*exec.Cmd, *testutil.LockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrivilegesHelperProcess$", "--", "-c", s.conf)
	cmd.Env = append(os.Environ(), privEnv+"=1")
	stderr := &testutil.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	waitOutput(t, "the broker to serve", func() bool { return strings.Contains(stderr.String(), " running\n") }, stderr)
	return cmd, stderr
}

// waitOutput waits until cond holds, and shows the broker's output if it
// does not.
// reload sends SIGHUP until done holds: one sent before the broker handles
// the signal is lost.
func reload(t *testing.T, cmd *exec.Cmd, what string, done func() bool, out *testutil.LockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; broker output:\n%s", what, out.String())
		}
		cmd.Process.Signal(syscall.SIGHUP)
		for next := time.Now().Add(time.Second); !done() && time.Now().Before(next); {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func waitOutput(t *testing.T, what string, cond func() bool, out *testutil.LockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; broker output:\n%s", what, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The password file "sudo midge passwd -c" writes is root's and 0600: the
// broker reads it at start, as root, but not on SIGHUP, as nobody. It says
// so at start-up, naming the file; the readable ACL file is not named.
func TestBrokerWarnsAboutFilesItCannotReread(t *testing.T) {
	s := newPrivSetup(t)
	// A TLS listener whose key only root may read; its certificate is
	// readable by all.
	srv := testutil.NewPKI(t, "privileges").Server("localhost")
	cert, key := filepath.Join(s.dir, "server.crt"), filepath.Join(s.dir, "server.key")
	for src, dst := range map[string]string{srv.CertFile: cert, srv.KeyFile: key} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(cert, 0o644); err != nil {
		t.Fatal(err)
	}
	s.addConf(t, fmt.Sprintf("listener %s 127.0.0.1\ncertfile %s\nkeyfile %s\n", freePort(t), cert, key))

	cmd, stderr := s.start(t)
	out := stderr.String()
	for _, want := range []string{
		"Warning: password_file " + s.pw + " cannot be read by user nobody",
		"Warning: keyfile " + key + " cannot be read by user nobody",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no warning %q in the broker's output:\n%s", want, out)
		}
	}
	if strings.Contains(out, "certfile "+cert) {
		t.Errorf("a warning names the certificate, which nobody can read:\n%s", out)
	}
	if strings.Contains(out, "acl_file "+s.acl) || strings.Contains(out, "configuration file "+s.conf) {
		t.Errorf("a warning names a file nobody can read:\n%s", out)
	}
	if !strings.Contains(out, "Info: running as user: nobody.") {
		t.Errorf("the broker did not switch to nobody:\n%s", out)
	}
	// The warning is true: the reload fails on that file.
	reload(t, cmd, "the reload to fail", func() bool {
		return strings.Contains(stderr.String(), "configuration not reloaded")
	}, stderr)
}

// Files the user can read draw no warning, and the log file the broker
// creates as root is the user's, so that SIGHUP (log rotation, systemctl
// reload) reopens it.
func TestBrokerLogFileReopensAfterDroppingPrivileges(t *testing.T) {
	s := newPrivSetup(t)
	if err := os.Chown(s.pw, s.uid, s.gid); err != nil { // as the docs say to do
		t.Fatal(err)
	}
	cmd, stderr := s.start(t)
	if strings.Contains(stderr.String(), "Warning: password_file") {
		t.Errorf("a warning names a file nobody can read:\n%s", stderr.String())
	}
	fi, err := os.Stat(s.log)
	if err != nil {
		t.Fatal(err)
	}
	if uid, _ := ownerOf(fi); uid != s.uid {
		t.Errorf("the log file belongs to uid %d, want nobody's %d", uid, s.uid)
	}
	for i := 1; i <= 2; i++ {
		reload(t, cmd, "the reload to be logged to the file", func() bool {
			data, _ := os.ReadFile(s.log)
			return strings.Count(string(data), "Reloading config.") >= i
		}, stderr)
	}
	// The second "Reloading config." went to the reopened file; a failed
	// reopen is logged as an error.
	if out := stderr.String(); strings.Contains(out, "Unable to open log file") || strings.Contains(out, "not reloaded") {
		t.Errorf("the reload failed:\n%s", out)
	}
}

// access decides from the permission bits as the kernel would for the
// user: owner, else group, else other, and every directory searchable.
func TestAccessForUser(t *testing.T) {
	s := newPrivSetup(t) // root, and a directory nobody may enter
	id := unixIDs{uid: s.uid, gid: s.gid, groups: []int{s.gid}}
	closed := filepath.Join(s.dir, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	file := func(name string, uid, gid int, mode os.FileMode) string {
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inClosed := filepath.Join(closed, "f")
	if err := os.WriteFile(inClosed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		want    os.FileMode
		wantErr string // "" for access
	}{
		{file("root600", 0, 0, 0o600), 4, "owner root, group root, mode 0600: not readable by it"},
		{file("group640", 0, s.gid, 0o640), 4, ""},
		{file("group604", 0, s.gid, 0o604), 4, "not readable"}, // the group bits apply, not other's
		{file("other644", 0, 0, 0o644), 4, ""},
		{file("own600", s.uid, 0, 0o600), 4, ""},
		{file("own400", s.uid, 0, 0o400), 2, "not writable"},
		{file("own600w", s.uid, 0, 0o600), 2, ""},
		{inClosed, 4, "directory " + closed + " is not searchable by it"},
		{filepath.Join(s.dir, "missing"), 4, "no such file"},
	}
	for _, tt := range tests {
		err := id.access(tt.path, tt.want)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("access(%s, %o) = %v, want nil", tt.path, tt.want, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("access(%s, %o) = %v, want an error with %q", tt.path, tt.want, err, tt.wantErr)
		}
	}
}

// A log file that was there before the broker started keeps its owner (it
// might be any file, /var/log/syslog too); if the user cannot write it, the
// warning says so.
func TestBrokerLeavesAnExistingLogFileAlone(t *testing.T) {
	s := newPrivSetup(t)
	if err := os.Chown(s.pw, s.uid, s.gid); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.log, []byte("older lines\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr := s.start(t)
	fi, err := os.Stat(s.log)
	if err != nil {
		t.Fatal(err)
	}
	if uid, _ := ownerOf(fi); uid != 0 {
		t.Errorf("the broker gave the existing log file to uid %d", uid)
	}
	want := "Warning: log file " + s.log + " cannot be written by user nobody"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("no warning %q:\n%s", want, stderr.String())
	}
}

// dynsecIn appends dynamic security with a file in dir to the setup's
// configuration, the file made (as root, 0644) with an admin.
func (s *privSetup) dynsecIn(t *testing.T, dir string) string {
	t.Helper()
	init := filepath.Join(s.dir, "dynsec-init")
	if err := os.WriteFile(init, []byte("admin-password-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dynamic-security.json")
	if _, err := dynsec.Open(dynsec.Options{ConfigFile: path, PasswordInitFile: init}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s.addConf(t, "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file "+path+"\n")
	return path
}

// A dynamic security file root made, in a directory only root may write,
// loads (the user may read it) but no change could be saved: the broker
// says so at start-up, naming the file.
func TestBrokerWarnsAboutDynsecFile(t *testing.T) {
	s := newPrivSetup(t)
	if err := os.Chown(s.pw, s.uid, s.gid); err != nil {
		t.Fatal(err)
	}
	path := s.dynsecIn(t, s.dir)
	_, stderr := s.start(t)
	want := "Warning: user nobody, which the broker runs as after start-up, cannot write the dynamic security file " + path
	if out := stderr.String(); !strings.Contains(out, want) {
		t.Errorf("no warning %q in the broker's output:\n%s", want, out)
	}
}

// The same file and directory given to the user draw no warning.
func TestBrokerDynsecFileOfTheUser(t *testing.T) {
	s := newPrivSetup(t)
	if err := os.Chown(s.pw, s.uid, s.gid); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.dir, "dynsec")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := s.dynsecIn(t, dir)
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr := s.start(t)
	if out := stderr.String(); strings.Contains(out, "dynamic security file") {
		t.Errorf("a warning about a file the user may write:\n%s", out)
	}
}

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
