package cluster

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// journal is a Replicated whose state is the commands applied, joined by
// commas.
type journal struct{ state string }

func (j *journal) Apply(cmd []byte) []byte {
	if j.state != "" {
		j.state += ","
	}
	j.state += string(cmd)
	return []byte("after " + j.state)
}

func (j *journal) Snapshot() ([]byte, error) { return []byte(j.state), nil }

func (j *journal) Restore(b []byte) error {
	if string(b) == "bad" {
		return errors.New("bad state")
	}
	j.state = string(b)
	return nil
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

// TestReplicatedApply checks the replicated kinds of the FSM: a seed is
// applied once, a node's command is applied once (a retry or an older
// one arriving late is not), the proposing node gets its answer, and a
// snapshot carries the state and the tokens to another node's FSM.
func TestReplicatedApply(t *testing.T) {
	j := &journal{state: "local"}
	type answer struct {
		token uint64
		text  string
	}
	var answers []answer
	f := newFSM(nil, nil)
	f.initReplicated("n1", map[string]Replicated{"j": j}, slog.New(slog.DiscardHandler),
		func(tok uint64, a []byte, refused string) {
			answers = append(answers, answer{tok, string(a) + refused})
		})

	if u := f.unseeded(); len(u) != 1 || u[0] != "j" {
		t.Fatalf("unseeded %v, want [j]", u)
	}
	if res := applyCmd(t, f, &command{Op: opApply, Kind: "j", Node: "n1", Token: 1, Payload: []byte("early")}); res.Error == "" || j.state != "local" ||
		len(answers) != 1 || answers[0].text != "no agreed j state yet" {
		t.Fatalf("a command before the seed: %+v, state %q, answers %+v", res, j.state, answers)
	}
	answers = nil
	applyCmd(t, f, &command{Op: opSeed, Kind: "j", Payload: []byte("s")})
	applyCmd(t, f, &command{Op: opSeed, Kind: "j", Payload: []byte("other")}) // a second leader's: too late
	if j.state != "s" || len(f.unseeded()) != 0 {
		t.Fatalf("after two seeds: state %q, unseeded %v", j.state, f.unseeded())
	}

	const inc1, inc2 = uint64(7) << 32, uint64(9) << 32
	for _, c := range []*command{
		{Op: opApply, Kind: "j", Node: "n1", Token: inc1 | 1, Payload: []byte("a")},
		{Op: opApply, Kind: "j", Node: "n1", Token: inc1 | 1, Payload: []byte("a")}, // a retry
		{Op: opApply, Kind: "j", Node: "n2", Token: inc1 | 1, Payload: []byte("b")}, // another node
		{Op: opApply, Kind: "j", Node: "n1", Token: inc1 | 3, Payload: []byte("c")},
		{Op: opApply, Kind: "j", Node: "n1", Token: inc1 | 2, Payload: []byte("late")}, // older, late
		{Op: opApply, Kind: "j", Node: "n1", Token: inc2 | 1, Payload: []byte("d")},    // n1 restarted
	} {
		if res := applyCmd(t, f, c); res.Error != "" {
			t.Fatal(res.Error)
		}
	}
	if j.state != "s,a,b,c,d" {
		t.Errorf("state %q, want s,a,b,c,d", j.state)
	}
	want := []answer{{inc1 | 1, "after s,a"}, {inc1 | 3, "after s,a,b,c"}, {inc2 | 1, "after s,a,b,c,d"}}
	if len(answers) != len(want) {
		t.Fatalf("answers %+v, want %+v", answers, want)
	}
	for i := range want {
		if answers[i] != want[i] {
			t.Errorf("answer %d = %+v, want %+v", i, answers[i], want[i])
		}
	}
	applyCmd(t, f, &command{Op: opSeed, Kind: "unknown", Payload: []byte("x")}) // a leader that has it
	if res := applyCmd(t, f, &command{Op: opApply, Kind: "unknown", Node: "n1", Token: inc2 | 2}); res.Error != "" || j.state != "s,a,b,c,d" {
		t.Errorf("a kind this node lacks: %+v, state %q", res, j.state)
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	j2 := &journal{state: "its own"}
	g := newFSM(nil, nil)
	g.initReplicated("n3", map[string]Replicated{"j": j2}, slog.New(slog.DiscardHandler), nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if j2.state != j.state || len(g.unseeded()) != 0 {
		t.Fatalf("restored state %q (want %q), unseeded %v", j2.state, j.state, g.unseeded())
	}
	// The tokens came along: n1's last command is not applied again.
	applyCmd(t, g, &command{Op: opApply, Kind: "j", Node: "n1", Token: inc2 | 1, Payload: []byte("d")})
	if j2.state != j.state {
		t.Errorf("a command applied before the snapshot applied again: %q", j2.state)
	}

	// A snapshot without the kind's state (taken before it was seeded)
	// leaves the state alone and the kind unseeded, for the leader to seed.
	h := newFSM(nil, nil)
	j3 := &journal{state: "mine"}
	h.initReplicated("n4", map[string]Replicated{"j": j3}, slog.New(slog.DiscardHandler), nil)
	if err := h.Restore(io.NopCloser(strings.NewReader(`{"version":1,"owners":{},"retained":[]}`))); err != nil {
		t.Fatal(err)
	}
	if j3.state != "mine" || len(h.unseeded()) != 1 {
		t.Errorf("restore without the kind: state %q, unseeded %v", j3.state, h.unseeded())
	}
	if err := h.Restore(io.NopCloser(strings.NewReader(`{"version":1,"kinds":{"j":"YmFk"}}`))); err == nil {
		t.Error("a state the kind cannot restore was restored without an error")
	}
}

var _ raft.SnapshotSink = (*memSink)(nil)
