package broker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/mosqdb"
)

// mosquitto2011 is a file Debian's mosquitto 2.0.11 wrote (see its README).
const mosquitto2011 = "../../mosqdb/testdata/mosquitto-2.0.11.db"

func copyMosquittoDB(t *testing.T, dir, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(mosquitto2011)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return raw
}

// A mosquitto.db in persistence_location is imported into midge.db once and
// left as it is.
func TestMosquittoImportAtStart(t *testing.T) {
	dir := t.TempDir()
	raw := copyMosquittoDB(t, dir, "mosquitto.db")
	conf := persistConf(t, dir)
	for range 2 {
		code, errs, stop := startWith(t, conf)
		if stop == nil {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if code := stop(); code != 0 {
			t.Fatalf("stop: exit %d", code)
		}
		if _, err := os.Stat(filepath.Join(dir, "midge.db"+mosqdb.MarkerSuffix)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "mosquitto.db")); !bytes.Equal(got, raw) {
			t.Fatal("mosquitto.db changed")
		}
	}
}

// persistence_file naming Mosquitto's file (a mosquitto.conf used as it
// is) imports it; midge's store goes beside it as midge.db.
func TestMosquittoImportPersistenceFile(t *testing.T) {
	dir := t.TempDir()
	copyMosquittoDB(t, dir, "old.db")
	conf := persistConf(t, dir)
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("persistence_file old.db\n")
	f.Close()
	code, errs, stop := startWith(t, conf)
	if stop == nil {
		t.Fatalf("exit %d: %s", code, errs)
	}
	stop()
	for _, name := range []string{"midge.db", "midge.db" + mosqdb.MarkerSuffix} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// A Mosquitto file midge cannot read stops start-up with FILE: what is
// wrong.
func TestMosquittoImportUnreadable(t *testing.T) {
	dir := t.TempDir()
	raw := copyMosquittoDB(t, dir, "mosquitto.db")
	src := filepath.Join(dir, "mosquitto.db")
	if err := os.WriteFile(src, raw[:len(raw)-4], 0o600); err != nil {
		t.Fatal(err)
	}
	code, errs, stop := startWith(t, persistConf(t, dir))
	if stop != nil {
		stop()
		t.Fatal("started")
	}
	if code == 0 || !strings.Contains(errs, "cannot import the Mosquitto persistence file: "+src+": truncated DB_CHUNK_RETAIN") {
		t.Errorf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "midge.db"+mosqdb.MarkerSuffix)); err == nil {
		t.Error("marker written")
	}
}
