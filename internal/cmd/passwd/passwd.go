package passwd

// "midge passwd" is mosquitto_passwd: the same arguments, messages and exit
// statuses as Mosquitto 2.0's apps/mosquitto_passwd/mosquitto_passwd.c (and
// 2.1's, which adds -H argon2id and "-c -" for standard output). Where midge
// differs it is on purpose:
//
//   - The file is rewritten whole into a temporary file in its directory and
//     renamed over the old one, so a crash leaves the old file or the new one,
//     never a mix; Mosquitto rewrites in place from a backup copy. (Only when
//     the directory is not writable but the file is does midge rewrite in
//     place too.)
//   - A new file is created 0600, as Mosquitto 2.1 does (2.0 leaves it to the
//     umask, usually 0644): it holds password hashes, and $6$ or $7$ with
//     few iterations is cheap to attack offline. An existing file keeps its
//     mode and, where the user may set it, its owner and group, so a file
//     made group-readable for the broker stays readable.
//   - A corrupt line stops the command and leaves the file as it was.
//     Mosquitto 2.0 and 2.1 ignore the error when adding a user and write a
//     file holding only the new user. Comment lines ('#' first) and blank
//     lines are kept; Mosquitto calls them corrupt.
//   - -U leaves lines that already hold a hash alone (with a warning) instead
//     of hashing the hash, so running it twice does no harm; it also honours
//     -I, which Mosquitto ignores with -U.
//   - The default is 1,000 PBKDF2 iterations, as 2.1 writes, with the 12-byte
//     salt 2.0 writes, so both read the file (2.0 writes 101 iterations, and
//     2.0 rejects 2.1's 64-byte salts).
//   - Interrupted at the password prompt, it exits 130; Mosquitto exits 0.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/internal/atomicfile"
	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// options are the arguments of "midge passwd".
type options struct {
	alg        auth.Algorithm // -H
	iterations int            // -I; 0 means auth.DefaultIterations
	batch      bool           // -b: the password is the last argument
	create     bool           // -c: write a new file
	delete     bool           // -D: delete the user
	update     bool           // -U: hash a plain-text file
	file       string         // "-" with -c means standard output
	username   string
	password   string // with -b
}

// errUsage asks for the usage text (and exit status 1).
var errUsage = errors.New("passwd: usage")

// maxField is Mosquitto's limit on a username or a password.
const maxField = 65535

// parseArgs parses mosquitto_passwd's arguments. The options come
// first; the first argument that is not one ends them. An error other than
// errUsage is the message Mosquitto prints.
func parseArgs(args []string) (options, error) {
	var o options
	if len(args) == 0 {
		return o, errUsage
	}
	i := 0
options:
	for ; i < len(args); i++ {
		switch args[i] {
		case "-H":
			if i+1 == len(args) {
				return o, errors.New("Error: -H argument given but not enough other arguments.")
			}
			alg, err := auth.ParseAlgorithm(args[i+1])
			if err != nil {
				return o, fmt.Errorf("Error: Unknown hash type '%s'", args[i+1])
			}
			o.alg = alg
			i++
		case "-b":
			o.batch = true
		case "-c":
			o.create = true
		case "-D":
			o.delete = true
		case "-I":
			if i+1 == len(args) {
				return o, errors.New("Error: -I argument given but not enough other arguments.")
			}
			o.iterations = atoi(args[i+1])
			i++
			if o.iterations < 1 {
				return o, errors.New("Error: Number of iterations must be > 0.")
			}
		case "-U":
			o.update = true
		default:
			break options
		}
	}
	switch {
	case o.create && o.delete:
		return o, errors.New("Error: -c and -D cannot be used together.")
	case o.create && o.update:
		return o, errors.New("Error: -c and -U cannot be used together.")
	case o.delete && o.update:
		return o, errors.New("Error: -D and -U cannot be used together.")
	case o.delete && o.batch:
		return o, errors.New("Error: -b and -D cannot be used together.")
	}
	rest := args[i:]
	switch {
	case o.create && o.batch:
		if len(rest) < 3 {
			return o, errors.New("Error: -c argument given but password file, username, or password missing.")
		}
		o.file, o.username, o.password = rest[0], rest[1], rest[2]
	case o.create:
		if len(rest) < 2 {
			return o, errors.New("Error: -c argument given but password file or username missing.")
		}
		o.file, o.username = rest[0], rest[1]
	case o.delete:
		if len(rest) < 2 {
			return o, errors.New("Error: -D argument given but password file or username missing.")
		}
		o.file, o.username = rest[0], rest[1]
	case o.update:
		if len(rest) != 1 {
			return o, errors.New("Error: -U argument given but password file missing.")
		}
		o.file = rest[0]
	case o.batch && len(rest) == 3:
		o.file, o.username, o.password = rest[0], rest[1], rest[2]
	case !o.batch && len(rest) == 2:
		o.file, o.username = rest[0], rest[1]
	default:
		return o, errUsage
	}
	if len(o.username) > maxField {
		return o, errors.New("Error: Username must be less than 65536 characters long.")
	}
	for i := 0; i < len(o.username); i++ {
		if c := o.username[i]; c < 0x20 || c == 0x7f {
			return o, errors.New("Error: Username must not contain control characters.")
		}
	}
	if strings.Contains(o.username, ":") {
		return o, errors.New("Error: Username must not contain the ':' character.")
	}
	if len(o.password) > maxField {
		return o, errors.New("Error: Password must be less than 65536 characters long.")
	}
	return o, nil
}

