package ctrl

// Asking for a password as mosquitto_ctrl's get_password does: the prompt
// on standard output, the answer read from the terminal without echo (or a
// line of standard input), a newline printed after each answer.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// Results of askPassword, as get_password returns them.
const (
	pwOK       = 0
	pwEmpty    = 1 // empty answer or end of input
	pwMismatch = 2
)

// prompter reads passwords from st.In.
type prompter struct {
	st  base.Streams
	fd  int           // a terminal, or -1
	buf *bufio.Reader // when not a terminal
}

func newPrompter(st base.Streams) *prompter {
	p := &prompter{st: st, fd: -1}
	if f, ok := st.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd = int(f.Fd())
		return p
	}
	in := st.In
	if in == nil {
		in = strings.NewReader("")
	}
	p.buf = bufio.NewReader(in)
	return p
}

// read prints prompt and reads one answer; ok is false for an empty answer
// or the end of input.
func (p *prompter) read(prompt string) (string, bool) {
	io.WriteString(p.st.Out, prompt)
	var s string
	if p.fd >= 0 {
		b, err := term.ReadPassword(p.fd)
		if err != nil {
			return "", false
		}
		s = string(b)
	} else {
		line, err := p.buf.ReadString('\n')
		if err != nil && line == "" {
			return "", false
		}
		s = strings.TrimRight(line, "\r\n")
	}
	if s == "" {
		return "", false
	}
	fmt.Fprintln(p.st.Out)
	return s, true
}

// askPassword is get_password: prompt, and verify if not empty, each
// answered; quiet keeps the error messages back for the caller.
func (p *prompter) askPassword(prompt, verify string, quiet bool) (string, int) {
	pw, ok := p.read(prompt)
	if !ok {
		if !quiet {
			fmt.Fprintf(p.st.Err, "Error: Empty password.\n")
		}
		return "", pwEmpty
	}
	if verify == "" {
		return pw, pwOK
	}
	again, ok := p.read(verify)
	if !ok {
		if !quiet {
			fmt.Fprintf(p.st.Err, "Error: Empty password.\n")
		}
		return "", pwEmpty
	}
	if pw != again {
		if !quiet {
			fmt.Fprintf(p.st.Err, "Error: Passwords do not match.\n")
		}
		return "", pwMismatch
	}
	return pw, pwOK
}
