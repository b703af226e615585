package store

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/midge-mqtt/midge/broker"
)

// MoveAsideAt is MoveAside at a given time.
var MoveAsideAt = moveAside

// EncodeDeliveryV1 encodes d as a delivery record of store format 1.
func EncodeDeliveryV1(d *broker.StoredDelivery) ([]byte, error) { return appendDeliveryV1(nil, d) }

// Bucket returns the keys and values of a bucket of s, nil if there is no
// such bucket.
func Bucket(s *Bolt, name string) map[string]string {
	var kv map[string]string
	s.flush()
	s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(name))
		if b == nil {
			return nil
		}
		kv = make(map[string]string)
		return b.ForEach(func(k, v []byte) error { kv[string(k)] = string(v); return nil })
	})
	return kv
}

// LoadQueuePending is LoadQueue reading the B+tree with the write-ahead
// log's pending batches laid over it, as on a full disk.
func LoadQueuePending(s *Bolt, clientID string, fn func(*broker.StoredDelivery) error) error {
	return s.loadQueuePending(context.Background(), clientID, fn)
}

// CheckPages reads every page of s's file, as OpenBolt does for a file
// whose meta page is damaged.
func CheckPages(s *Bolt) error { return s.checkPages() }

// SetCheckpoints makes s start a background checkpoint once ckpt bytes are
// logged and checkpoint on the committer's goroutine once the log holds
// full bytes of records (0: as usual), and call after on a background
// checkpoint's goroutine once its transaction is durable, before the log
// may start again.
func SetCheckpoints(s *Bolt, ckpt, full int, after func()) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ckptBytes, s.fullBytes, s.afterCheckpoint = ckpt, full, after
}

// DecodeRefs decodes a reference count record.
var DecodeRefs = decodeRefs
