package httpfiles_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/httpfiles"
)

// Files are served; directories only through their index.html; dot files
// and listings never.
func TestHandler(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "home")
	write("app/index.html", "app")
	write("app/x.js", "js")
	write("files/a.txt", "a")
	write(".secret", "no")
	write("app/.env", "no")
	srv := httptest.NewServer(httpfiles.Handler(dir))
	defer srv.Close()
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "home"},
		{"/app/", 200, "app"},
		{"/app/x.js", 200, "js"},
		{"/files/a.txt", 200, "a"},
		{"/files/", 404, ""},
		{"/.secret", 404, ""},
		{"/app/.env", 404, ""},
		{"/nothing", 404, ""},
	} {
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || tc.status == 200 && string(b) != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, res.StatusCode, b, tc.status, tc.body)
		}
	}
}

// get returns the status and body of GET path.
func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Symbolic links below the directory are refused, whether they lead out
// of it (a file, a directory) or stay inside; with MOSQUITTO_UNSAFE_ALLOW_
// SYMLINKS set, those that stay inside are followed and those that lead
// out still are not.
func TestSymlinks(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "www")
	outside := filepath.Join(base, "secret")
	for _, d := range []string{dir, outside, filepath.Join(dir, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range map[string]string{
		filepath.Join(dir, "index.html"):     "home",
		filepath.Join(dir, "sub", "a.txt"):   "a",
		filepath.Join(outside, "passwd"):     "root:x:0:0",
		filepath.Join(outside, "index.html"): "outside",
	} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"passwd": filepath.Join(outside, "passwd"), // absolute, out
		"rel":    "../secret/passwd",               // relative, out
		"outdir": outside,                          // a directory, out
		"inside": "sub/a.txt",                      // stays inside
		"subdir": "sub",                            // a directory inside
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	// The directory itself may be reached through a link.
	linkedDir := filepath.Join(base, "www-link")
	if err := os.Symlink(dir, linkedDir); err != nil {
		t.Fatal(err)
	}
	type want struct {
		status int
		body   string
	}
	check := func(h http.Handler, cases map[string]want) {
		t.Helper()
		srv := httptest.NewServer(h)
		defer srv.Close()
		for path, w := range cases {
			st, body := get(t, srv, path)
			if st != w.status || w.status == 200 && body != w.body || strings.Contains(body, "root:x") || strings.Contains(body, "outside") {
				t.Errorf("%s: %d %q, want %d %q", path, st, body, w.status, w.body)
			}
		}
	}
	refused := map[string]want{
		"/":                 {200, "home"},
		"/sub/a.txt":        {200, "a"},
		"/passwd":           {404, ""},
		"/rel":              {404, ""},
		"/outdir/passwd":    {404, ""},
		"/outdir/":          {404, ""},
		"/inside":           {404, ""},
		"/subdir/a.txt":     {404, ""},
		"/../secret/passwd": {404, ""},
	}
	// t.Setenv puts the variable back as it was after the test.
	t.Setenv(httpfiles.AllowSymlinksEnv, "")
	os.Unsetenv(httpfiles.AllowSymlinksEnv)
	check(httpfiles.Handler(dir), refused)
	check(httpfiles.Handler(linkedDir), refused)
	check(httpfiles.New(dir, false), refused)

	// Allowed, the links that stay inside are followed; the answers are
	// otherwise the same.
	allowed := maps.Clone(refused)
	allowed["/inside"] = want{200, "a"}
	allowed["/subdir/a.txt"] = want{200, "a"}
	check(httpfiles.New(dir, true), allowed)
	t.Setenv(httpfiles.AllowSymlinksEnv, "")
	check(httpfiles.Handler(dir), allowed)
}
