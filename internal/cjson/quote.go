package cjson

import (
	"fmt"
	"io"
)

// Writer is what Quote writes to: a *bytes.Buffer or a *strings.Builder.
type Writer interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

// Quote writes s as cJSON's print_string_ptr does: in double quotes, with
// ", \ and control characters escaped (\b \f \n \r \t by name, the others
// as \u00XX) and every other byte as it is. print_string_ptr reads a C
// string, so callers holding a Go string that may hold a NUL cut it there
// first if they must match cJSON on such input.
func Quote(w Writer, s string) {
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			w.WriteString(`\"`)
		case '\\':
			w.WriteString(`\\`)
		case '\b':
			w.WriteString(`\b`)
		case '\f':
			w.WriteString(`\f`)
		case '\n':
			w.WriteString(`\n`)
		case '\r':
			w.WriteString(`\r`)
		case '\t':
			w.WriteString(`\t`)
		default:
			if c < 32 {
				fmt.Fprintf(w, `\u%04x`, c)
			} else {
				w.WriteByte(c)
			}
		}
	}
	w.WriteByte('"')
}
