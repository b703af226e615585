package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
)

// Whatever the file holds, parsing returns an *ACL or a *SyntaxError, and the
// checks on a parsed ACL do not panic.
func FuzzParseACL(f *testing.F) {
	f.Add(aclFile, "bob", "c/1", "bob/x", "#")
	f.Add("topic\nuser\n", "", "", "a", "+")
	f.Add("pattern read %c%u%c%u%c/%u\n", "u/v", "a/b", "a/bu/va/bu/va/b/u/v", "+/+/#")
	f.Add("topic deny $SYS/#\npattern read #\n", "", "a+b", "$SYS/x", "$SYS/+")
	f.Fuzz(func(t *testing.T, body, user, id, topic, filter string) {
		a, err := auth.ParseACL(strings.NewReader(body), "acl")
		if err != nil {
			wantSyntaxError(t, "ParseACL", err)
			return
		}
		for _, acc := range []broker.Access{broker.Read, broker.Write, broker.Subscribe} {
			a.Allowed(user, true, id, topic, acc)
			a.Allowed(user, false, id, topic, acc)
		}
		a.CanEverRead(user, true, id, filter)
		a.CanEverRead(user, false, id, filter)
		// A filter that is a topic name is readable exactly when Allowed says so.
		if topic != "" && !strings.ContainsAny(topic, "+#") && len(topic) < 1000 && strings.Count(topic, "/") < 200 {
			if got, want := a.CanEverRead(user, true, id, topic), a.Allowed(user, true, id, topic, broker.Read); got != want {
				t.Fatalf("CanEverRead(%q) = %v, Allowed(%q, Read) = %v", topic, got, topic, want)
			}
		}
	})
}

// Whatever the file holds, parsing returns a *PasswordFile or a *SyntaxError.
func FuzzParsePasswords(f *testing.F) {
	for _, v := range vectors[:4] {
		f.Add("u:" + v.encoded + "\n# c\n\nx\n")
	}
	f.Add("::a:$7$1:$6$\n")
	f.Add("u:$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXP\n")
	f.Add(" \t:" + vectors[0].encoded + "\n") // the empty user name, as Mosquitto keeps it
	f.Fuzz(func(t *testing.T, body string) {
		pf, err := auth.ParsePasswords(strings.NewReader(body), "pw")
		if err != nil {
			wantSyntaxError(t, "ParsePasswords", err)
			return
		}
		// A user name never holds the field separator or a line ending,
		// nor blanks (C isspace) at its ends. It may be empty: Mosquitto keeps a
		// line whose user name is all blanks as the user "" (see
		// TestCompatPasswordFileLines).
		for _, u := range pf.Users() {
			if strings.ContainsAny(u, ":\n") || strings.Trim(u, " \t\n\v\f\r") != u {
				t.Fatalf("user %q parsed", u)
			}
		}
	})
}

// wantSyntaxError fails the test unless err, returned by the function
// named fn, is a *auth.SyntaxError with a line number.
func wantSyntaxError(t *testing.T, fn string, err error) {
	t.Helper()
	var se *auth.SyntaxError
	if !errors.As(err, &se) || se.Line < 1 {
		t.Fatalf("%s error %v is not a *SyntaxError with a line", fn, err)
	}
}
