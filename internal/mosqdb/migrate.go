package mosqdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/atomicfile"
)

// MarkerSuffix is appended to the store's path to name the file that
// records an import (see Migration).
const MarkerSuffix = ".mosquitto-import"

// Migration imports a Mosquitto persistence file into midge's store once,
// at start-up. Source, Marker, Store and Log must be set.
type Migration struct {
	// Source is Mosquitto's file (persistence_location/mosquitto.db).
	Source string
	// Marker is the file that records the import, the store's path with
	// MarkerSuffix. It is written (durably, by rename) after the import is
	// committed, and while it exists Run imports nothing.
	Marker string
	Store  broker.Store
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Listener maps a listener port to its name (see ImportOptions).
	Listener func(port uint16) string
}

// marker is what the marker file holds: which file was imported, when,
// and what it held.
type marker struct {
	Source   string    `json:"source"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mtime"`
	SHA256   string    `json:"sha256"`
	Imported time.Time `json:"imported"`
	Counts   Imported  `json:"counts"`
}

// Run imports m.Source into m.Store when the file exists, no import has
// been recorded (m.Marker is absent) and the store holds nothing, and
// reports whether it did. It never changes the source file. An error
// (the source cannot be read or is not a file midge can read, the store
// fails) must stop start-up: it names the file and what is wrong.
func (m Migration) Run(ctx context.Context) (bool, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	fi, err := os.Stat(m.Source)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if b, err := os.ReadFile(m.Marker); err == nil {
		var mk marker
		_ = json.Unmarshal(b, &mk)
		if sum, err := fileSHA256(m.Source); err == nil && sum != mk.SHA256 {
			m.Log.Warn(fmt.Sprintf("Warning: %s has changed since midge imported it on %s; "+
				"midge imports a Mosquitto persistence file once (remove %s and empty the store to import it again).",
				m.Source, mk.Imported.Format(time.RFC3339), m.Marker))
		} else {
			m.Log.Debug(fmt.Sprintf("%s was imported on %s (%s); not importing it again.", m.Source, mk.Imported.Format(time.RFC3339), m.Marker))
		}
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("the import marker: %w", err)
	}
	var maxID uint64
	empty := true
	seen := func() error { empty = false; return nil }
	err = m.Store.Load(ctx, broker.Loader{
		MaxMessageID: func(id uint64) error { maxID = id; return nil },
		Retained:     func(*broker.Message) error { return seen() },
		Session:      func(*broker.StoredSession) error { return seen() },
		Inbound:      func(string, uint16) error { return seen() },
	})
	if err != nil {
		return false, fmt.Errorf("reading the store: %w", err)
	}
	if !empty {
		m.Log.Warn(fmt.Sprintf("Warning: not importing %s: midge's store already holds retained messages or sessions.", m.Source))
		return false, nil
	}
	raw, err := os.ReadFile(m.Source)
	if err != nil {
		return false, err
	}
	f, err := Parse(raw)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Path = m.Source
		}
		return false, err
	}
	n, err := Import(ctx, m.Store, f, ImportOptions{MaxID: maxID, Now: now(), Listener: m.Listener})
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(raw)
	mk := marker{Source: m.Source, Size: fi.Size(), ModTime: fi.ModTime().UTC(), SHA256: hex.EncodeToString(sum[:]),
		Imported: now().UTC(), Counts: n}
	if err := writeMarker(m.Marker, mk); err != nil {
		return true, fmt.Errorf("the import is committed, but recording it in %s failed: %w", m.Marker, err)
	}
	m.Log.Info(fmt.Sprintf("Imported Mosquitto persistence file %s (version %d): %s. The file is left as it is; %s records the import.",
		m.Source, f.Version, n, m.Marker))
	return true, nil
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// writeMarker writes the marker durably: a temporary file, synced, renamed
// into place, and the directory synced.
func writeMarker(path string, mk marker) error {
	b, err := json.MarshalIndent(mk, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), filepath.Base(path)+".tmp*")
}
