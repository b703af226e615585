package broker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startWith runs the broker in-process with conf and extra flags; it returns
// the exit status if it stops by itself within the time a start takes, or
// -1 and a stop function once it serves.
func startWith(t *testing.T, conf string, flags ...string) (int, string, func() int) {
	t.Helper()
	r := runInProcess(t, brokerHooks{}, append([]string{"-c", conf}, flags...)...)
	select {
	case <-r.started:
		return -1, "", r.stop
	case <-r.exited:
		return r.code, r.errs.String(), nil
	case <-time.After(10 * time.Second):
		t.Fatal("neither started nor stopped")
		return 0, "", nil
	}
}

// persistConf writes a configuration into the test's directory that keeps
// its store in dir.
func persistConf(t *testing.T, dir string) string {
	conf := filepath.Join(t.TempDir(), "m.conf")
	text := "listener " + freePort(t) + " 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nuser root\npersistence true\npersistence_location " + dir + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// A persistence_location that does not exist stops start-up with a message
// that says what to do.
func TestPersistenceMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	conf := persistConf(t, filepath.Join(dir, "nowhere"))
	code, errs, _ := startWith(t, conf)
	if code != exitFailure || !strings.Contains(errs, "no such file or directory") || !strings.Contains(errs, "persistence_location") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// A damaged store is reported and left alone; --recover moves it aside and
// starts with an empty one.
func TestPersistenceRecover(t *testing.T) {
	dir := t.TempDir()
	conf := persistConf(t, dir)
	db := filepath.Join(dir, "midge.db")
	junk := bytes.Repeat([]byte("not a store "), 1000)
	if err := os.WriteFile(db, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	code, errs, _ := startWith(t, conf)
	if code != exitFailure || !strings.Contains(errs, "--recover") {
		t.Fatalf("damaged store: exit %d, stderr %q", code, errs)
	}
	if got, _ := os.ReadFile(db); !bytes.Equal(got, junk) {
		t.Fatal("the damaged store was changed")
	}
	code, errs, stop := startWith(t, conf, "--recover")
	if code != -1 {
		t.Fatalf("--recover: exit %d, stderr %q", code, errs)
	}
	if code := stop(); code != exitOK {
		t.Errorf("exit %d", code)
	}
	moved, _ := filepath.Glob(db + ".corrupt-*")
	if len(moved) != 1 {
		t.Fatalf("moved aside: %v", moved)
	}
	if got, _ := os.ReadFile(moved[0]); !bytes.Equal(got, junk) {
		t.Error("the moved store is not the damaged one")
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("no new store: %v", err)
	}
}
