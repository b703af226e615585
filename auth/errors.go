package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SyntaxError is a line of a password or ACL file that midge refuses. Its
// message is "FILE:LINE: what is wrong".
type SyntaxError struct {
	File string // the name given to the parser, usually the path
	Line int    // 1-based
	Msg  string // what is wrong
	Err  error  // the underlying error, such as one matching ErrBadHash, or nil
}

// Error returns "FILE:LINE: what is wrong".
func (e *SyntaxError) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// Unwrap returns the underlying error, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// maxLine bounds one line of a password or ACL file. Mosquitto has no bound;
// its usernames and hashes are at most 65,535 bytes each.
const maxLine = 1 << 20

// lines calls fn with each line of r (without its line ending) and its number.
// It stops at the first error fn returns.
func lines(r io.Reader, name string, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(n, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &SyntaxError{File: name, Line: n + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine), Err: err}
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// isSpace is C's isspace in the C locale, which Mosquitto trims with.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

// trimBlanks is Mosquitto's misc__trimblanks: it trims isspace at both ends.
func trimBlanks(s string) string { return strings.TrimFunc(s, isSpace) }
