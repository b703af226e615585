package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math"
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
	// skipped are the entries left out, as Mosquitto logs them.
	skipped []Skipped
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

// Skipped is an entry of a password file that is left out, with the message
// Mosquitto 2.0 logs about it.
type Skipped struct {
	Line int // 1-based line number
	// Error says Mosquitto logs Msg at error level (an entry dropped after
	// parsing: "Error: ... removing entry."); otherwise at notice level (a
	// line it cannot parse: "Warning: Invalid line ...").
	Error bool
	Msg   string // the log message, word for word
}

// ParsePasswords parses a password file read from r; name is the file's
// name in messages. It fails only if r cannot be read or has a line longer
// than 1 MiB.
//
// Lines are read as Mosquitto 2.0's broker reads them (pwfile__parse, then
// unpwd__decode_passwords), and an entry Mosquitto leaves out is left out
// and described in Skipped, in Mosquitto's words and order: a line whose
// first byte is '#' is a comment and a line without ':' is skipped silently
// (so blank lines are too). Otherwise the line is split at ':' as strtok
// does (leading colons and fields after the hash are ignored) and blanks
// around the username and the hash are trimmed. A line with no field after
// the username, or a username or hash longer than 65,535 bytes, is skipped
// with a warning; an entry whose hash is missing, plain text, of an unknown
// type or undecodable is removed with an error. A user named twice keeps
// the last entry that is valid.
//
// Beyond 2.0, midge also reads what Mosquitto 2.1 writes: Argon2id hashes
// and 64-byte salts.
func ParsePasswords(r io.Reader, name string) (*PasswordFile, error) {
	pf := &PasswordFile{users: make(map[string]*hash)}
	type entry struct {
		line     int
		user, pw string
	}
	var entries []entry
	err := rawLines(r, name, func(n int, raw string) error {
		if raw == "" || raw[0] == '#' || !strings.Contains(raw, ":") || strings.TrimLeft(raw, ":") == "" {
			return nil // strtok finds no username in a line of colons: skipped
		}
		user, pw, ok, shown := splitEntry(raw)
		switch {
		case len(user) > maxField:
			pf.skipped = append(pf.skipped, Skipped{Line: n, Msg: "Warning: Invalid line in password file '" + name + "', username too long."})
		case !ok:
			pf.skipped = append(pf.skipped, Skipped{Line: n, Msg: "Warning: Invalid line in password file '" + name + "': " + shown})
		case len(pw) > maxField:
			pf.skipped = append(pf.skipped, Skipped{Line: n, Msg: "Warning: Invalid line in password file '" + name + "', password too long."})
		default:
			entries = append(entries, entry{n, user, pw})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		h, problem := decodeEntry(e.pw)
		if h == nil {
			pf.skipped = append(pf.skipped, Skipped{Line: e.line, Error: true,
				Msg: "Error: " + problem + " for user " + e.user + ", removing entry."})
			continue
		}
		if _, dup := pf.users[e.user]; !dup {
			pf.names = append(pf.names, e.user)
		}
		pf.users[e.user] = h
	}
	slices.Sort(pf.names)
	dummy, err := dummyFor(pf.names, pf.users)
	if err != nil {
		return nil, err
	}
	pf.dummy = dummy
	return pf, nil
}

// Skipped returns the entries of the file that were left out, in the order
// Mosquitto logs them: the lines it could not parse first, then the entries
// it removed. The caller owns the slice.
func (pf *PasswordFile) Skipped() []Skipped { return slices.Clone(pf.skipped) }

// splitEntry splits a line (with its line ending, if any) into a username
// and a hash as pwfile__parse does with strtok_r and trims them. ok is false
// when nothing follows the username; shown is then the line as Mosquitto
// prints it, its buffer after strtok and the trimming wrote into it.
func splitEntry(raw string) (user, pw string, ok bool, shown string) {
	rest := strings.TrimLeft(raw, ":")
	tok, after, cut := strings.Cut(rest, ":")
	user = trimBlanks(tok)
	if cut {
		if f := strtok(after, ':'); len(f) > 0 {
			return user, trimBlanks(f[0]), true, ""
		}
	}
	// The buffer ends where strtok ended the token, and the trimming cuts
	// the token's trailing blanks (its line ending too) unless it is all
	// blanks.
	shown = raw[:len(raw)-len(rest)] + tok
	if user != "" {
		shown = strings.TrimRightFunc(shown, isSpace)
	}
	return user, "", false, shown
}

// decodeEntry decodes a hash as Mosquitto 2.0's unpwd__decode_passwords
// does, splitting it at '$' as strtok does; when it cannot, it returns nil
// and the start of Mosquitto's message. Unlike 2.0 it also reads 64-byte
// salts and Argon2id hashes, as 2.1 does.
func decodeEntry(pw string) (*hash, string) {
	const invalid = "Invalid password hash"
	if strings.HasPrefix(pw, "$argon2id$") {
		h, err := parseArgon2id(pw)
		if err != nil {
			return nil, invalid
		}
		return h, ""
	}
	f := strtok(pw, '$')
	if len(f) == 0 {
		return nil, invalid
	}
	h := &hash{}
	switch f[0] {
	case "6":
		h.alg = SHA512
	case "7":
		h.alg = SHA512PBKDF2
		if len(f) < 2 {
			return nil, invalid
		}
		if h.iterations = atoi(f[1]); h.iterations < 1 {
			return nil, "Invalid hash iterations"
		}
		f = f[1:]
	default:
		return nil, invalid + " type"
	}
	if len(f) < 2 {
		return nil, invalid
	}
	salt, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(salt) != 12 && len(salt) != 64 {
		return nil, "Unable to decode password salt"
	}
	if len(f) < 3 {
		return nil, invalid
	}
	sum, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(sum) != sha512Len {
		return nil, "Unable to decode password"
	}
	h.salt, h.sum = salt, sum
	return h, ""
}

// atoi is C's atoi for the iteration count: leading blanks, a sign, then
// digits up to the first other byte; 0 without digits. A count beyond
// math.MaxInt32 gives -1, which is refused.
func atoi(s string) int {
	s = strings.TrimLeftFunc(s, isSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n = n*10 + int(s[i]-'0'); n > math.MaxInt32 {
			return -1
		}
	}
	if neg {
		return -n
	}
	return n
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
// A client that sent a username but no password, or an empty one, must be
// refused without calling Check, as Mosquitto refuses it (Authenticate
// does); Check itself checks an empty password like any other.
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