// atoi is C's atoi, as mosquitto_passwd reads -I: leading blanks, a sign,
// then digits up to the first non-digit; 0 if there are none. A value that
// does not fit in 31 bits gives -1.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31-1 {
			return -1
		}
	}
	if neg {
		return -n
	}
	return n
}

func usage(w io.Writer, prog string) {
	fmt.Fprintf(w, `%[1]s is a tool for managing password files for mosquitto.

Usage: %[1]s [-H sha512 | -H sha512-pbkdf2 | -H argon2id] [-I iterations] [-c | -D] passwordfile username
       %[1]s [-H sha512 | -H sha512-pbkdf2 | -H argon2id] [-I iterations] [-c] -b passwordfile username password
       %[1]s -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      Mosquitto 1.6 and earlier defaulted to sha512.
 -I : specify the number of sha512-pbkdf2 iterations. Defaults to %[2]d.
 -U : update a plain text password file to use hashed passwords.

`, prog, auth.DefaultIterations)
	if prog == "mosquitto_passwd" {
		fmt.Fprint(w, "See https://mosquitto.org/ for more information.\n\n")
	}
}

// Run is "midge passwd" (and mosquitto_passwd).
func Run(ctx context.Context, prog string, args []string, st base.Streams) int {
	o, err := parseArgs(args)
	if errors.Is(err, errUsage) {
		usage(st.Out, prog)
		return 1
	}
	if err != nil {
		fmt.Fprintln(st.Err, err)
		return 1
	}
	return passwd(ctx, o, st)
}

// newLine asks for the new password of o.username and returns the line
// that stores it, or a non-zero exit status.
func (o options) newLine(ctx context.Context, st base.Streams) (string, int) {
	password, rc := o.newPassword(ctx, st)
	if rc != 0 {
		return "", rc
	}
	return o.line(o.username, password, st)
}

