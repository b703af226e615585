package auth_test

import (
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
)

// A fingerprint is the same for the same entry read twice, and differs
// for another password of the same user.
func TestFingerprint(t *testing.T) {
	entry := func(pw string) string {
		h, err := auth.HashPassword(pw, auth.SHA512PBKDF2, 10)
		if err != nil {
			t.Fatal(err)
		}
		return "alice:" + h + "\n"
	}
	parse := func(text string) *auth.PasswordFile {
		pf, err := auth.ParsePasswords(strings.NewReader(text), "pw")
		if err != nil {
			t.Fatal(err)
		}
		return pf
	}
	one, two := entry("a"), entry("a")
	fp1, ok1 := parse(one).Fingerprint("alice")
	fp1again, _ := parse("# comment\n" + one).Fingerprint("alice")
	fp2, ok2 := parse(two).Fingerprint("alice")
	if !ok1 || !ok2 || fp1 != fp1again || fp1 == fp2 {
		t.Errorf("fingerprints: %x %x %x", fp1, fp1again, fp2)
	}
	if _, ok := parse(one).Fingerprint("bob"); ok {
		t.Error("bob has a fingerprint")
	}
}
