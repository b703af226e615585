// Package httpfiles serves the files of an http_dir: the files of a
// directory, as Mosquitto's WebSocket listeners and midge's dashboard
// listeners serve them, without directory listings, dot files or symbolic
// links.
package httpfiles

import (
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// AllowSymlinksEnv is the environment variable that, set to any value (even
// empty), lets Handler follow symbolic links below the directory, as
// Mosquitto 2.1.1 and later read files through them only when it is set.
// Even then a link is followed only where it stays inside the directory,
// as Mosquitto 2.1's http_api listener requires of a file's real path.
const AllowSymlinksEnv = "MOSQUITTO_UNSAFE_ALLOW_SYMLINKS"

// Handler serves the files under dir. A directory is served only through
// its index.html; a path with a component starting with "." is not found,
// and so is one that goes through a symbolic link below dir unless the
// environment variable AllowSymlinksEnv is set (read now, once). dir itself
// may be a link. A missing dir serves nothing (404).
func Handler(dir string) http.Handler {
	_, allow := os.LookupEnv(AllowSymlinksEnv)
	return New(dir, allow)
}

// New is Handler with the choice about symbolic links made by the caller:
// with allowSymlinks, links are followed as long as what they lead to is
// inside dir; without, every path through a link is not found.
func New(dir string, allowSymlinks bool) http.Handler {
	return &handler{dir: dir, allowSymlinks: allowSymlinks}
}

type handler struct {
	dir           string
	allowSymlinks bool
}

// ServeHTTP opens dir for each request, so that a directory replaced or
// created after start-up is the one served, and serves the file from it:
// an os.Root, through which no path, link or ".." leads outside dir.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	root, err := os.OpenRoot(h.dir)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer root.Close()
	http.FileServerFS(files{root: root, allowSymlinks: h.allowSymlinks}).ServeHTTP(w, r)
}

// files hides dot files, directories without an index.html and, unless
// allowSymlinks, paths through symbolic links.
type files struct {
	root          *os.Root
	allowSymlinks bool
}

func (n files) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, fs.ErrNotExist
	}
	parts := strings.Split(name, "/")
	for _, part := range parts {
		if strings.HasPrefix(part, ".") && part != "." {
			return nil, fs.ErrNotExist
		}
	}
	if !n.allowSymlinks && name != "." {
		// Every component, not only the last: a linked directory leads
		// out just as well. The root keeps a link swapped in after the
		// check from leading outside dir.
		for i := range parts {
			st, err := n.root.Lstat(path.Join(parts[:i+1]...))
			if err != nil || st.Mode()&fs.ModeSymlink != 0 {
				return nil, fs.ErrNotExist
			}
		}
	}
	f, err := n.root.Open(name)
	if err != nil {
		// Not there, not readable, or a link leading out of dir: all
		// 404, as Mosquitto answers.
		return nil, fs.ErrNotExist
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		idx, err := n.Open(path.Join(name, "index.html"))
		if err != nil {
			f.Close()
			return nil, fs.ErrNotExist
		}
		idx.Close()
	}
	return f, nil
}