// passwd carries out o and returns the exit status.
func passwd(ctx context.Context, o options, st base.Streams) int {
	if o.create && o.file == "-" {
		line, rc := o.newLine(ctx, st)
		if rc != 0 {
			return rc
		}
		if _, err := io.WriteString(st.Out, line); err != nil {
			fmt.Fprintf(st.Err, "Error: %v.\n", err)
			return 1
		}
		return 0
	}

	// As realpath(3): write through symbolic links to the file itself.
	path, err := filepath.EvalSymlinks(o.file)
	switch {
	case err == nil:
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	case errors.Is(err, fs.ErrNotExist):
		path = o.file
	default:
		fmt.Fprintf(st.Err, "Error reading password file: %s\n", base.Strerror(err))
		return 1
	}

	if o.create {
		line, rc := o.newLine(ctx, st)
		if rc != 0 {
			return rc
		}
		if err := writeFileAtomic(path, []byte(line)); err != nil {
			fmt.Fprintf(st.Err, "Error: Unable to open file %s for writing. %s.\n", path, base.Strerror(err))
			return 1
		}
		return 0
	}

	data, err := readForUpdate(path)
	if err != nil {
		fmt.Fprintf(st.Err, "Error: Unable to open password file %s. %s.\n", path, base.Strerror(err))
		return 1
	}
	lines, bad := splitFile(data)
	if bad > 0 {
		fmt.Fprintf(st.Err, "Error: Corrupt password file at line %d.\n", bad)
		return 1
	}

	var out strings.Builder
	switch {
	case o.delete:
		found := false
		for _, l := range lines {
			if l.user == o.username {
				found = true
				continue
			}
			out.WriteString(l.raw)
		}
		if !found {
			fmt.Fprintf(st.Err, "Warning: User %s not found in password file.\n", o.username)
			return 1
		}
	case o.update:
		for _, l := range lines {
			if l.user == "" {
				out.WriteString(l.raw)
				continue
			}
			if auth.CheckHash(l.password) == nil {
				fmt.Fprintf(st.Err, "Warning: User %s already has a hashed password, leaving it unchanged.\n", l.user)
				out.WriteString(l.raw)
				continue
			}
			line, rc := o.line(l.user, l.password, st)
			if rc != 0 {
				return rc
			}
			out.WriteString(line)
		}
	default:
		password, rc := o.newPassword(ctx, st)
		if rc != 0 {
			return rc
		}
		found := false
		for _, l := range lines {
			if l.user != o.username {
				out.WriteString(l.raw)
				continue
			}
			found = true
			line, rc := o.line(o.username, password, st)
			if rc != 0 {
				return rc
			}
			out.WriteString(line)
		}
		if !found {
			if s := out.String(); s != "" && !strings.HasSuffix(s, "\n") {
				out.WriteString("\n")
			}
			line, rc := o.line(o.username, password, st)
			if rc != 0 {
				return rc
			}
			out.WriteString(line)
		}
	}
	if err := writeFileAtomic(path, []byte(out.String())); err != nil {
		fmt.Fprintf(st.Err, "Error occurred updating password file %s. %s.\n", path, base.Strerror(err))
		return 1
	}
	return 0
}

// line returns the password file line for user, or an exit status.
func (o options) line(user, password string, st base.Streams) (string, int) {
	hash, err := auth.HashPassword(password, o.alg, o.iterations)
	if err != nil {
		fmt.Fprintln(st.Err, "Error: Unable to hash password.")
		return "", 1
	}
	return user + ":" + hash + "\n", 0
}

// newPassword returns the password from the command line (-b) or asked for
// twice, or an exit status: 1 for an empty password, 2 for a mismatch, 130
// if interrupted.
func (o options) newPassword(ctx context.Context, st base.Streams) (string, int) {
	if o.batch {
		return o.password, 0
	}
	r := newSecretReader(st.In)
	fmt.Fprint(st.Out, "Password: ")
	pw1, err := r.read(ctx)
	if rc := secretError(err, st); rc != 0 {
		return "", rc
	}
	fmt.Fprintln(st.Out)
	fmt.Fprint(st.Out, "Reenter password: ")
	pw2, err := r.read(ctx)
	if rc := secretError(err, st); rc != 0 {
		return "", rc
	}
	fmt.Fprintln(st.Out)
	if pw1 != pw2 {
		fmt.Fprintln(st.Err, "Error: Passwords do not match.")
		return "", 2
	}
	return pw1, 0
}

var (
	errEmptyPassword = errors.New("empty password")
	errLongPassword  = errors.New("password too long")
)

