package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	for desc, want := range map[string]string{
		"v1.2.3":              "1.2.3",
		"1.2":                 "1.2",
		"v1.2.3-4-gabcdef0":   "1.2.3+4.gabcdef0",
		"v1.2.3-4-gabc-dirty": "1.2.3+4.gabc.dirty",
		"98067bd":             "0~git.98067bd",
		"98067bd-dirty":       "0~git.98067bd.dirty",
		"dev":                 "0~git.dev",
	} {
		if got := debVersion(desc); got != want {
			t.Errorf("debVersion(%q) = %q, want %q", desc, got, want)
		}
	}
}

// need fails in CI (a missing tool must not pass for a skipped test) and
// skips elsewhere.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(what)
	}
	t.Skip(what)
}

func runCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// unit is what the test takes from the packaged systemd unit.
type unit struct {
	user, group       string
	execStartPre      []string
	execStart, reload []string
}

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var u unit
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		switch key {
		case "User":
			u.user = value
		case "Group":
			u.group = value
		case "ExecStartPre":
			u.execStartPre = strings.Fields(value)
		case "ExecStart":
			u.execStart = strings.Fields(value)
		case "ExecReload":
			u.reload = strings.Fields(value)
		}
	}
	if u.user == "" || len(u.execStart) == 0 {
		t.Fatalf("%s: no User= or ExecStart=", path)
	}
	return u
}

// asUser runs argv as the unit's user and group, as systemd would.
func asUser(t *testing.T, u unit, argv []string, env ...string) *exec.Cmd {
	t.Helper()
	usr, err := user.Lookup(u.user)
	if err != nil {
		t.Fatalf("the unit's user: %v", err)
	}
	g, err := user.LookupGroup(u.group)
	if err != nil {
		t.Fatalf("the unit's group: %v", err)
	}
	uid, _ := strconv.Atoi(usr.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + usr.HomeDir}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	return cmd
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startService runs the unit's ExecStart, with -p PORT (the packaged
// configuration has no listener: local-only mode, whose port -p sets), and
// waits for READY=1 on a notify socket, as Type=notify does.
func startService(t *testing.T, u unit, port string) *service {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		os.Chmod(d, 0o755)
	}
	sock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := asUser(t, u, append(append([]string{}, u.execStart...), "-p", port), "NOTIFY_SOCKET="+sock)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	svc := &service{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(svc.done) }()
	t.Cleanup(func() { svc.stop(t) })
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 256)
	n, err := nc.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		svc.stop(t)
		t.Fatalf("no READY=1 from the service (%q, %v); its output:\n%s", buf[:n], err, out.String())
	}
	return svc
}

// service is a running broker process.
type service struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// stop ends the broker with SIGTERM, as systemctl stop does, and waits.
func (s *service) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Error("the broker did not stop within 20 s of SIGTERM")
	}
}

