package explore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/midge-mqtt/midge/internal/atomicfile"
)

// savedConnection is one entry of the connections file: a name and the
// command line of midge sub that connects (host, port, credentials, TLS
// files, ...).
type savedConnection struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
}

// connectionsFile is the file of saved connections. It holds passwords, so
// it is written with mode 0600 and explore warns when others may read it.
type connectionsFile struct {
	Connections []savedConnection `json:"connections"`
}

// loadConnections reads path; a missing file is an empty list. warn is
// called when the file can be read by other users.
func loadConnections(path string, warn func(string)) (*connectionsFile, error) {
	cf := &connectionsFile{}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		warn(fmt.Sprintf("Warning: %s holds credentials but other users may read it (mode %04o); run: chmod 600 %s", path, fi.Mode().Perm(), path))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, cf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cf, nil
}

// find returns the connection named name.
func (cf *connectionsFile) find(name string) (savedConnection, bool) {
	for _, c := range cf.Connections {
		if c.Name == name {
			return c, true
		}
	}
	return savedConnection{}, false
}

// put adds c or replaces the connection of the same name.
func (cf *connectionsFile) put(c savedConnection) {
	for i := range cf.Connections {
		if cf.Connections[i].Name == c.Name {
			cf.Connections[i] = c
			return
		}
	}
	cf.Connections = append(cf.Connections, c)
}

// save writes cf to path atomically (a temporary file renamed over it),
// readable by its owner only.
func (cf *connectionsFile) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), ".explore-*.json")
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// historyFile returns the file name of a connection's history: its saved
// name, or the server and user it connects as.
func historyFile(name, server, user string) string {
	if name == "" {
		name = server
		if user != "" {
			name = user + "@" + name
		}
	}
	s := strings.Trim(unsafeChars.ReplaceAllString(name, "_"), "_.")
	if s == "" {
		s = "default"
	}
	return s + ".db"
}
