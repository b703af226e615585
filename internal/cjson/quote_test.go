package cjson

import (
	"bytes"
	"strings"
	"testing"
)

// TestQuote checks the escapes print_string_ptr makes, and that bytes at or
// above 0x20 other than " and \ (UTF-8 included) go out as they are.
func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"plain/topic", `"plain/topic"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f é €", "\"\x7f é €\""},
	} {
		var b bytes.Buffer
		Quote(&b, c.in)
		if b.String() != c.want {
			t.Errorf("Quote(%q) into a bytes.Buffer = %s, want %s", c.in, b.String(), c.want)
		}
		var sb strings.Builder
		Quote(&sb, c.in)
		if sb.String() != c.want {
			t.Errorf("Quote(%q) into a strings.Builder = %s, want %s", c.in, sb.String(), c.want)
		}
	}
}
