package auth_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// hashOf returns a hash of password (SHA512, cheap) for building files.
func hashOf(t *testing.T, password string) string {
	t.Helper()
	h, err := auth.HashPassword(password, auth.SHA512, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func parse(t *testing.T, body string) (*auth.PasswordFile, error) {
	t.Helper()
	return auth.ParsePasswords(strings.NewReader(body), "pw")
}

// What Mosquitto's broker reads from a password file (pwfile__parse), each
// case confirmed against Debian's mosquitto 2.0.11.
func TestParsePasswordsAsMosquitto(t *testing.T) {
	t.Parallel()
	a, b := hashOf(t, "pa"), hashOf(t, "pb")
	body := strings.Join([]string{
		"# a comment",
		"#commented:" + a, // a comment even with a colon
		"",
		"   ",
		"no colon here",        // skipped
		"plain:" + a,           // a user
		"  sp  :  " + b + "  ", // blanks around fields are trimmed
		"crlf:" + a + "\r",
		"tab\t:\t" + b,
		"::lead:" + a,       // strtok skips leading colons
		"extra:" + b + ":x", // and ignores fields after the hash
		" #notcomment:" + a, // '#' is a comment only as the first byte
		"with space:" + b,
		"ünïcödé:" + a,
	}, "\n") // no newline at the end
	pf, err := parse(t, body)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"#notcomment", "crlf", "extra", "lead", "plain", "sp", "tab", "with space", "ünïcödé"}
	if got := pf.Users(); !slices.Equal(got, want) {
		t.Errorf("Users() = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		user, password string
		want           bool
	}{
		{"plain", "pa", true},
		{"plain", "pb", false},
		{"plain", "", false},
		{"plain", " pa", false},
		{"sp", "pb", true},
		{" sp", "pb", false},
		{"crlf", "pa", true},
		{"tab", "pb", true},
		{"lead", "pa", true},
		{"extra", "pb", true},
		{"#notcomment", "pa", true},
		{"with space", "pb", true},
		{"ünïcödé", "pa", true},
		{"commented", "pa", false},
		{"#commented", "pa", false},
		{"no colon here", "", false},
		{"nobody", "pa", false},
		{"", "", false},
	} {
		if got := pf.Check(tc.user, tc.password); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.user, tc.password, got, tc.want)
		}
	}
	u := pf.Users()
	u[0] = "changed"
	if pf.Users()[0] == "changed" {
		t.Error("Users returned the file's own slice")
	}
}

