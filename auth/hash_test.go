package auth_test

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/midge-mqtt/midge/auth"
)

// Hashes in the formats Mosquitto writes, from outside midge, with their
// passwords.
var vectors = []struct {
	name, encoded, password string
}{
	// Mosquitto 1.x's $6$ with a 12-byte salt: the vector of the
	// node-mosquitto-passwd package, whose test says it matches mosquitto_passwd.
	{"sha512 12-byte salt", "$6$fcQNw5IJfhWEEEM4$0rxaqu90qMJ0FLRlxCWPZiDFfemkc2UOpCHjUEKZ32C6AcKe9x5QKEFPuZwrW9jqoOmdOfP/3FKvbY48AFpSlA==", "123"},
	// Published (in a third-party test suite) as written by mosquitto_passwd
	// 2.1.2: "-H sha512" and the default $7$, both with 64-byte salts.
	{"sha512 64-byte salt (2.1.2)", "$6$3CT9isteD+dG9RdACdWtIilHbQcwYRV+lc3susyrq12coJXccvmbYaPzAqoqDbtYPYOdt/CaWT288xLqQPQd7Q==$feT2JsIRKYYW54dDq1wJXxJ7rUG8hBF+RplhMJQe237Iwj0sUbmVS9fAKlDFG8YcPhQT+1oOMTLRLDy22y8TLg==", "hunter2"},
	{"pbkdf2 64-byte salt (2.1.2)", "$7$1000$aZgkP6cb2b3ixQwdoDGK6SrcanFw8qhZ/v+HHbVtNxshn3zpp4U2+KZGND/8mzSrDJk6iwVa6ooQocRmZvXH2g==$NOyrZjiDdda7tcek5aun0S+c26WBmt++DYoQxMLSW9pFqIseyqKye88cHlNurOf6utRY2Zz24/+9a6ZGiuDrZg==", "hunter2"},
	{"pbkdf2 64-byte salt, space in password (2.1.2)", "$7$1000$yKoF2KDLkeo8qvGpC6RZnHYSOtWoR5Ss2zkFQEVpL5ssJ62d436/PwoXCR4/sCZAksqHj5XaAy8ljPacU/c2MQ==$Oz35vXEhLkvg+Rm9m2m3fQXPLD1wRD/2E7lbeKemRe5caFUuhwMAEgKmudtZ1O5O4NB/rj54HV/ML9igvKcVaQ==", "s3cret pass"},
	// Written by Debian's mosquitto_passwd 2.0.11 (-c -b, -H sha512, -I 5).
	{"pbkdf2 2.0.11", "$7$101$Wxk++Hn81nSI3TZW$vkp05PgLEIDtbnbhenGC4hgYMSGjCYZ77n2KWpdfk+gApi9Hv3GstfeNy4kf9VDdLzk8mzhG6xuWn21N0j8jtQ==", "secret"},
	{"sha512 2.0.11", "$6$zDuwi4nyO6LNisUj$n61wBiYLodi48adUMJV1AaBdryW5wqeot7GENCKR5N+LIqUrA/OtHQ1XDuE+5Qou0u1VGRvxuY0QCmVb0d14hQ==", "secret"},
	{"pbkdf2 5 iterations 2.0.11", "$7$5$ZiTDcxwSyZn/TLOp$Q0bASnv6aOIxaF/ijZ0UUZjTZV3q5kUVaxQOwQFQf2zdTNL/L9D3Ky6XrCylOsuWzbqbKKIfr+8GCPXPHra36g==", "secret"},
	// libargon2's own test vector (src/test.c, Argon2id v=0x13).
	{"argon2id libargon2", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password"},
	// Caddy's documentation, with Mosquitto 2.1's m, t and p.
	{"argon2id m=47104", "$argon2id$v=19$m=47104,t=1,p=1$zJPvVe48N64JUa9MFlVhiw$b5Tznu0PxnA4TciY6qYe2BFPxncF1ePQaeNukHhH1cU", "hiccup"},
}

func TestVerifyHashVectors(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			ok, err := auth.VerifyHash(v.encoded, v.password)
			if err != nil || !ok {
				t.Errorf("VerifyHash(right password) = %v, %v; want true", ok, err)
			}
			if err := auth.CheckHash(v.encoded); err != nil {
				t.Errorf("CheckHash = %v", err)
			}
			for _, wrong := range []string{"", v.password + "x", strings.ToUpper(v.password), v.password[1:]} {
				if wrong == v.password {
					continue
				}
				if ok, err := auth.VerifyHash(v.encoded, wrong); err != nil || ok {
					t.Errorf("VerifyHash(%q) = %v, %v; want false", wrong, ok, err)
				}
			}
		})
	}
}

