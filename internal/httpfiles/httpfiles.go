// Package httpfiles serves the files of an http_dir: the files of a
// directory, as Mosquitto's WebSocket listeners and midge's dashboard
// listeners serve them, without directory listings or dot files.
package httpfiles

import (
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// Handler serves the files under dir. A directory is served only through
// its index.html; a path with a component starting with "." is not found.
func Handler(dir string) http.Handler {
	return http.FileServerFS(noListing{os.DirFS(dir)})
}

// noListing hides directories without an index.html, and dot files.
type noListing struct{ fs.FS }

func (n noListing) Open(name string) (fs.File, error) {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") && part != "." {
			return nil, fs.ErrNotExist
		}
	}
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		idx, err := n.FS.Open(path.Join(name, "index.html"))
		if err != nil {
			f.Close()
			return nil, fs.ErrNotExist
		}
		idx.Close()
	}
	return f, nil
}