// Every line Mosquitto 2.0 leaves out is left out, with its message (the
// messages are compared with Debian's mosquitto in
// internal/cmd/broker/pwfile_compat_test.go), and the file's other users
// stay.
func TestParsePasswordsSkipped(t *testing.T) {
	t.Parallel()
	good := hashOf(t, "x")
	long := strings.Repeat("u", 65536)
	for _, tc := range []struct {
		name, line string
		err        bool // an error-level message
		want       string
	}{
		// The line ending is a field after the ':'.
		{"no hash", "alice:", true, "Error: Invalid password hash for user alice, removing entry."},
		{"colons only after", "alice:::", true, "Error: Invalid password hash for user alice, removing entry."},
		{"blank hash", "alice:   ", true, "Error: Invalid password hash for user alice, removing entry."},
		{"blank username", "  ::", true, "Error: Invalid password hash for user , removing entry."},
		{"no username", ":" + good, false, "Warning: Invalid line in password file 'pw': :" + good},
		{"no username, blanks", "::  ", false, "Warning: Invalid line in password file 'pw': ::  \n"},
		{"long username", long + ":" + good, false, "Warning: Invalid line in password file 'pw', username too long."},
		{"long hash", "alice:$6$" + long, false, "Warning: Invalid line in password file 'pw', password too long."},
		{"plain text", "alice:secret", true, "Error: Invalid password hash type for user alice, removing entry."},
		{"unknown type", "alice:$8$abc$def", true, "Error: Invalid password hash type for user alice, removing entry."},
		{"dollars", "alice:$$$", true, "Error: Invalid password hash for user alice, removing entry."},
		{"no iterations", "alice:$7$", true, "Error: Invalid password hash for user alice, removing entry."},
		{"bad salt", "alice:$7$101$abc$def", true, "Error: Unable to decode password salt for user alice, removing entry."},
		{"short salt", "alice:$6$YWJj$" + strings.Repeat("A", 86) + "==", true, "Error: Unable to decode password salt for user alice, removing entry."},
		{"bad iterations", "alice:$7$0$" + good[3:], true, "Error: Invalid hash iterations for user alice, removing entry."},
		{"no sum", "alice:" + good[:strings.LastIndexByte(good, '$')], true, "Error: Invalid password hash for user alice, removing entry."},
		{"short sum", "alice:" + good[:strings.LastIndexByte(good, '$')] + "$abcd", true, "Error: Unable to decode password for user alice, removing entry."},
		{"argon2 version", "alice:$argon2id$v=16$m=47104,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", true, "Error: Invalid password hash for user alice, removing entry."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Line 1 is a comment, so the bad line is line 2.
			pf, err := parse(t, "# header\n"+tc.line+"\nbob:"+good+"\n")
			if err != nil {
				t.Fatal(err)
			}
			want := []auth.Skipped{{Line: 2, Error: tc.err, Msg: tc.want}}
			if got := pf.Skipped(); !slices.Equal(got, want) {
				t.Errorf("Skipped() = %+v, want %+v", got, want)
			}
			if got := pf.Users(); !slices.Equal(got, []string{"bob"}) {
				t.Errorf("Users() = %q, want just bob", got)
			}
			if !pf.Check("bob", "x") || pf.Check("alice", "x") {
				t.Error("bob refused, or alice accepted")
			}
		})
	}
}