// Mosquitto 2.1's formats, built here from their documented algorithms with
// fixed salts, independently of the package: $7$ with a 64-byte salt (2.1's
// default) and $argon2id$ with 2.1's parameters. There is no 2.1 on this
// machine to write them.
func TestVerifyHashConstructed21(t *testing.T) {
	t.Parallel()
	salt := make([]byte, 64)
	for i := range salt {
		salt[i] = byte(i * 7)
	}
	b64 := base64.StdEncoding.EncodeToString
	sum, err := pbkdf2.Key(sha512.New, "pässword", salt, 1000, 64)
	if err != nil {
		t.Fatal(err)
	}
	pbk := "$7$1000$" + b64(salt) + "$" + b64(sum)
	raw := base64.RawStdEncoding.EncodeToString
	arg := "$argon2id$v=19$m=47104,t=1,p=1$" + raw(salt) + "$" + raw(argon2.IDKey([]byte("pässword"), salt, 1, 47104, 1, 64))
	for _, enc := range []string{pbk, arg} {
		if ok, err := auth.VerifyHash(enc, "pässword"); err != nil || !ok {
			t.Errorf("VerifyHash(%.20s…, right) = %v, %v", enc, ok, err)
		}
		if ok, err := auth.VerifyHash(enc, "password"); err != nil || ok {
			t.Errorf("VerifyHash(%.20s…, wrong) = %v, %v", enc, ok, err)
		}
	}
}

func TestHashPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alg        auth.Algorithm
		iterations int
		format     string
	}{
		{auth.SHA512PBKDF2, 0, `^\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$`},
		{auth.SHA512PBKDF2, 7, `^\$7\$7\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$`},
		{auth.SHA512, 0, `^\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$`},
		{auth.SHA512, 99, `^\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$`},
		{auth.Argon2id, 0, `^\$argon2id\$v=19\$m=47104,t=1,p=1\$[A-Za-z0-9+/]{86}\$[A-Za-z0-9+/]{86}$`},
	} {
		t.Run(fmt.Sprint(tc.alg, tc.iterations), func(t *testing.T) {
			t.Parallel()
			enc, err := auth.HashPassword("a b:c$d", tc.alg, tc.iterations)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(tc.format).MatchString(enc) {
				t.Errorf("HashPassword = %q, want it to match %s", enc, tc.format)
			}
			if ok, err := auth.VerifyHash(enc, "a b:c$d"); err != nil || !ok {
				t.Errorf("VerifyHash(own hash, right) = %v, %v", ok, err)
			}
			if ok, err := auth.VerifyHash(enc, "a b:c$e"); err != nil || ok {
				t.Errorf("VerifyHash(own hash, wrong) = %v, %v", ok, err)
			}
			again, _ := auth.HashPassword("a b:c$d", tc.alg, tc.iterations)
			if again == enc {
				t.Error("two hashes of one password are equal: the salt is not random")
			}
		})
	}
	if _, err := auth.HashPassword("x", auth.SHA512PBKDF2, -1); err == nil {
		t.Error("HashPassword with -1 iterations: no error")
	}
	if _, err := auth.HashPassword("x", auth.Algorithm(9), 0); err == nil {
		t.Error("HashPassword with an unknown algorithm: no error")
	}
}

