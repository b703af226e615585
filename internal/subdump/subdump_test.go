package subdump

import (
	"strings"
	"testing"
)

// Subscriptions come sorted by client then filter, retained topics after
// them sorted by topic.
func TestWrite(t *testing.T) {
	var b strings.Builder
	err := Write(&b, []Sub{{"b", "x", 1}, {"a", "z", 0}, {"a", "y", 2}}, []Retained{{"t/2", 5}, {"t/1", 0}})
	if err != nil {
		t.Fatal(err)
	}
	want := "a 2 y\na 0 z\nb 1 x\nretained t/1 (0 bytes)\nretained t/2 (5 bytes)\n"
	if b.String() != want {
		t.Errorf("wrote\n%s\nwant\n%s", b.String(), want)
	}
}