// Of a user's lines the last valid one counts; invalid ones are skipped
// alone. A line with an empty user name counts (for a user name no client
// can authenticate with, see Authenticate).
func TestParsePasswordsDuplicates(t *testing.T) {
	t.Parallel()
	a, b := hashOf(t, "a"), hashOf(t, "b")
	pf, err := parse(t, "u:"+a+"\nu:"+b+"\nv:"+a+"\nv:plain\n :"+a+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !pf.Check("u", "b") || pf.Check("u", "a") {
		t.Error("u: the last line does not win")
	}
	if !pf.Check("v", "a") {
		t.Error("v: a bad second line removed the first")
	}
	if !pf.Check("", "a") {
		t.Error("the empty user name was dropped")
	}
	if got := pf.Users(); !slices.Equal(got, []string{"", "u", "v"}) {
		t.Errorf("Users() = %q", got)
	}
	want := []auth.Skipped{{Line: 4, Error: true, Msg: "Error: Invalid password hash type for user v, removing entry."}}
	if got := pf.Skipped(); !slices.Equal(got, want) {
		t.Errorf("Skipped() = %+v, want %+v", got, want)
	}
}

// Lines Mosquitto cannot parse are told before the entries it removes, as
// it logs them (it parses the whole file, then decodes the hashes).
func TestParsePasswordsSkippedOrder(t *testing.T) {
	t.Parallel()
	pf, err := parse(t, "a:plain\n:x\nb:\r\n::\n\nc:")
	if err != nil {
		t.Fatal(err)
	}
	want := []auth.Skipped{
		{Line: 2, Msg: "Warning: Invalid line in password file 'pw': :x"},
		{Line: 4, Msg: "Warning: Invalid line in password file 'pw': ::\n"}, // all blanks: not trimmed
		{Line: 6, Msg: "Warning: Invalid line in password file 'pw': c"},
		{Line: 1, Error: true, Msg: "Error: Invalid password hash type for user a, removing entry."},
		{Line: 3, Error: true, Msg: "Error: Invalid password hash for user b, removing entry."},
	}
	if got := pf.Skipped(); !slices.Equal(got, want) {
		t.Errorf("Skipped() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParsePasswordsLongLine(t *testing.T) {
	t.Parallel()
	_, err := parse(t, "# c\n"+strings.Repeat("x", 2<<20)+"\n")
	var se *auth.SyntaxError
	if !errors.As(err, &se) || se.Line != 2 {
		t.Errorf("ParsePasswords(2 MiB line) = %v, want a *SyntaxError at line 2", err)
	}
}

func TestLoadPasswordFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("u:"+hashOf(t, "p")+"\nbad\nv:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pf, err := auth.LoadPasswordFile(path)
	if err != nil || !pf.Check("u", "p") {
		t.Fatalf("LoadPasswordFile = %v, %v", pf, err)
	}
	want := []auth.Skipped{{Line: 3, Error: true, Msg: "Error: Invalid password hash for user v, removing entry."}}
	if got := pf.Skipped(); !slices.Equal(got, want) {
		t.Errorf("Skipped() = %+v, want %+v", got, want)
	}
	if _, err := auth.LoadPasswordFile(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadPasswordFile(missing) = %v, want os.ErrNotExist", err)
	}
	empty, err := auth.ParsePasswords(strings.NewReader(""), "empty")
	if err != nil || len(empty.Users()) != 0 || empty.Check("u", "p") {
		t.Errorf("empty file: %v %v", empty, err)
	}
}

// Files written by Debian's mosquitto_passwd, in every way it writes them,
// are read by LoadPasswordFile and their passwords check.
func TestMosquittoPasswdFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	testutil.MosquittoPasswd(t, "", "-c", "-b", pw, "alice", "alice's password")
	testutil.MosquittoPasswd(t, "", "-H", "sha512", "-b", pw, "bob", "b:o$b")
	testutil.MosquittoPasswd(t, "", "-I", "7", "-b", pw, "carol", "ç")
	testutil.MosquittoPasswd(t, "dave pw\ndave pw\n", pw, "dave") // prompted, stdin not a terminal
	testutil.MosquittoPasswd(t, "", "-b", pw, "erin", "")
	testutil.MosquittoPasswd(t, "", "-b", pw, "alice", "new") // changes alice

	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("frank:f1\ngina: g2 \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.MosquittoPasswd(t, "", "-U", plain)

	body, err := os.ReadFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"alice:$7$101$", "bob:$6$", "carol:$7$7$", "dave:$7$101$"} {
		if !strings.Contains(string(body), "\n"+prefix) && !strings.HasPrefix(string(body), prefix) {
			t.Errorf("mosquitto_passwd wrote no line starting %q:\n%s", prefix, body)
		}
	}

	pf, err := auth.LoadPasswordFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	up, err := auth.LoadPasswordFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pf             *auth.PasswordFile
		user, password string
		want           bool
	}{
		{pf, "alice", "new", true},
		{pf, "alice", "alice's password", false},
		{pf, "bob", "b:o$b", true},
		{pf, "bob", "b:o$", false},
		{pf, "carol", "ç", true},
		{pf, "carol", "c", false},
		{pf, "dave", "dave pw", true},
		{pf, "dave", "dave pw\n", false},
		{pf, "erin", "", true},
		{pf, "erin", " ", false},
		{pf, "nobody", "new", false},
		{up, "frank", "f1", true},
		{up, "gina", "g2", true}, // -U trims blanks around the password
		{up, "gina", " g2 ", false},
	} {
		if got := tc.pf.Check(tc.user, tc.password); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.user, tc.password, got, tc.want)
		}
	}
}

func TestCheckConcurrent(t *testing.T) {
	t.Parallel()
	pf, err := parse(t, "a:"+hashOf(t, "1")+"\nb:"+hashOf(t, "2")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 50 {
				ok = ok && pf.Check("a", "1") && pf.Check("b", "2") && !pf.Check("a", "2") && !pf.Check("c", "1")
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent Check gave a wrong answer")
		}
	}
}

func ExamplePasswordFile_Check() {
	hash, _ := auth.HashPassword("s3cret", auth.SHA512PBKDF2, 0)
	pf, err := auth.ParsePasswords(strings.NewReader("# users\nalice:"+hash+"\n"), "passwords")
	if err != nil {
		panic(err)
	}
	fmt.Println(pf.Users(), pf.Check("alice", "s3cret"), pf.Check("alice", "guess"), pf.Check("bob", "s3cret"))
	// Output: [alice] true false false
}
