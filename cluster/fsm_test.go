package cluster

import (
	"encoding/json"
	"testing"

	"github.com/hashicorp/raft"
)

// applyCmd applies c to f as a raft log entry and returns the result.
func applyCmd(t *testing.T, f *fsm, c *command) result {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := f.Apply(&raft.Log{Index: 1, Data: b}).(result)
	if !ok {
		t.Fatalf("Apply(%s) returned no result", b)
	}
	return res
}

// TestRetainBatch checks that a batch of retained messages is applied in
// order, reporting one change per message that changed something, and that
// a batch with a message without a topic changes nothing.
func TestRetainBatch(t *testing.T) {
	var got []Change
	f := newFSM(func(c Change) { got = append(got, c) }, nil)
	res := applyCmd(t, f, &command{Op: opRetainBatch, Batch: []Retained{
		{Topic: "a", Payload: []byte("1")}, {Topic: "b", Payload: []byte("2")}, {Topic: "a", Payload: []byte("3")},
		{Topic: "none"}, // deleting what is not there changes nothing
	}})
	if res.Error != "" {
		t.Fatal(res.Error)
	}
	if len(got) != 3 || got[0].Retained.Topic != "a" || got[1].Retained.Topic != "b" || string(got[2].Retained.Payload) != "3" {
		t.Errorf("changes %+v", got)
	}
	if r := f.retained["a"]; string(r.Payload) != "3" || len(f.retained) != 2 {
		t.Errorf("state %+v", f.retained)
	}

	got = nil
	res = applyCmd(t, f, &command{Op: opRetainBatch, Batch: []Retained{{Topic: "a"}, {Payload: []byte("x")}}})
	if res.Error == "" || len(got) != 0 || len(f.retained) != 2 {
		t.Errorf("a batch with a message without a topic: %+v, changes %+v, state %+v", res, got, f.retained)
	}
	res = applyCmd(t, f, &command{Op: opRetain, Retained: &Retained{Topic: "b"}})
	if res.Error != "" || len(got) != 1 || len(f.retained) != 1 {
		t.Errorf("delete b: %+v, changes %+v, state %+v", res, got, f.retained)
	}
}