func TestAlgorithmNames(t *testing.T) {
	t.Parallel()
	for _, a := range []auth.Algorithm{auth.SHA512PBKDF2, auth.SHA512, auth.Argon2id} {
		got, err := auth.ParseAlgorithm(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := auth.ParseAlgorithm("md5"); err == nil {
		t.Error(`ParseAlgorithm("md5"): no error`)
	}
	if s := auth.Algorithm(9).String(); s != "Algorithm(9)" {
		t.Errorf("Algorithm(9).String() = %q", s)
	}
	var zero auth.Algorithm
	if zero != auth.SHA512PBKDF2 {
		t.Error("the zero Algorithm is not the default, SHA512PBKDF2")
	}
}

func TestVerifyHashMalformed(t *testing.T) {
	t.Parallel()
	b := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	r := func(n int) string { return base64.RawStdEncoding.EncodeToString(make([]byte, n)) }
	for _, enc := range []string{
		"",
		"plaintext",
		"6$" + b(12) + "$" + b(64),
		"$5$" + b(12) + "$" + b(64),
		"$6$",
		"$6$" + b(12),
		"$6$!!!!$" + b(64),
		"$6$" + b(16) + "$" + b(64), // salt neither 12 nor 64 bytes
		"$6$" + b(12) + "$" + b(32), // hash not 64 bytes
		"$6$" + b(12) + "$" + b(64)[:86],
		"$7$" + b(12) + "$" + b(64), // no iterations
		"$7$0$" + b(12) + "$" + b(64),
		"$7$-5$" + b(12) + "$" + b(64),
		"$7$x$" + b(12) + "$" + b(64),
		"$7$9999999999$" + b(12) + "$" + b(64),
		"$argon2id$v=19$m=47104,t=1,p=1$" + r(16),
		"$argon2id$v=16$m=47104,t=1,p=1$" + r(16) + "$" + r(32),
		"$argon2id$m=47104,t=1,p=1$" + r(16) + "$" + r(32), // no version means 0x10
		"$argon2id$v=19$m=47104,t=0,p=1$" + r(16) + "$" + r(32),
		"$argon2id$v=19$m=47104,t=1,p=0$" + r(16) + "$" + r(32),
		"$argon2id$v=19$m=4,t=1,p=1$" + r(16) + "$" + r(32),
		"$argon2id$v=19$m=99999999,t=1,p=1$" + r(16) + "$" + r(32),
		"$argon2id$v=19$m=47104,t=1,p=256$" + r(16) + "$" + r(32),
		"$argon2id$v=19$m=047104,t=1,p=1$" + r(16) + "$" + r(32),
		"$argon2id$v=19$t=1,m=47104,p=1$" + r(16) + "$" + r(32),
		"$argon2id$v=19$m=47104,t=1,p=1$" + r(4) + "$" + r(32),
		"$argon2id$v=19$m=47104,t=1,p=1$" + r(16) + "$" + r(2),
		"$argon2id$v=19$m=47104,t=1,p=1$" + b(16) + "$" + r(32), // padded
		"$argon2id$v=19$m=47104,t=1,p=1$" + r(16) + "$" + r(32) + "$",
		"$argon2i$v=19$m=47104,t=1,p=1$" + r(16) + "$" + r(32),
	} {
		ok, err := auth.VerifyHash(enc, "")
		if ok || !errors.Is(err, auth.ErrBadHash) {
			t.Errorf("VerifyHash(%q) = %v, %v; want an error matching ErrBadHash", enc, ok, err)
		}
		if err := auth.CheckHash(enc); !errors.Is(err, auth.ErrBadHash) {
			t.Errorf("CheckHash(%q) = %v; want an error matching ErrBadHash", enc, err)
		}
	}
}

// Mosquitto splits a hash's fields as strtok does, so empty fields and fields
// after the hash do not matter.
func TestVerifyHashStrtok(t *testing.T) {
	t.Parallel()
	v := vectors[4].encoded // $7$101$salt$hash, password "secret"
	for _, enc := range []string{
		strings.Replace(v, "$", "$$", 3)[1:], // "$7$$101$$salt..." (keep the "$7$" prefix)
		v + "$trailing",
		v + "$",
	} {
		if ok, err := auth.VerifyHash(enc, "secret"); err != nil || !ok {
			t.Errorf("VerifyHash(%q) = %v, %v; want true", enc, ok, err)
		}
	}
}
