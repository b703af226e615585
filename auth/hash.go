package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Algorithm is a password hash format of Mosquitto's password files. The zero
// value is SHA512PBKDF2, the default of mosquitto_passwd since Mosquitto 2.0.
type Algorithm uint8

const (
	// SHA512PBKDF2 is PBKDF2-HMAC-SHA512 with an iteration count, encoded
	// "$7$ITERATIONS$SALT$HASH" ("-H sha512-pbkdf2").
	SHA512PBKDF2 Algorithm = iota
	// SHA512 is one SHA-512 over the password followed by the salt, encoded
	// "$6$SALT$HASH" ("-H sha512"). This is Mosquitto's own layout, not
	// crypt(3)'s SHA-crypt, which shares the "$6$" prefix. Mosquitto 1.6 and
	// earlier wrote it; it is fast to brute-force, so prefer the others.
	SHA512
	// Argon2id is Argon2id (RFC 9106) in the PHC string format
	// "$argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH" ("-H argon2id"),
	// as Mosquitto 2.1 writes it when built with libargon2. Mosquitto 2.0
	// cannot read it.
	Argon2id
)

// String returns the name mosquitto_passwd's -H option uses for a.
func (a Algorithm) String() string {
	switch a {
	case SHA512PBKDF2:
		return "sha512-pbkdf2"
	case SHA512:
		return "sha512"
	case Argon2id:
		return "argon2id"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// ParseAlgorithm returns the Algorithm that mosquitto_passwd's -H option
// calls name: "sha512-pbkdf2", "sha512" or "argon2id".
func ParseAlgorithm(name string) (Algorithm, error) {
	for _, a := range []Algorithm{SHA512PBKDF2, SHA512, Argon2id} {
		if a.String() == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("auth: unknown hash type %q", name)
}

// Parameters of the hashes HashPassword makes.
const (
	// DefaultIterations is the PBKDF2 iteration count HashPassword uses when
	// given 0. Mosquitto 2.0 writes 101 and Mosquitto 2.1 writes 1,000; both
	// read any count. The broker verifies on every CONNECT, so the count
	// trades resistance to an offline attack on a stolen file against the CPU
	// an attacker can make the broker spend.
	DefaultIterations = 1000

	// saltLen is the salt midge writes for $6$ and $7$: 12 bytes, as
	// Mosquitto 2.0 writes and the only length Mosquitto 2.0 accepts, so that
	// a file midge writes works with both 2.0 and 2.1. (2.1 writes 64.)
	saltLen = 12
	// sha512Len is the length of every $6$ and $7$ hash.
	sha512Len = sha512.Size

	// Argon2id parameters of Mosquitto 2.1 (MOSQ_ARGON2_T/M/P, a 64-byte
	// salt and a 64-byte hash), so that a hash midge writes is one 2.1 would.
	argonTime    = 1
	argonMemory  = 47104 // KiB
	argonThreads = 1
	argonSaltLen = 64
	argonKeyLen  = 64

	// maxArgonMemory bounds the memory (KiB) of an Argon2id hash midge will
	// verify: each check allocates that much, so an absurd value would let
	// every login attempt exhaust the broker's memory. 4 GiB.
	maxArgonMemory = 4 << 20
)

// ErrBadHash is matched (errors.Is) by every error about a password hash that
// is not one of the formats Mosquitto writes, or that is damaged.
var ErrBadHash = errors.New("auth: bad password hash")

// badHashError says what is wrong with a hash; it matches ErrBadHash.
type badHashError struct{ reason string }

func (e *badHashError) Error() string        { return ErrBadHash.Error() + ": " + e.reason }
func (e *badHashError) Is(target error) bool { return target == ErrBadHash }

func badHash(format string, args ...any) error {
	return &badHashError{reason: fmt.Sprintf(format, args...)}
}

// hash is a decoded password hash.
type hash struct {
	alg  Algorithm
	salt []byte
	sum  []byte

	iterations int // SHA512PBKDF2

	time    uint32 // Argon2id
	memory  uint32 // Argon2id, KiB
	threads uint8  // Argon2id
}

// HashPassword hashes password with a fresh random salt and returns it encoded
// as it appears after "username:" in a password file. iterations is the
// PBKDF2 iteration count for SHA512PBKDF2 (0 means DefaultIterations); like
// mosquitto_passwd's -I, the other algorithms ignore it. Argon2id uses
// Mosquitto 2.1's parameters (t=1, m=47104 KiB, p=1).
func HashPassword(password string, alg Algorithm, iterations int) (string, error) {
	if iterations < 0 || iterations > math.MaxInt32 {
		return "", fmt.Errorf("auth: iteration count %d out of range", iterations)
	}
	if iterations == 0 {
		iterations = DefaultIterations
	}
	h := hash{alg: alg, iterations: iterations}
	switch alg {
	case SHA512, SHA512PBKDF2:
		h.salt = make([]byte, saltLen)
	case Argon2id:
		h.salt = make([]byte, argonSaltLen)
		h.time, h.memory, h.threads = argonTime, argonMemory, argonThreads
	default:
		return "", fmt.Errorf("auth: unknown hash algorithm %v", alg)
	}
	if _, err := rand.Read(h.salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	keyLen := sha512Len
	if alg == Argon2id {
		keyLen = argonKeyLen
	}
	sum, err := h.compute(password, keyLen)
	if err != nil {
		return "", err
	}
	h.sum = sum
	return h.encode(), nil
}

// VerifyHash reports whether password matches encoded, a hash in any of the
// formats Mosquitto writes. The comparison takes constant time. The error,
// which matches ErrBadHash, says why encoded is not such a hash.
func VerifyHash(encoded, password string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	return h.verify(password), nil
}

// CheckHash returns nil if encoded is a hash in one of the formats Mosquitto
// writes, and otherwise an error matching ErrBadHash that says what is wrong.
// Unlike VerifyHash it does no hashing, so it is cheap.
func CheckHash(encoded string) error {
	_, err := parseHash(encoded)
	return err
}

// compute derives keyLen bytes from password with h's algorithm, salt and
// parameters.
func (h *hash) compute(password string, keyLen int) ([]byte, error) {
	switch h.alg {
	case SHA512:
		d := sha512.New()
		d.Write([]byte(password))
		d.Write(h.salt)
		return d.Sum(nil), nil
	case SHA512PBKDF2:
		sum, err := pbkdf2.Key(sha512.New, password, h.salt, h.iterations, keyLen)
		if err != nil {
			return nil, fmt.Errorf("auth: pbkdf2: %w", err)
		}
		return sum, nil
	case Argon2id:
		return argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(keyLen)), nil
	}
	return nil, fmt.Errorf("auth: unknown hash algorithm %v", h.alg)
}

// verify reports whether password matches h, in time that does not depend on
// where the derived bytes first differ.
func (h *hash) verify(password string) bool {
	sum, err := h.compute(password, len(h.sum))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(sum, h.sum) == 1
}

// encode returns h in its password-file form.
func (h *hash) encode() string {
	b64 := base64.StdEncoding.EncodeToString
	switch h.alg {
	case SHA512:
		return "$6$" + b64(h.salt) + "$" + b64(h.sum)
	case SHA512PBKDF2:
		return "$7$" + strconv.Itoa(h.iterations) + "$" + b64(h.salt) + "$" + b64(h.sum)
	case Argon2id:
		raw := base64.RawStdEncoding.EncodeToString
		return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
			argon2.Version, h.memory, h.time, h.threads, raw(h.salt), raw(h.sum))
	}
	return ""
}

// sameCost reports whether verifying against h and o costs the same.
func (h *hash) sameCost(o *hash) bool {
	return h.alg == o.alg && h.iterations == o.iterations && len(h.sum) == len(o.sum) &&
		h.time == o.time && h.memory == o.memory && h.threads == o.threads
}

// parseHash decodes a hash as Mosquitto does (mosquitto_pw_decode in 2.1,
// unpwd__decode_passwords in 2.0): the prefix "$6$", "$7$" or "$argon2id$"
// picks the format, and the '$'-separated fields of $6$ and $7$ are split as
// strtok does (empty fields are skipped, fields after the hash ignored).
func parseHash(s string) (*hash, error) {
	switch {
	case strings.HasPrefix(s, "$6$"):
		f := strtok(s[3:], '$')
		if len(f) < 2 {
			return nil, badHash("$6$ hash needs a salt and a hash separated by '$'")
		}
		h := &hash{alg: SHA512}
		if err := h.decodeSaltSum(f[0], f[1]); err != nil {
			return nil, err
		}
		return h, nil
	case strings.HasPrefix(s, "$7$"):
		f := strtok(s[3:], '$')
		if len(f) < 3 {
			return nil, badHash("$7$ hash needs an iteration count, a salt and a hash separated by '$'")
		}
		n, err := strconv.ParseUint(f[0], 10, 31)
		if err != nil || n < 1 {
			return nil, badHash("iteration count %q is not a whole number from 1 to %d", f[0], math.MaxInt32)
		}
		h := &hash{alg: SHA512PBKDF2, iterations: int(n)}
		if err := h.decodeSaltSum(f[1], f[2]); err != nil {
			return nil, err
		}
		return h, nil
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$"):
		kind, _, _ := strings.Cut(s[1:], "$")
		return nil, badHash("unknown hash type %q (want $6$, $7$ or $argon2id$)", "$"+kind+"$")
	}
	return nil, badHash("not a hash (it should start with $6$, $7$ or $argon2id$; is this a plain-text password file? 'midge passwd -U FILE' hashes one)")
}

// decodeSaltSum decodes the base64 salt and hash of a $6$ or $7$ hash, with
// the lengths Mosquitto 2.1 accepts (2.0 accepts only the 12-byte salt).
func (h *hash) decodeSaltSum(salt64, sum64 string) error {
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		return badHash("salt %q is not base64", salt64)
	}
	if len(salt) != 12 && len(salt) != 64 {
		return badHash("salt is %d bytes; Mosquitto writes 12 (2.0) or 64 (2.1)", len(salt))
	}
	sum, err := base64.StdEncoding.DecodeString(sum64)
	if err != nil {
		return badHash("hash %q is not base64", sum64)
	}
	if len(sum) != sha512Len {
		return badHash("hash is %d bytes, not %d", len(sum), sha512Len)
	}
	h.salt, h.sum = salt, sum
	return nil
}

// parseArgon2id decodes a PHC string as libargon2's decode_string does:
// "$argon2id", an optional "$v=VERSION", "$m=M,t=T,p=P", then the salt and
// the hash in unpadded base64, and nothing after.
func parseArgon2id(s string) (*hash, error) {
	f := strings.Split(s, "$")
	// f[0] is "" (before the leading '$') and f[1] is "argon2id".
	f = f[2:]
	version := 0x10 // libargon2: a string without v= is version 1.0
	if len(f) > 0 && strings.HasPrefix(f[0], "v=") {
		v, err := strconv.ParseUint(f[0][2:], 10, 32)
		if err != nil {
			return nil, badHash("argon2id version %q is not a number", f[0][2:])
		}
		version = int(v)
		f = f[1:]
	}
	if version != argon2.Version {
		return nil, badHash("argon2id version %d is not supported (want v=%d)", version, argon2.Version)
	}
	if len(f) != 3 {
		return nil, badHash("argon2id hash should be $argon2id$v=19$m=M,t=T,p=P$SALT$HASH")
	}
	var m, t, p uint64
	if n, err := fmt.Sscanf(f[0], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		f[0] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return nil, badHash("argon2id parameters %q should be m=M,t=T,p=P", f[0])
	}
	switch {
	case t < 1 || t > math.MaxUint32:
		return nil, badHash("argon2id time cost t=%d out of range", t)
	case p < 1 || p > math.MaxUint8:
		return nil, badHash("argon2id parallelism p=%d out of range 1 to %d", p, math.MaxUint8)
	case m < 8*p:
		return nil, badHash("argon2id memory m=%d is less than 8*p", m)
	case m > maxArgonMemory:
		return nil, badHash("argon2id memory m=%d KiB is more than midge allows (%d)", m, maxArgonMemory)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(f[1])
	if err != nil {
		return nil, badHash("argon2id salt %q is not unpadded base64", f[1])
	}
	if len(salt) < 8 {
		return nil, badHash("argon2id salt is %d bytes, fewer than 8", len(salt))
	}
	sum, err := base64.RawStdEncoding.Strict().DecodeString(f[2])
	if err != nil {
		return nil, badHash("argon2id hash %q is not unpadded base64", f[2])
	}
	if len(sum) < 4 {
		return nil, badHash("argon2id hash is %d bytes, fewer than 4", len(sum))
	}
	return &hash{alg: Argon2id, salt: salt, sum: sum, time: uint32(t), memory: uint32(m), threads: uint8(p)}, nil
}

// strtok splits s at sep the way repeated strtok(3) calls do: runs of sep
// separate fields and empty fields are dropped.
func strtok(s string, sep byte) []string {
	var f []string
	for s != "" {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			return append(f, s)
		}
		if i > 0 {
			f = append(f, s[:i])
		}
		s = s[i+1:]
	}
	return f
}
