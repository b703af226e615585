package dynsec_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/dynsec"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// replicas is a stand-in for the cluster: Replicate applies each command
// on every replica in one order and answers with the first one's answer.
type replicas struct {
	mu   sync.Mutex
	list []*dynsec.Security
	cmds []string // what was replicated
	fail error    // if set, Replicate fails with it and applies nothing
	only bool     // apply on the first replica only (another missed it)
}

func (r *replicas) replicate(_ context.Context, cmd []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	r.cmds = append(r.cmds, string(cmd))
	var first []byte
	for i, s := range r.list {
		if r.only && i > 0 {
			break
		}
		a := s.Apply(cmd)
		if i == 0 {
			first = a
		}
	}
	return first, nil
}

// openReplica opens the file path (copied from src if given) as a replica.
func openReplica(t *testing.T, r *replicas, src, path, pwFile string) *dynsec.Security {
	t.Helper()
	if src != "" {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := dynsec.Open(dynsec.Options{ConfigFile: path, PasswordInitFile: pwFile, Replicate: r.replicate})
	if err != nil {
		t.Fatal(err)
	}
	r.list = append(r.list, ds)
	return ds
}

// sameFiles fails unless the files have the same contents.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("the replicas' files differ:\n%s\n---\n%s", x, y)
	}
}

// TestReplicatedChanges checks Options.Replicate with two replicas, each
// with its broker: a change made through one is applied on both with the
// same result (the same password hash: hashed once, before), a client
// created through the first logs in on the second with its ACL, a
// disableClient kicks the client on the other replica's broker, reads are
// not replicated, plain passwords never are, a failed replication changes
// nothing and answers each command with the error, and a restored state
// kicks the clients whose rights it changed.
func TestReplicatedChanges(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "init")
	if err := os.WriteFile(pwFile, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &replicas{}
	pathA, pathB := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	a := openReplica(t, r, "", pathA, pwFile)
	b := openReplica(t, r, pathA, pathB, pwFile)
	ea, eb := startEnv(t, a, pathA, false), startEnv(t, b, pathB, false)

	ea.ok(t,
		`{"command":"createClient","username":"u","password":"plain-secret-1"}`,
		`{"command":"createRole","rolename":"r","acls":[{"acltype":"publishClientSend","topic":"u/#","allow":true}]}`,
		`{"command":"addClientRole","username":"u","rolename":"r"}`,
		`{"command":"createClient","username":"v","Password":"other-secret-2","PASSWORD":"x"}`,
	)
	sameFiles(t, pathA, pathB)
	for _, c := range r.cmds {
		if strings.Contains(c, "plain-secret-1") || strings.Contains(c, "other-secret-2") {
			t.Errorf("a replicated command holds a plain password: %s", c)
		}
	}
	n := len(r.cmds)
	if resp := ea.one(t, `{"command":"getClient","username":"u"}`); resp["error"] != nil || len(r.cmds) != n {
		t.Errorf("getClient: %v, %d commands replicated, want %d", resp, len(r.cmds), n)
	}

	u := eb.login(t, 5, "u1", "u", "plain-secret-1")
	if rc := pub(t, u, 1, "u/x"); rc != packet.Success && rc != packet.NoMatchingSubscribers {
		t.Errorf("u publishing on u/x through the second replica: %v", rc)
	}
	if rc := pub(t, u, 2, "elsewhere"); rc != packet.NotAuthorized {
		t.Errorf("u publishing on elsewhere through the second replica: %v, want not authorized", rc)
	}
	// "PASSWORD" lost to "Password" (the first in byte order), on both.
	eb.login(t, 5, "v1", "v", "x").Close()

	ea.ok(t, `{"command":"disableClient","username":"u"}`)
	testutilExpectKick(t, u)
	sameFiles(t, pathA, pathB)

	// The dashboard's requests are replicated too.
	n = len(r.cmds)
	if out := string(a.Execute(dynsec.Requester{ClientID: "dashboard", Username: "admin"},
		[]byte(`{"commands":[{"command":"createGroup","groupname":"g"}]}`))); out != `{"responses":[{"command":"createGroup"}]}` || len(r.cmds) != n+1 {
		t.Errorf("createGroup from the dashboard: %s, %d commands replicated, want %d", out, len(r.cmds), n+1)
	}
	sameFiles(t, pathA, pathB)

	// Without agreement nothing changes, and each command says why.
	r.fail = errors.New("cluster: no leader reachable")
	out := ea.do(t, `{"commands":[{"command":"createClient","username":"w","password":"p","correlationData":"c1"},{"command":"enableClient","username":"u"}]}`)
	want := `{"responses":[{"command":"createClient","error":"Change not applied: cluster: no leader reachable","correlationData":"c1"},` +
		`{"command":"enableClient","error":"Change not applied: cluster: no leader reachable"}]}`
	if out != want {
		t.Errorf("refused change answered\n%s\nwant\n%s", out, want)
	}
	r.fail = nil
	if resp := eb.one(t, `{"command":"getClient","username":"w"}`); resp["error"] != "Client not found" {
		t.Errorf("a refused createClient created the client: %v", resp)
	}
	sameFiles(t, pathA, pathB)

	// A state restored from the first replica (which the second missed a
	// change of) kicks the second's clients that change concerns, and
	// only them.
	ea.ok(t, `{"command":"enableClient","username":"u"}`)
	u = eb.login(t, 5, "u2", "u", "plain-secret-1")
	v := eb.login(t, 5, "v2", "v", "x")
	r.only = true
	ea.ok(t, `{"command":"removeRoleACL","rolename":"r","acltype":"publishClientSend","topic":"u/#"}`)
	r.only = false
	state, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Restore(state); err != nil {
		t.Fatal(err)
	}
	testutilExpectKick(t, u)
	ping(t, v)
	sameFiles(t, pathA, pathB)
}

// ping checks that c's connection is open and served.
func ping(t *testing.T, c *testutil.Client) {
	t.Helper()
	c.Send(&packet.Pingreq{})
	testutil.Expect[*packet.Pingresp](c)
}
