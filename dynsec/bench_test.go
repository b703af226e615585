package dynsec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/dynsec"
)

// BenchmarkAuthorize measures one authorization of a delivery for a client
// with 3 roles of 10 ACLs each and 2 groups, the ACL that matches being
// the last one looked at.
func BenchmarkAuthorize(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ds.json")
	os.WriteFile(path, nil, 0o600)
	req := `{"commands":[{"command":"createClient","username":"u"}`
	for r := range 5 {
		req += fmt.Sprintf(`,{"command":"createRole","rolename":"r%d"}`, r)
		for a := range 10 {
			req += fmt.Sprintf(`,{"command":"addRoleACL","rolename":"r%d","acltype":"publishClientReceive","topic":"site/%d/+/%d/#","allow":true}`, r, r, a)
		}
	}
	req += `,{"command":"addClientRole","username":"u","rolename":"r0"},{"command":"addClientRole","username":"u","rolename":"r1"},{"command":"addClientRole","username":"u","rolename":"r2"}`
	req += `,{"command":"createGroup","groupname":"g1","roles":[{"rolename":"r3"}]},{"command":"createGroup","groupname":"g2","roles":[{"rolename":"r4"}]}`
	req += `,{"command":"addGroupClient","groupname":"g1","username":"u"},{"command":"addGroupClient","groupname":"g2","username":"u"}]}`
	if _, err := dynsec.ApplyFile(path, []byte(req)); err != nil {
		b.Fatal(err)
	}
	ds, err := dynsec.Open(dynsec.Options{ConfigFile: path})
	if err != nil {
		b.Fatal(err)
	}
	c := &broker.Client{ID: "dev", Username: "u", HasUsername: true}
	ctx := context.Background()
	if v := ds.Authorize(ctx, c, "site/4/x/9/temp", broker.Read); v != broker.Allow {
		b.Fatalf("verdict %v", v)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ds.Authorize(ctx, c, "site/4/x/9/temp", broker.Read)
		}
	})
}
