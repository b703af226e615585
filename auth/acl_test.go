package auth_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/topic"
)

func parseACL(t testing.TB, body string) *auth.ACL {
	t.Helper()
	a, err := auth.ParseACL(strings.NewReader(body), "acl")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// aclFile exercises every rule of Mosquitto 2.0's ACL evaluation. The cases
// marked "2.0.11" were run against Debian's mosquitto 2.0.11 (a retained
// message read or written by a client of that id and username).
const aclFile = `# comment
topic read anon/#
topic deny anon/secret
user admin
topic readwrite #
topic readwrite $SYS/#
user alice
topic read #
topic write w/#
topic deny w/no
topic readwrite pd/#
user carol
topic read $SYS/#
user   spaced name  
topic  read   sp/x  
user readtopic
topic read
pattern read foo/#
pattern deny pd/#
pattern readwrite %u/#
pattern read c/%c/#
pattern write pre%cpost/y
pattern read %%c
`

type aclCase struct {
	user    string
	hasUser bool
	id      string
	topic   string
	acc     broker.Access
	want    bool
	why     string
}

func anon(id, topic string, acc broker.Access, want bool, why string) aclCase {
	return aclCase{"", false, id, topic, acc, want, why}
}

func named(user, id, topic string, acc broker.Access, want bool, why string) aclCase {
	return aclCase{user, true, id, topic, acc, want, why}
}

func TestACLAllowed(t *testing.T) {
	t.Parallel()
	a := parseACL(t, aclFile)
	R, W, S := broker.Read, broker.Write, broker.Subscribe
	for _, tc := range []aclCase{
		anon("c1", "anon/1", R, true, "2.0.11: topic lines before the first user are for clients without a username"),
		anon("c1", "anon/1", W, false, "read only"),
		anon("c1", "anon/secret", R, false, "2.0.11: deny wins, although written after the allow"),
		anon("c1", "foo/1", R, true, "2.0.11: patterns apply to everyone"),
		anon("c1", "other", R, false, "2.0.11: nothing matches"),
		anon("c1", "%u/1", R, false, "a %u pattern is skipped without a username, not matched literally"),
		anon("c1", "%c1", R, true, `"%%c" is '%' then the client id`),
		anon("c1", "%%c", R, false, `"%%c" is '%' then the client id`),
		named("bob", "c1", "anon/1", R, false, "2.0.11: a username without a user section gets no anonymous rules"),
		named("bob", "c1", "foo/1", R, true, "2.0.11: but the patterns"),
		named("bob", "c1", "bob/1", W, true, "2.0.11: %u"),
		named("bob", "c1", "bob", R, true, "%u/# matches bob"),
		named("bob", "c1", "bobby/1", R, false, "%u is the whole username"),
		named("bob", "c1", "pd/1", R, false, "2.0.11: deny pattern"),
		named("pd", "c1", "pd/x", W, false, "a deny pattern wins over an allow pattern"),
		anon("a+b", "foo/1", R, false, "2.0.11: a client id with '+' is refused when there are patterns"),
		named("bob", "a#b", "foo/1", R, false, "2.0.11: so is one with '#'"),
		named("b+b", "c2", "foo/1", R, false, "2.0.11: and a username with '+'"),
		named("b#b", "c2", "foo/1", R, false, "or '#'"),
		named("alice", "a+b", "xx/1", R, true, "a client's own rules come before that refusal"),
		anon("a/b", "c/a/b/1", R, true, "2.0.11: a '/' in the client id is not refused, and %c spans levels"),
		anon("a/b", "c/a/1", R, false, "it is the whole id"),
		named("x/y", "c1", "x/y/z", W, true, "a '/' in the username spans levels too"),
		anon("Z", "preZpost/y", W, true, "2.0.11: %c is replaced inside a level"),
		anon("Z", "preZpost/y", R, false, "write only"),
		named("alice", "c1", "xx/1", R, true, "2.0.11: user rule"),
		named("alice", "c1", "w/1", W, true, "2.0.11"),
		named("alice", "c1", "w/no", W, false, "2.0.11: deny"),
		named("alice", "c1", "w/no", R, false, "deny refuses every access"),
		named("alice", "c1", "xx", W, false, "2.0.11: read-only rule"),
		named("alice", "c1", "pd/1", R, true, "2.0.11: the client's own allow wins over a deny pattern"),
		named("alice", "c1", "$SYS/broker/version", R, false, "2.0.11: '#' does not grant $SYS"),
		named("carol", "c1", "$SYS/broker/version", R, true, "2.0.11: a $SYS rule does"),
		named("carol", "c1", "$SYS", R, true, "$SYS/# matches $SYS"),
		named("admin", "c1", "$SYS/x", W, true, "readwrite"),
		named("admin", "c1", "$other/x", W, false, "# matches no $ topic"),
		named("admin", "c1", "anything/at/all", W, true, "readwrite #"),
		named("spaced name", "c1", "sp/x", R, true, "a username with spaces; blanks trimmed"),
		named("readtopic", "c1", "read", W, true, `"topic read" is the topic "read", readwrite`),
		named("readtopic", "c1", "x", R, false, "and nothing else"),
		named("Alice", "c1", "xx/1", R, false, "usernames are case-sensitive"),
		anon("c1", "anon/secret", S, true, "Mosquitto 2.0 grants every SUBSCRIBE"),
		named("nobody", "c1", "nothing", S, true, "every one"),
		anon("c1", "anon/secret", broker.Unsubscribe, true, "Mosquitto 2.0 grants every UNSUBSCRIBE"),
		anon("c1", "anon/1", broker.Access(16), false, "an unknown access kind"),
		anon("c1", "anon/1", R|W, false, "not a single access kind"),
	} {
		if got := a.Allowed(tc.user, tc.hasUser, tc.id, tc.topic, tc.acc); got != tc.want {
			t.Errorf("Allowed(user %q %v, id %q, %q, %v) = %v, want %v: %s",
				tc.user, tc.hasUser, tc.id, tc.topic, tc.acc, got, tc.want, tc.why)
		}
	}
}

func TestACLEmptyAndPatternless(t *testing.T) {
	t.Parallel()
	empty := parseACL(t, "# nothing\n\n")
	for _, acc := range []broker.Access{broker.Read, broker.Write} {
		if empty.Allowed("u", true, "c", "t", acc) || empty.Allowed("", false, "c", "t", acc) {
			t.Errorf("an empty ACL file allowed %v; Mosquitto denies everything", acc)
		}
	}
	if !empty.Allowed("u", true, "c", "t", broker.Subscribe) {
		t.Error("an empty ACL file refused a SUBSCRIBE")
	}
	// Without patterns a '+' in the client id is no reason to refuse.
	a := parseACL(t, "topic t\nuser u\ntopic u/#\n")
	if !a.Allowed("", false, "a+b", "t", broker.Write) || !a.Allowed("u", true, "#", "u/x", broker.Read) {
		t.Error("a wildcard in the client id refused access with no pattern lines")
	}
	if a.Allowed("v", true, "c", "t", broker.Read) {
		t.Error("a user without a section got the anonymous rules")
	}
}

// Lines as Mosquitto 2.0.11's aclfile__parse reads them: each refused line
// made that broker refuse to start, each accepted one let it start.
func TestParseACLErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, want string }{
		{"  # indented comment", `unknown keyword "#"`},
		{"topic\tread\tx", `unknown keyword "topic\tread\tx"`},
		{"\ttopic read x", `unknown keyword "\ttopic"`},
		{"TOPIC read x", `unknown keyword "TOPIC"`},
		{"bogus x", `unknown keyword "bogus"`},
		{";comment", `unknown keyword ";comment"`},
		{"topic", "topic line without a topic filter"},
		{"pattern   ", "pattern line without a topic filter"},
		{"topic rw x", `invalid access "rw"`},
		{"pattern readonly %c", `invalid access "readonly"`},
		{"topic read a/#/b", `invalid topic filter "a/#/b"`},
		{"topic read +/a+", `invalid topic filter "+/a+"`},
		{"topic read x # trailing", `invalid topic filter "x # trailing"`},
		{"pattern write %c#", `invalid topic filter "%c#"`},
		{"user", "user line without a username"},
		{"user   ", "user line without a username"},
	} {
		body := "topic ok\n# fine\n" + tc.line + "\ntopic fine\n"
		_, err := auth.ParseACL(strings.NewReader(body), "acl")
		var se *auth.SyntaxError
		if !errors.As(err, &se) || se.Line != 3 || se.File != "acl" {
			t.Errorf("ParseACL(%q) = %v, want a *SyntaxError at acl:3", tc.line, err)
			continue
		}
		if want := "acl:3: "; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseACL(%q) = %q, want %q…%q", tc.line, err, want, tc.want)
		}
	}
	for _, line := range []string{"topic read", "   ", "", "pattern read %c/#", "topic read x\r", "topic  read   x  ", " topic read x", "topic read a b"} {
		if _, err := auth.ParseACL(strings.NewReader(line+"\n"), "acl"); err != nil {
			t.Errorf("ParseACL(%q) = %v; Mosquitto accepts it", line, err)
		}
	}
}

func TestLoadACLFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(path, []byte("user u\ntopic read x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.LoadACLFile(path)
	if err != nil || !a.Allowed("u", true, "c", "x", broker.Read) {
		t.Fatalf("LoadACLFile: %v", err)
	}
	if _, err := auth.LoadACLFile(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadACLFile(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestAccessString(t *testing.T) {
	t.Parallel()
	for acc, want := range map[broker.Access]string{broker.Read: "read", broker.Write: "write", broker.Subscribe: "subscribe", 0: "Access(0)", 3: "Access(3)"} {
		if got := acc.String(); got != want {
			t.Errorf("Access(%d).String() = %q, want %q", uint8(acc), got, want)
		}
	}
}

func TestACLCanEverRead(t *testing.T) {
	t.Parallel()
	a := parseACL(t, `topic read anon/#
user u
topic read a/#
topic deny a/secret/#
topic write w/#
topic read $SYS/broker/#
topic read m/+/x
pattern read p/%u/#
pattern deny p/%u/private/#
pattern read c/%c
pattern deny a/pdeny
`)
	for _, tc := range []struct {
		user    string
		hasUser bool
		id      string
		filter  string
		want    bool
	}{
		{"u", true, "cid", "a/#", true},
		{"u", true, "cid", "a/+", true},
		{"u", true, "cid", "a/x/y", true},
		{"u", true, "cid", "a/secret/#", false},   // wholly denied
		{"u", true, "cid", "a/secret/x", false},   // denied
		{"u", true, "cid", "a/secret", false},     // "a/secret/#" matches "a/secret" too
		{"u", true, "cid", "#", true},             // a/# is in it
		{"u", true, "cid", "w/#", false},          // write only
		{"u", true, "cid", "$SYS/#", true},        // $SYS/broker/#
		{"u", true, "cid", "$SYS/other/#", false}, // no rule meets it
		{"u", true, "cid", "+/+/x", true},         // m/+/x
		{"u", true, "cid", "m/y/z", false},
		{"u", true, "cid", "p/u/1", true}, // pattern %u
		{"u", true, "cid", "p/+/1", true},
		{"u", true, "cid", "p/u/private/#", false}, // deny pattern
		{"u", true, "cid", "p/other/#", false},
		{"u", true, "cid", "c/cid", true}, // pattern %c
		{"u", true, "cid", "c/+", true},
		{"u", true, "cid", "c/other", false},
		{"u", true, "cid", "a/pdeny", true}, // the user's own allow wins over a deny pattern
		{"", false, "cid", "anon/x", true},
		{"", false, "cid", "p/+/1", false}, // %u patterns are skipped without a username
		{"", false, "cid", "c/cid", true},
		{"", false, "cid", "a/#", false},
		{"u", true, "c+d", "c/#", false}, // patterns refused for a wildcard in the id
		{"u", true, "c+d", "a/1", true},  // own rules still apply
		{"v", true, "cid", "a/#", false}, // no section for v
		{"v", true, "cid", "p/v/#", true},
		{"u", true, "cid", "a/#/b", false}, // invalid filter
		{"u", true, "cid", "", false},
	} {
		if got := a.CanEverRead(tc.user, tc.hasUser, tc.id, tc.filter); got != tc.want {
			t.Errorf("CanEverRead(%q %v, %q, %q) = %v, want %v", tc.user, tc.hasUser, tc.id, tc.filter, got, tc.want)
		}
	}
}

// CanEverRead is exactly "some topic the filter matches is readable" on the
// topics of a small universe.
func TestACLCanEverReadAgreesWithAllowed(t *testing.T) {
	t.Parallel()
	a := parseACL(t, "topic read x/#\ntopic deny x/y\nuser u\ntopic read +/y\ntopic deny a/#\npattern read %u/+\npattern deny +/b\n")
	topics := []string{"a", "b", "x", "u", "a/y", "b/y", "x/y", "x/b", "u/b", "u/y", "u/z", "x/y/z", "$s/y"}
	filters := []string{"#", "+", "+/+", "+/y", "a/#", "x/#", "x/y", "u/+", "u/b", "+/b", "$s/#", "x", "u/#"}
	for _, who := range []struct {
		user    string
		hasUser bool
	}{{"u", true}, {"", false}} {
		for _, f := range filters {
			readable := false
			for _, name := range topics {
				if topic.Match(f, name) && a.Allowed(who.user, who.hasUser, "id", name, broker.Read) {
					readable = true
				}
			}
			if got := a.CanEverRead(who.user, who.hasUser, "id", f); got != readable {
				t.Errorf("CanEverRead(%q %v, %q) = %v, but a topic of it is readable: %v", who.user, who.hasUser, f, got, readable)
			}
		}
	}
}

func TestACLAllowedAllocatesNothing(t *testing.T) {
	a := parseACL(t, aclFile)
	allocs := testing.AllocsPerRun(100, func() {
		a.Allowed("bob", true, "c/1", "bob/x/y", broker.Write)
		a.Allowed("", false, "Z", "preZpost/y", broker.Write)
		a.Allowed("alice", true, "c1", "w/no", broker.Write)
		a.Allowed("nobody", true, "c1", "no/match/at/all", broker.Read)
	})
	if allocs != 0 {
		t.Errorf("Allowed allocates %v times per run, want 0", allocs)
	}
}

func TestACLConcurrent(t *testing.T) {
	t.Parallel()
	a := parseACL(t, aclFile)
	done := make(chan bool)
	for g := range 8 {
		go func() {
			ok := true
			for i := range 200 {
				id := fmt.Sprint("c", g, i)
				ok = ok && a.Allowed("bob", true, id, "bob/x", broker.Write) && !a.Allowed("bob", true, id, "pd/x", broker.Read) &&
					a.Allowed("", false, id, "c/"+id+"/x", broker.Read)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent Allowed gave a wrong answer")
		}
	}
}

func BenchmarkACLAllowed(b *testing.B) {
	a := parseACL(b, aclFile)
	for _, bc := range []struct {
		name, user, id, topic string
		acc                   broker.Access
	}{
		{"user-rule", "alice", "c1", "w/1", broker.Write},
		{"pattern", "bob", "c1", "bob/a/b/c", broker.Write},
		{"miss", "nobody", "c1", "no/match/at/all", broker.Read},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.Allowed(bc.user, true, bc.id, bc.topic, bc.acc)
			}
		})
	}
}

func ExampleACL_Allowed() {
	acl, err := auth.ParseACL(strings.NewReader(`
topic read public/#
user alice
topic readwrite alice/#
pattern write devices/%c/state
`), "acl")
	if err != nil {
		panic(err)
	}
	fmt.Println(acl.Allowed("", false, "sensor1", "public/news", broker.Read))
	fmt.Println(acl.Allowed("alice", true, "phone", "alice/inbox", broker.Write))
	fmt.Println(acl.Allowed("alice", true, "phone", "public/news", broker.Read))
	fmt.Println(acl.Allowed("", false, "sensor1", "devices/sensor1/state", broker.Write))
	fmt.Println(acl.Allowed("", false, "sensor1", "devices/sensor2/state", broker.Write))
	// Output:
	// true
	// true
	// false
	// true
	// false
}
