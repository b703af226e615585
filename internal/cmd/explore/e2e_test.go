package explore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestBrowserExplore runs the midge binary's explore command against
// Debian's mosquitto and drives its dashboard in headless Chromium through
// web/e2e/explore.mjs: a message published with mosquitto_pub appears in
// the tree, a publish from the page reaches mosquitto_sub, and after a
// restart of midge explore the history is still there. The screenshots
// (docs/explore.md shows copies) go to web/e2e/artifacts/explore/. It fails,
// not skips, when a tool is missing.
func TestBrowserExplore(t *testing.T) {
	testutil.NeedBrowser(t, "../../../web/e2e")
	needTools(t, "mosquitto", "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	bin := testutil.MidgeBinary(t)
	port := startMosquitto(t, nil)
	artifacts, _ := filepath.Abs("../../../web/e2e/artifacts/explore")
	os.RemoveAll(artifacts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"explore", "--no-browser", "--state", filepath.Join(dir, "state"), "--connections", filepath.Join(dir, "c.json"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port)}

	browse := func(phase, url string) {
		t.Helper()
		node := exec.CommandContext(ctx, "node", "../../../web/e2e/explore.mjs")
		node.Env = append(os.Environ(), "EXPLORE_URL="+url, "PHASE="+phase, "MQTT_PORT="+strconv.Itoa(port),
			"ARTIFACTS="+artifacts, "CHROMIUM="+testutil.ChromiumPath)
		out, err := node.CombinedOutput()
		t.Logf("explore.mjs %s:\n%s", phase, out)
		if err != nil {
			t.Fatalf("the browser test failed (%v); screenshots in %s", err, artifacts)
		}
	}

	wait := mosquittoSub(t, port, "greenhouse/window/set")
	stop, url := startExploreBinary(t, ctx, bin, args)
	browse("live", url)
	if got := wait(); got != "greenhouse/window/set open" {
		t.Errorf("mosquitto_sub printed %q", got)
	}
	stop()
	stop, url = startExploreBinary(t, ctx, bin, args)
	defer stop()
	browse("restart", url)
	for _, f := range []string{"explore-tree.png", "explore-publish.png", "explore-restart.png"} {
		if st, err := os.Stat(filepath.Join(artifacts, f)); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
}

// startExploreBinary runs bin with args and returns the dashboard's URL and
// a function that stops it with SIGINT (Ctrl-C) and waits.
func startExploreBinary(t *testing.T, ctx context.Context, bin string, args []string) (stop func(), url string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errs testutil.LockedBuffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("midge explore: %v\n%s", err, errs.String())
		}
	}
	if url = dashboardURL(out); url == "" {
		stop()
		t.Fatalf("midge explore printed no URL:\n%s", errs.String())
	}
	return stop, url
}

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }
