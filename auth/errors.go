package auth

import (
	"bufio"
	"bytes"
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
	return scanLines(sc, name, fn)
}

// scanLines calls fn with each token of sc and its line number, as lines
// describes.
func scanLines(sc *bufio.Scanner, name string, fn func(n int, line string) error) error {
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

// rawLines is lines for the password file: fn gets each line with its line
// ending ("\n", or "\r\n" as the line's last two bytes), as fgets gives
// Mosquitto a line, since what Mosquitto logs about a line can show it.
func rawLines(r io.Reader, name string, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i+1], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	return scanLines(sc, name, fn)
}

// isSpace is C's isspace in the C locale, which Mosquitto trims with.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

// trimBlanks is Mosquitto's misc__trimblanks: it trims isspace at both ends.
func trimBlanks(s string) string { return strings.TrimFunc(s, isSpace) }