// secretError prints Mosquitto's message for an error from secretReader.read
// and returns the exit status, or 0 for no error.
func secretError(err error, st base.Streams) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(st.Out)
		return 130
	case errors.Is(err, errLongPassword):
		fmt.Fprintln(st.Err, "Error: Password must be less than 65536 characters long.")
	default:
		// Mosquitto says this for end of input too.
		fmt.Fprintln(st.Err, "Error: Empty password.")
	}
	return 1
}

// secretReader reads passwords: from a terminal without echo, otherwise a
// line at a time.
type secretReader struct {
	fd  int           // a terminal, or -1
	buf *bufio.Reader // when not a terminal
}

func newSecretReader(in io.Reader) *secretReader {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &secretReader{fd: int(f.Fd())}
	}
	if in == nil {
		in = strings.NewReader("")
	}
	return &secretReader{fd: -1, buf: bufio.NewReader(in)}
}

// read returns the next password without its line ending. It returns
// errEmptyPassword for an empty line or end of input, and ctx's error if ctx
// ends first (restoring the terminal).
func (r *secretReader) read(ctx context.Context) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	var restore func()
	if r.fd >= 0 {
		if state, err := term.GetState(r.fd); err == nil {
			restore = func() { term.Restore(r.fd, state) }
		}
		go func() {
			b, err := term.ReadPassword(r.fd)
			ch <- result{string(b), err}
		}()
	} else {
		go func() {
			s, err := r.readLine()
			ch <- result{s, err}
		}()
	}
	select {
	case res := <-ch:
		if res.err != nil && !errors.Is(res.err, io.EOF) {
			return "", res.err
		}
		s := strings.TrimRight(res.s, "\r\n")
		if s == "" {
			return "", errEmptyPassword
		}
		if len(s) > maxField {
			return "", errLongPassword
		}
		return s, nil
	case <-ctx.Done():
		if restore != nil {
			restore()
		}
		return "", ctx.Err()
	}
}

// readLine reads one line, refusing to hold more than a password's worth.
func (r *secretReader) readLine() (string, error) {
	var b []byte
	for {
		chunk, err := r.buf.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > maxField+2 {
			return "", errLongPassword
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return string(b), err
		}
	}
}

// fileLine is a line of a password file as mosquitto_passwd sees it.
type fileLine struct {
	raw      string // with its line ending, written back unchanged
	user     string // "" for a comment or blank line
	password string // the hash, or the plain-text password for -U
}

// splitFile splits a password file into lines. A line must be
// "username:password" (split and trimmed as mosquitto_passwd does), a comment
// (first byte '#') or blank; bad is the number of the first line that is none
// of these, or 0.
func splitFile(data []byte) (lines []fileLine, bad int) {
	s := string(data)
	for n := 1; s != ""; n++ {
		raw := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			raw = s[:i+1]
		}
		s = s[len(raw):]
		l := fileLine{raw: raw}
		text := strings.TrimRight(raw, "\r\n")
		if text != "" && text[0] != '#' && trimBlanks(text) != "" {
			var fields []string
			for _, f := range strings.Split(text, ":") {
				if f != "" {
					fields = append(fields, f)
				}
			}
			if len(fields) < 2 {
				return nil, n
			}
			l.user, l.password = trimBlanks(fields[0]), trimBlanks(fields[1])
			if l.user == "" || l.password == "" {
				return nil, n
			}
		}
		lines = append(lines, l)
	}
	return lines, 0
}

// readForUpdate reads the file at path, which must be writable, as
// mosquitto_passwd opens it for update ("r+").
func readForUpdate(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeFileAtomic replaces the password file at path with data, through a
// temporary file renamed over it: an existing file keeps its mode and, if
// allowed, its owner (see atomicfile.Replace); a new one is 0600.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Replace(path, data, "."+filepath.Base(path)+".tmp*")
}

// trimBlanks trims C's isspace characters at both ends, as Mosquitto's
// misc__trimblanks does.
func trimBlanks(s string) string { return strings.Trim(s, " \t\n\v\f\r") }
