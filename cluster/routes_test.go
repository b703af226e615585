package cluster

import (
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// tableNode is a node with a route table and nothing else, for the table's
// tests: the routes of other nodes are set as their streams would.
func tableNode(id string) *Node {
	return &Node{cfg: Config{NodeID: id}, routes: newRouteTable()}
}

// setRemote sets node id's routes in n's table, as a full set from its
// stream.
func setRemote(n *Node, id string, filters ...string) {
	in := &routeIn{}
	n.routes.mu.Lock()
	n.routes.in[id] = in
	n.routes.mu.Unlock()
	full := make(map[string]bool)
	for _, f := range filters {
		full[f] = true
	}
	n.routes.applyRoutes(id, in, full, nil)
}

func targetsString(ts []Target) string {
	slices.SortFunc(ts, func(a, b Target) int {
		if a.Node < b.Node {
			return -1
		}
		return 1
	})
	s := ""
	for _, t := range ts {
		s += fmt.Sprintf("%s:%v%v ", t.Node, t.Plain, t.Groups)
	}
	return s
}

// TestRouteTable checks the route table: a message goes to the nodes with
// a matching route (wildcards included), each shared group's message to
// exactly one node holding the group, this one included, spread over
// them; a node's routes go with its full set or a removal, or when it is
// dropped.
func TestRouteTable(t *testing.T) {
	a := tableNode("a")
	a.SetRoute("x/+/z", true)
	a.SetRoute("$share/g/s/#", true)
	setRemote(a, "b", "x/#", "y/1", "$share/g/s/#", "$SYS/#")
	setRemote(a, "c", "+/+/z", "$share/g/s/#", "$share/h/s/+")

	for _, c := range []struct{ topic, want string }{
		{"x/y/z", "b:true[] c:true[] "},
		{"x", "b:true[] "},
		{"y/1", "b:true[] "},
		{"y/2", ""},
		{"q/r/z", "c:true[] "},
		{"$SYS/broker/uptime", ""},
	} {
		if got := targetsString(a.Targets(c.topic, 1)); got != c.want {
			t.Errorf("Targets(%q) = %q, want %q", c.topic, got, c.want)
		}
	}

	// Each message of s/1 goes to one node of group g (a, b or c) and to c
	// for group h, which c alone holds.
	count := map[string]int{}
	for key := range uint64(3000) {
		var on []string
		if a.SharedHere("$share/g/s/#", key) {
			on = append(on, "a")
		}
		hTo := ""
		for _, tg := range a.Targets("s/1", key) {
			if tg.Plain {
				t.Fatalf("key %d: plain route to %s", key, tg.Node)
			}
			for _, g := range tg.Groups {
				switch g {
				case "$share/g/s/#":
					on = append(on, tg.Node)
				case "$share/h/s/+":
					hTo = tg.Node
				}
			}
		}
		if len(on) != 1 || hTo != "c" {
			t.Fatalf("key %d: group g on %v, group h on %q; want one node each, h on c", key, on, hTo)
		}
		count[on[0]]++
	}
	for _, id := range []string{"a", "b", "c"} {
		if count[id] < 700 {
			t.Errorf("group g's messages per node: %v; want about 1000 each", count)
		}
	}
	if !a.SharedHere("$share/unknown/s/#", 1) {
		t.Errorf("a group no node is known to hold is not delivered here")
	}

	// c's new full set, b's removal, a's own removal.
	setRemote(a, "c", "x/y/z")
	a.routes.applyRoutes("b", a.routes.in["b"], nil, []routeOp{{filter: "x/#"}})
	a.SetRoute("x/+/z", false)
	if got := targetsString(a.Targets("x/y/z", 1)); got != "c:true[] " {
		t.Errorf("after the changes, Targets(x/y/z) = %q", got)
	}
	for key := range uint64(10) {
		got := targetsString(a.Targets("s/1", key))
		if here := a.SharedHere("$share/g/s/#", key); here != (got == "") || !here && got != "b:false[$share/g/s/#] " {
			t.Errorf("after the changes, key %d: Targets(s/1) = %q, here %v; want a or b", key, got, here)
		}
	}
	// A stream that is no longer b's changes nothing; dropping b does.
	a.routes.applyRoutes("b", &routeIn{}, map[string]bool{}, nil)
	if got := a.routes.counts("a"); got["b"] != 3 || got["c"] != 1 || got["a"] != 1 {
		t.Errorf("counts = %v", got)
	}
	a.routes.mu.Lock()
	pa, pb := net.Pipe()
	defer pb.Close()
	a.routes.in["b"].c = pa
	a.routes.dropLocked("b")
	a.routes.mu.Unlock()
	if got := a.routes.counts("a"); got["b"] != 0 || len(got) != 2 {
		t.Errorf("counts after dropping b = %v", got)
	}
	if got := targetsString(a.Targets("y/1", 1)); got != "" {
		t.Errorf("a dropped node's route: Targets(y/1) = %q", got)
	}
}

// TestRouteStreams checks, with three nodes in one process, that a node's
// routes reach the others, changes included, and that the survivors drop
// those of a node that left.
func TestRouteStreams(t *testing.T) {
	t.Parallel()
	a, _ := startNode(t, "r", "a", t.TempDir(), 3)
	b, _ := startNode(t, "r", "b", t.TempDir(), 3, a.GossipAddr())
	c, _ := startNode(t, "r", "c", t.TempDir(), 3, a.GossipAddr())
	waitFormed(t, a, b, c)
	b.SetRoute("b/#", true)
	c.SetRoute("c/1", true)
	c.SetRoute("$share/g/s/#", true)
	routes := func(n *Node, id string) int { return n.Status().Routes[id] }
	testutil.WaitWithin(t, testWait, "b's and c's routes on a", func() bool { return routes(a, "b") == 1 && routes(a, "c") == 2 })
	testutil.WaitWithin(t, testWait, "c's routes on b", func() bool { return routes(b, "c") == 2 })
	if got := targetsString(a.Targets("b/x", 1)); got != "b:true[] " {
		t.Errorf("Targets(b/x) on a = %q", got)
	}
	if got := targetsString(a.Targets("s/x", 1)); got != "c:false[$share/g/s/#] " {
		t.Errorf("Targets(s/x) on a = %q", got)
	}
	b.SetRoute("b/#", false)
	testutil.WaitWithin(t, testWait, "b's removal on a", func() bool { return routes(a, "b") == 0 && len(a.Targets("b/x", 1)) == 0 })
	for i := range 5000 { // past the queue: sent in full again
		b.SetRoute(fmt.Sprintf("many/%d", i), true)
	}
	testutil.WaitWithin(t, testWait, "b's many routes on c", func() bool { return routes(c, "b") == 5000 })
	c.Close()
	testutil.WaitWithin(t, testWait, "c's routes dropped on a and b", func() bool {
		_, ona := a.Status().Routes["c"]
		_, onb := b.Status().Routes["c"]
		return !ona && !onb
	})
}

// BenchmarkTargets measures the choice of the nodes a message goes to,
// with 1,000 routes on each of two other nodes and this one, a shared
// group on the three.
func BenchmarkTargets(b *testing.B) {
	a := tableNode("a")
	var fb, fc []string
	for i := range 1000 {
		a.SetRoute(fmt.Sprintf("a/%d/+", i), true)
		fb = append(fb, fmt.Sprintf("b/%d/#", i))
		fc = append(fc, fmt.Sprintf("+/%d/c", i))
	}
	a.SetRoute("$share/g/s/#", true)
	setRemote(a, "b", append(fb, "$share/g/s/#")...)
	setRemote(a, "c", append(fc, "$share/g/s/#")...)
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if len(a.Targets("b/7/c", uint64(i))) != 2 {
				b.Fatal("want b and c")
			}
		}
	})
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			a.Targets("s/1", uint64(i))
			a.SharedHere("$share/g/s/#", uint64(i))
		}
	})
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if len(a.Targets("x/y", uint64(i))) != 0 {
				b.Fatal("want none")
			}
		}
	})
}
