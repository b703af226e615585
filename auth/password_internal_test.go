package auth

import (
	"strings"
	"testing"
)

// An unknown user is checked against a dummy with the cost of the file's most
// common parameters, so the time taken does not say the user is unknown.
func TestDummyHasTheCommonCost(t *testing.T) {
	t.Parallel()
	h := func(alg Algorithm, iter int) string {
		s, err := HashPassword("x", alg, iter)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	body := "a:" + h(SHA512, 0) + "\nb:" + h(SHA512PBKDF2, 50) + "\nc:" + h(SHA512PBKDF2, 50) + "\n"
	pf, err := ParsePasswords(strings.NewReader(body), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !pf.dummy.sameCost(pf.users["b"]) {
		t.Errorf("dummy %+v does not cost what the two $7$ 50 users cost", pf.dummy)
	}
	if pf.dummy.verify("x") || pf.dummy.verify("") {
		t.Error("the dummy hash matched a password")
	}

	empty, err := ParsePasswords(strings.NewReader("# no users\n"), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if empty.dummy.alg != SHA512PBKDF2 || empty.dummy.iterations != DefaultIterations {
		t.Errorf("dummy of an empty file = %+v, want the default $7$", empty.dummy)
	}
}
