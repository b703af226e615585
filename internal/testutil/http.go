package testutil

import (
	"io"
	"net/http"
	"testing"
)

// GetOK fetches url with c (http.DefaultClient if nil) and returns the
// response, whose body is closed, and the body it read. It fails the test
// unless the answer is 200 OK.
func GetOK(t testing.TB, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	return resp, body
}
