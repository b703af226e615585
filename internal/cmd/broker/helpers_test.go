//go:build unix

package broker

// Helpers shared by the package's tests: free ports, the built binary and
// Debian's tools, brokers run in-process, and the HTTP API's client.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/cmd/passwd"
	"github.com/midge-mqtt/midge/internal/testutil"
)

func readOrEmpty(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// freePort is testutil.FreePort, as a string.
func freePort(t *testing.T) string { return strconv.Itoa(testutil.FreePort(t)) }

// midgeBinary returns cmd/midge, built once for the tests that run it as a
// process, through a link named mosquitto (it runs under Mosquitto's name).
func midgeBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("signals and -d are Unix features")
	}
	return filepath.Join(testutil.MidgeLinks(t, "mosquitto"), "mosquitto")
}

// worldDir makes a directory the broker can still use after dropping root
// privileges to the mosquitto user.
func worldDir(t *testing.T) string { return testutil.WorldDir(t, "midge-cli-", 0o777) }

// tutorialConfig writes one of the tutorial's configurations with its paths
// in dir and its listener on port.
func tutorialConfig(t *testing.T, name, dir, port string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(
		"/etc/mosquitto/", dir+"/etc/",
		"/run/mosquitto/", dir+"/run/",
		"/var/lib/mosquitto/", dir+"/lib/",
		"/var/log/mosquitto/", dir+"/log/",
		"listener 1883", "listener "+port,
	).Replace(string(b))
	for _, d := range []string{"etc/conf.d", "run", "lib", "log"} {
		os.MkdirAll(filepath.Join(dir, d), 0o777)
		os.Chmod(filepath.Join(dir, d), 0o777)
	}
	conf := filepath.Join(dir, "etc", "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// waitLog waits for text in the log file, and shows the log if it does not
// come.
func waitLog(t *testing.T, logf, text string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("the log:\n%s", readOrEmpty(logf))
		}
	}()
	testutil.WaitFor(t, fmt.Sprintf("%q in the log", text), func() bool {
		return strings.Contains(readOrEmpty(logf), text)
	})
}

// startBinary runs the built broker with args and stops it at the end of
// the test.
func startBinary(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(midgeBinary(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("broker output:\n%s", out.String())
		}
	})
	return cmd
}

// setPassword adds user to the password file with Debian's mosquitto_passwd
// (creating the file if create) and makes the file readable by all.
func setPassword(t *testing.T, file, user, pass string, create bool) {
	t.Helper()
	args := []string{"-b", file, user, pass}
	if create {
		args = append([]string{"-c"}, args...)
	}
	testutil.MosquittoPasswd(t, "", args...)
	os.Chmod(file, 0o644)
}

// runConf runs the broker in-process on the configuration text (with
// PORT replaced by a free port) and returns the run and the port.
func runConf(t *testing.T, text string) (*brokerRun, string) {
	t.Helper()
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "m.conf")
	os.WriteFile(conf, []byte(strings.ReplaceAll(text, "PORT", port)), 0o644)
	b, _ := startInProcess(t, conf, "")
	return b, port
}

// inProcess is a broker run in the test's process: runBrokerOptions in a
// goroutine.
type inProcess struct {
	started chan *brokerRun // the run, once it serves
	exited  chan struct{}   // closed when the run has ended
	code    int             // the exit status, once exited is closed
	errs    bytes.Buffer    // standard error; read it once exited is closed
	cancel  context.CancelFunc
}

// runInProcess starts "midge broker args" in the test's process with hooks
// (whose started hook it sets) and returns at once. The test's cleanup
// stops the run.
func runInProcess(t *testing.T, hooks brokerHooks, args ...string) *inProcess {
	t.Helper()
	o, err := parseBrokerArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &inProcess{started: make(chan *brokerRun, 1), exited: make(chan struct{}), cancel: cancel}
	hooks.started = func(b *brokerRun) { r.started <- b }
	go func() {
		r.code = runBrokerOptions(ctx, "midge broker", o, base.Streams{Out: &bytes.Buffer{}, Err: &r.errs}, hooks)
		close(r.exited)
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop ends the run and returns its exit status.
func (r *inProcess) stop() int {
	r.cancel()
	<-r.exited
	return r.code
}

// startInProcess runs the broker in this process on the configuration file
// conf and waits until it serves; if it exits first, the test fails with
// the log file logf (if any). stop ends the run and returns its exit code;
// the test's cleanup calls it too.
func startInProcess(t *testing.T, conf, logf string) (b *brokerRun, stop func() int) {
	t.Helper()
	r := runInProcess(t, brokerHooks{}, "-c", conf)
	select {
	case b = <-r.started:
	case <-r.exited:
		t.Fatalf("exited with %d: %s", r.code, readOrEmpty(logf))
	case <-time.After(10 * time.Second):
		t.Fatal("not started")
	}
	return b, r.stop
}

// midgePasswd runs "midge passwd args" in the test's process and fails the
// test unless it succeeds.
func midgePasswd(t *testing.T, args ...string) {
	t.Helper()
	var out bytes.Buffer
	if code := passwd.Run(context.Background(), "midge passwd", args, base.Streams{In: strings.NewReader(""), Out: &out, Err: &out}); code != 0 {
		t.Fatalf("midge passwd %q: exit %d\n%s", args, code, out.String())
	}
}

// dynsecConf returns the configuration lines that load Debian's dynamic
// security plugin with its configuration file file; the first admin
// password, admin-password-1, comes from an init file written into dir.
func dynsecConf(t *testing.T, dir, file string) string {
	t.Helper()
	init := filepath.Join(dir, "init")
	if err := os.WriteFile(init, []byte("admin-password-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\n" +
		"plugin_opt_config_file " + file + "\nplugin_opt_password_init_file " + init + "\n"
}

// webClient calls the HTTP API of an http_api listener, keeping its own
// cookies: one dashboard session.
type webClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

// newWebClient returns a client of the http_api listener on port.
func newWebClient(t *testing.T, port string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: "http://127.0.0.1:" + port, hc: &http.Client{Jar: jar, Timeout: 5 * time.Second}}
}

// call sends body as JSON (nothing if nil) with the CSRF token csrf (none
// if ""), decodes the response into out (unless nil), and returns the
// status code.
func (c *webClient) call(method, path, csrf string, body, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}
