package broker

import (
	"slices"
	"testing"
)

// dropCancelled removes the puts and releases of deliveries a later delete
// of the same batch removes, and nothing else.
func TestDropCancelled(t *testing.T) {
	var b Batch
	b.PutDelivery("a", &StoredDelivery{Seq: 1})
	b.PutDelivery("a", &StoredDelivery{Seq: 2})
	b.PutRetained(&Message{Topic: "r"})
	b.ReleaseDelivery("a", 1)
	b.DeleteDelivery("a", 1)
	b.PutDelivery("a", &StoredDelivery{Seq: 1}) // after the delete: kept
	b.DeleteDelivery("b", 5)                    // stored by an earlier commit
	b.PutDelivery("b", &StoredDelivery{Seq: 6})
	c := &committer{}
	c.dropCancelled(&b)
	type kv struct {
		kind OpKind
		id   string
		seq  uint64
	}
	var got []kv
	for _, op := range b.Ops {
		got = append(got, kv{op.Kind, op.ClientID, op.Seq})
	}
	want := []kv{
		{OpPutDelivery, "a", 2}, {OpPutRetained, "", 0}, {OpDeleteDelivery, "a", 1},
		{OpPutDelivery, "a", 1}, {OpDeleteDelivery, "b", 5}, {OpPutDelivery, "b", 6},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ops after dropCancelled:\n got %v\nwant %v", got, want)
	}
	if len(c.deleted) != 0 {
		t.Error("scratch not cleared")
	}
}