// TestPackageInstallsAndServes builds the amd64 package as scripts/release.sh
// does, installs it with dpkg, starts the broker as the packaged unit would
// (systemd does not run here: the unit's ExecStartPre and ExecStart run as its
// User with a notify socket), publishes a retained QoS 1 message through it,
// restarts it and reads the message back from /var/lib/midge, and purges the
// package.
func TestPackageInstallsAndServes(t *testing.T) {
	need(t, os.Geteuid() == 0, "installing a package needs root")
	_, errDpkg := exec.LookPath("dpkg")
	_, errDeb := exec.LookPath("dpkg-deb")
	need(t, errDpkg == nil && errDeb == nil, "dpkg and dpkg-deb are needed (a Debian system)")
	status, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "midge").Output()
	need(t, !strings.Contains(string(status), "installed"),
		"a midge package is installed on this machine; the test would replace and purge it")
	goBin, err := exec.LookPath("go")
	need(t, err == nil, "go is needed to build the binary")

	dir := t.TempDir()
	bin := filepath.Join(dir, "midge")
	build := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/midge")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var listing strings.Builder
	if err := run([]string{"-version", "v0.9.1-3-gabc", "-out", dir, "-binary", "amd64=" + bin}, &listing); err != nil {
		t.Fatal(err)
	}
	debs := strings.Fields(listing.String())
	if len(debs) != 2 || filepath.Base(debs[0]) != "midge_0.9.1+3.gabc_amd64.deb" ||
		filepath.Base(debs[1]) != "midge-mosquitto-compat_0.9.1+3.gabc_all.deb" {
		t.Fatalf("packages built: %q", debs)
	}

	// The compat package is inspected, not installed: it conflicts with
	// Debian's mosquitto, which the interop tests need.
	contents := runCmd(t, "dpkg-deb", "-c", debs[1])
	for _, name := range mosquittoNames {
		if !strings.Contains(contents, "."+name+" -> /usr/bin/midge") {
			t.Errorf("midge-mosquitto-compat has no link %s -> /usr/bin/midge:\n%s", name, contents)
		}
	}
	if got := runCmd(t, "dpkg-deb", "-f", debs[1], "Conflicts", "Depends"); !strings.Contains(got, "Conflicts: mosquitto, mosquitto-clients") ||
		!strings.Contains(got, "Depends: midge (= 0.9.1+3.gabc)") {
		t.Errorf("midge-mosquitto-compat control fields:\n%s", got)
	}

	_, err = user.Lookup("midge")
	userExisted := err == nil
	purged := false
	t.Cleanup(func() {
		if !purged {
			exec.Command("dpkg", "--purge", "midge").Run()
		}
		if !userExisted {
			exec.Command("userdel", "midge").Run()
		}
	})
	runCmd(t, "dpkg", "-i", debs[0])

	for _, p := range []string{"/usr/bin/midge", "/etc/midge/midge.conf", "/etc/midge/conf.d", "/lib/systemd/system/midge.service"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after dpkg -i: %v", err)
		}
	}
	u := parseUnit(t, "/lib/systemd/system/midge.service")
	usr, err := user.Lookup(u.user)
	if err != nil {
		t.Fatalf("the package did not create the unit's user %s: %v", u.user, err)
	}
	if fi, err := os.Stat("/var/lib/midge"); err != nil {
		t.Error(err)
	} else if st := fi.Sys().(*syscall.Stat_t); strconv.Itoa(int(st.Uid)) != usr.Uid || fi.Mode().Perm() != 0o750 {
		t.Errorf("/var/lib/midge: uid %d mode %v, want %s's and 0750", st.Uid, fi.Mode().Perm(), u.user)
	}

	if out, err := asUser(t, u, u.execStartPre).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre %v: %v\n%s", u.execStartPre, err, out)
	}
	port := freePort(t)
	svc := startService(t, u, port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "/usr/bin/midge", "pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-r",
		"-t", "pkg/test", "-m", "from the package").CombinedOutput(); err != nil {
		t.Fatalf("midge pub: %v\n%s", err, out)
	}
	svc.stop(t)

	// The retained message survived the restart: the store in /var/lib/midge works.
	svc = startService(t, u, port)
	out, err := exec.CommandContext(ctx, "/usr/bin/midge", "sub", "-h", "127.0.0.1", "-p", port, "-q", "1",
		"-t", "pkg/test", "-C", "1", "-W", "10").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "from the package" {
		t.Fatalf("midge sub after a restart: %v, got %q, want %q", err, out, "from the package")
	}
	if _, err := os.Stat("/var/lib/midge/midge.db"); err != nil {
		t.Errorf("no store in /var/lib/midge: %v", err)
	}
	if len(u.reload) == 0 || u.reload[0] != "/bin/kill" {
		t.Errorf("ExecReload = %q, want a SIGHUP", u.reload)
	}

	svc.stop(t)
	runCmd(t, "dpkg", "--purge", "midge")
	purged = true
	for _, p := range []string{"/usr/bin/midge", "/etc/midge/midge.conf", "/var/lib/midge", "/lib/systemd/system/midge.service"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there after dpkg --purge", p)
		}
	}
}
