package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// PasswordFile is a parsed Mosquitto password file. It is immutable and safe
// for concurrent use.
type PasswordFile struct {
	users map[string]*hash
	names []string // sorted
	// dummy is checked when the user is unknown, so that an unknown user costs
	// about as much time as a known one with the file's usual parameters.
	dummy *hash
}

// maxField is Mosquitto's limit on a username or a hash in a password file.
const maxField = 65535

// LoadPasswordFile reads and parses the password file at path. See
// ParsePasswords.
func LoadPasswordFile(path string) (*PasswordFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParsePasswords(f, path)
}

// ParsePasswords parses a password file read from r; name is used in errors.
//
// Lines are read as Mosquitto's broker reads them (pwfile__parse): a line
// whose first byte is '#' is a comment and a line without ':' is skipped (so
// blank lines are too). Otherwise the line is split at ':' as strtok does
// (leading colons and fields after the hash are ignored) and blanks around the
// username and the hash are trimmed. Where Mosquitto would log an error and
// drop the user, ParsePasswords returns a *SyntaxError: an empty username, a
// missing or unreadable hash (including a plain-text password), a username or
// hash longer than 65,535 bytes, and a user named twice (Mosquitto 2.0 keeps
// the last line, 2.1 the first).
func ParsePasswords(r io.Reader, name string) (*PasswordFile, error) {
	pf := &PasswordFile{users: make(map[string]*hash)}
	firstLine := make(map[string]int)
	err := lines(r, name, func(n int, line string) error {
		if line == "" || line[0] == '#' || !strings.Contains(line, ":") {
			return nil
		}
		bad := func(format string, args ...any) error {
			return &SyntaxError{File: name, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		f := strtok(line, ':')
		if len(f) < 2 {
			if strings.HasPrefix(trimBlanks(line), ":") {
				return bad("no username before ':'")
			}
			return bad("user %q has no password hash after ':'", trimBlanks(f[0]))
		}
		user, pw := trimBlanks(f[0]), trimBlanks(f[1])
		switch {
		case user == "":
			return bad("empty username")
		case len(user) > maxField:
			return bad("username longer than %d bytes", maxField)
		case pw == "":
			return bad("user %q has no password hash after ':'", user)
		case len(pw) > maxField:
			return bad("password hash of user %q longer than %d bytes", user, maxField)
		}
		if first, dup := firstLine[user]; dup {
			return bad("user %q is already on line %d", user, first)
		}
		h, err := parseHash(pw)
		if err != nil {
			msg := err.Error()
			var e *badHashError
			if errors.As(err, &e) {
				msg = fmt.Sprintf("password hash of user %q: %s", user, e.reason)
			}
			return &SyntaxError{File: name, Line: n, Msg: msg, Err: err}
		}
		firstLine[user] = n
		pf.users[user] = h
		pf.names = append(pf.names, user)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(pf.names)
	dummy, err := dummyFor(pf.names, pf.users)
	if err != nil {
		return nil, err
	}
	pf.dummy = dummy
	return pf, nil
}

// dummyFor returns a hash that matches no password with the parameters most
// users in users have (the first in names wins a tie), or midge's default
// parameters when there are no users.
func dummyFor(names []string, users map[string]*hash) (*hash, error) {
	var best *hash
	bestCount := 0
	var seen []*hash
	var counts []int
	for _, n := range names {
		h := users[n]
		i := slices.IndexFunc(seen, h.sameCost)
		if i < 0 {
			seen = append(seen, h)
			counts = append(counts, 0)
			i = len(seen) - 1
		}
		counts[i]++
		if counts[i] > bestCount {
			best, bestCount = seen[i], counts[i]
		}
	}
	d := &hash{alg: SHA512PBKDF2, iterations: DefaultIterations, salt: make([]byte, saltLen), sum: make([]byte, sha512Len)}
	if best != nil {
		d = &hash{alg: best.alg, iterations: best.iterations, time: best.time, memory: best.memory, threads: best.threads,
			salt: make([]byte, len(best.salt)), sum: make([]byte, len(best.sum))}
	}
	// A random salt and a random "hash": no password derives to it.
	if _, err := rand.Read(d.salt); err != nil {
		return nil, fmt.Errorf("auth: dummy hash: %w", err)
	}
	if _, err := rand.Read(d.sum); err != nil {
		return nil, fmt.Errorf("auth: dummy hash: %w", err)
	}
	return d, nil
}

// Check reports whether password is the password of username. The hash
// comparison takes constant time, and an unknown username is checked against
// a dummy hash with the file's most common parameters, so that whether a user
// exists shows in the time taken only as far as users' hash parameters
// differ.
//
// A client that sent a username but no password must be refused without
// calling Check, as Mosquitto refuses it; an empty password is checked like
// any other.
func (pf *PasswordFile) Check(username, password string) bool {
	h, ok := pf.users[username]
	if !ok {
		pf.dummy.verify(password)
		return false
	}
	return h.verify(password)
}

// Users returns the usernames in the file, sorted. The caller owns the slice.
func (pf *PasswordFile) Users() []string { return slices.Clone(pf.names) }
