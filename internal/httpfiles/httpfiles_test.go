package httpfiles_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
