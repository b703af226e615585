package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// depsEnv is a machine for scripts/deps made of stand-in commands: PATH
// holds only the stubs and the few real tools the script itself uses, the
// absolute paths it checks live under sysroot, and every stub call is
// logged.
type depsEnv struct {
	t       *testing.T
	bin     string // the only directory on PATH
	sysroot string // DEPS_SYSROOT
	root    string // MIDGE_ROOT: a repository with the npm manifests only
	log     string // one line per stub call: "name args..."
}

func newDepsEnv(t *testing.T) *depsEnv {
	t.Helper()
	dir := t.TempDir()
	e := &depsEnv{t: t, bin: filepath.Join(dir, "bin"), sysroot: filepath.Join(dir, "sys"),
		root: filepath.Join(dir, "repo"), log: filepath.Join(dir, "calls.log")}
	for _, d := range []string{e.bin, e.sysroot, filepath.Join(e.root, "scripts", "mqttjs"), filepath.Join(e.root, "web", "e2e")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"bash", "dirname", "mkdir", "cp"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(e.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"scripts/mqttjs/package.json", "scripts/mqttjs/package-lock.json", "web/e2e/package.json"} {
		if err := os.WriteFile(filepath.Join(e.root, f), []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// stub puts a command on PATH that logs its call and runs body (sh).
func (e *depsEnv) stub(name, body string) {
	e.t.Helper()
	script := "#!/bin/sh\necho \"" + name + " $*\" >>" + e.log + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(e.bin, name), []byte(script), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// sysFile creates an executable under the sysroot (an installed package).
func (e *depsEnv) sysFile(path, body string) {
	e.t.Helper()
	p := filepath.Join(e.sysroot, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// complete is a machine with everything installed, as root.
func (e *depsEnv) complete() {
	e.stub("go", "")
	e.stub("id", "echo 0")
	e.stub("apt-get", "")
	e.stub("mosquitto_pub", "")
	e.stub("node", "echo v20.0.0")
	e.stub("npm", "")
	e.sysFile("usr/sbin/mosquitto", "")
	e.sysFile("usr/bin/python3", "exit 0")
	e.sysFile("usr/bin/chromium", "")
	e.sysFile("usr/sbin/haproxy", "")
}

// run runs scripts/deps and returns its exit code, its output and the stub
// calls.
func (e *depsEnv) run() (int, string, []string) {
	e.t.Helper()
	cmd := exec.Command("./deps")
	cmd.Env = []string{"PATH=" + e.bin, "MIDGE_ROOT=" + e.root, "DEPS_SYSROOT=" + e.sysroot, "HOME=" + e.root}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("scripts/deps: %v", err)
		}
		code = ee.ExitCode()
	}
	data, err := os.ReadFile(e.log)
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" && !strings.HasPrefix(l, "id ") && !strings.HasPrefix(l, "node ") {
			calls = append(calls, l)
		}
	}
	return code, string(out), calls
}

func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands run:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const (
	npmMQTT       = "ci --no-audit --no-fund --prefix interop/node"
	npmPlaywright = "ci --no-audit --no-fund --prefix web/e2e"
)

func TestDepsCompleteMachineInstallsOnlyTheNpmPackages(t *testing.T) {
	e := newDepsEnv(t)
	e.complete()
	code, out, calls := e.run()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantCalls(t, calls, "npm "+npmMQTT, "npm "+npmPlaywright)
	// The pinned manifest and its lock are what npm ci installs from.
	if _, err := os.Stat(filepath.Join(e.root, "interop/node/package-lock.json")); err != nil {
		t.Errorf("the lock file was not copied into interop/node: %v", err)
	}
}

func TestDepsNotRootSaysWhatToInstall(t *testing.T) {
	e := newDepsEnv(t)
	e.complete()
	e.stub("id", "echo 1000")
	os.Remove(filepath.Join(e.bin, "mosquitto_pub"))
	os.Remove(filepath.Join(e.sysroot, "usr/sbin/haproxy"))
	e.sysFile("usr/bin/python3", "exit 1") // no paho
	code, out, calls := e.run()
	if code == 0 {
		t.Fatalf("exit 0 with packages missing\n%s", out)
	}
	want := "sudo apt-get install -y mosquitto-clients python3-paho-mqtt haproxy"
	if !strings.Contains(out, want) {
		t.Errorf("output does not say %q:\n%s", want, out)
	}
	wantCalls(t, calls) // nothing installed, not even the npm packages
}

func TestDepsRootInstallsMissingDebianPackages(t *testing.T) {
	e := newDepsEnv(t)
	e.complete()
	os.Remove(filepath.Join(e.bin, "node"))
	os.Remove(filepath.Join(e.sysroot, "usr/bin/chromium"))
	code, out, calls := e.run()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantCalls(t, calls, "apt-get update -qq", "apt-get install -y -qq chromium nodejs", "npm "+npmMQTT, "npm "+npmPlaywright)
}

func TestDepsMissingGoFails(t *testing.T) {
	e := newDepsEnv(t)
	e.complete()
	os.Remove(filepath.Join(e.bin, "go"))
	code, out, calls := e.run()
	if code == 0 || !strings.Contains(out, "https://go.dev/dl/") {
		t.Errorf("exit %d, want a failure naming https://go.dev/dl/:\n%s", code, out)
	}
	wantCalls(t, calls)
}

// withoutNpm returns an environment with everything but npm.
func withoutNpm(t *testing.T) *depsEnv {
	e := newDepsEnv(t)
	e.complete()
	os.Remove(filepath.Join(e.bin, "npm"))
	return e
}

// aptRefusesNpm is withoutNpm where apt-get refuses Debian's npm package
// (as it does beside a Node.js that is not Debian's) and corepack runs
// the shell script corepack.
func aptRefusesNpm(t *testing.T, corepack string) *depsEnv {
	e := withoutNpm(t)
	e.stub("apt-get", `case "$*" in *npm*) exit 100;; esac`)
	e.stub("corepack", corepack)
	return e
}

// A Node.js that is not Debian's (NodeSource's, say) and no npm: apt-get
// refuses Debian's npm package. Debian's npm is tried, then corepack's.
func TestDepsNpmRefusedByAptComesFromCorepack(t *testing.T) {
	e := aptRefusesNpm(t, "")
	code, out, calls := e.run()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantCalls(t, calls, "apt-get update -qq", "apt-get install -y -qq npm",
		"corepack npm@10.9.2 --version",
		"corepack npm@10.9.2 "+npmMQTT, "corepack npm@10.9.2 "+npmPlaywright)
}

func TestDepsNpmUnavailableSaysWhatToInstall(t *testing.T) {
	e := aptRefusesNpm(t, "exit 1")
	code, out, calls := e.run()
	if code == 0 {
		t.Fatalf("exit 0 without npm\n%s", out)
	}
	for _, want := range []string{"npm is missing", "v20.0.0", "sudo apt-get install --reinstall -y nodejs",
		"sudo apt-get remove -y nodejs && sudo apt-get install -y nodejs npm"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	wantCalls(t, calls, "apt-get update -qq", "apt-get install -y -qq npm", "corepack npm@10.9.2 --version")
}

// Debian's npm installs when apt-get can: it is then the npm used.
func TestDepsNpmFromDebian(t *testing.T) {
	e := withoutNpm(t)
	chmod, err := exec.LookPath("chmod")
	if err != nil {
		t.Fatal(err)
	}
	npm := filepath.Join(e.bin, "npm")
	e.stub("apt-get", `case "$*" in *install*npm*) printf '#!/bin/sh\necho "npm $*" >>`+e.log+`\n' >`+
		npm+`; `+chmod+` +x `+npm+`;; esac`)
	code, out, calls := e.run()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantCalls(t, calls, "apt-get update -qq", "apt-get install -y -qq npm", "npm "+npmMQTT, "npm "+npmPlaywright)
}
