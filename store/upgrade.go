package store

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"

	bolt "go.etcd.io/bbolt"
)

// upgrade rewrites a store of format 1 as format 2 in one transaction, so
// that a crash leaves either the old file or the new one: each delivery
// record's message moves to the messages bucket, and deliveries whose
// messages are byte for byte the same share one stored message (after a
// restart nothing can tell them apart). A delivery record that cannot be
// read is left as it is, for LoadQueue to report as format 1 did.
func (s *Bolt) upgrade() error {
	err := s.update(func(tx *bolt.Tx) error {
		meta, q := tx.Bucket(bucketMeta), tx.Bucket(bucketQueue)
		if meta == nil || q == nil {
			return s.damaged(errors.New("bucket missing"))
		}
		if v := string(meta.Get(keyFormat)); v != "1" {
			return s.damaged(fmt.Errorf("upgrade of store format %q", v))
		}
		msgs, err := tx.CreateBucket(bucketMessages)
		if err != nil {
			return err
		}
		refs, err := tx.CreateBucket(bucketRefs)
		if err != nil {
			return err
		}
		u := upgrader{msgs: msgs, seed: maphash.MakeSeed(), byHash: make(map[uint64][]uint64),
			refs: make(map[uint64]uint64)}
		c := q.Cursor()
		var at []byte // the key being rewritten
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil || len(k) < 9 {
				continue
			}
			rec, ok, err := u.delivery(k, v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			at = append(at[:0], k...)
			if err := q.Put(at, rec); err != nil {
				return err
			}
			// A cursor is not to be trusted after a change to its bucket:
			// find the key again.
			if k, _ = c.Seek(at); !bytes.Equal(k, at) {
				return fmt.Errorf("upgrade: queue key %q lost", at)
			}
		}
		for id, n := range u.refs {
			if err := refs.Put(appendMessageID(nil, id), appendRefs(nil, n)); err != nil {
				return err
			}
		}
		return meta.Put(keyFormat, []byte("2"))
	})
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = s.writeErr("upgrade from store format 1", err)
	}
	return err
}

// upgrader is the state of one upgrade.
type upgrader struct {
	msgs   *bolt.Bucket
	seed   maphash.Seed
	byHash map[uint64][]uint64 // hash of an encoded message → ids of the messages with that hash
	refs   map[uint64]uint64   // message id → references
	last   uint64              // the last id given
}

// delivery returns the format 2 record of format 1 delivery record v of
// key k, storing its message if no message the same is stored; ok is false
// for a record that cannot be read.
func (u *upgrader) delivery(k, v []byte) (rec []byte, ok bool, err error) {
	d, derr := decodeDeliveryV1(seqOf(k), v)
	if derr != nil {
		return nil, false, nil
	}
	var e encoder
	// Stored as Commit would store it: encoded from the decoded message.
	m, err := e.appendMessage([]byte{recordV1}, d.Msg)
	if err != nil {
		return nil, false, nil
	}
	h := maphash.Bytes(u.seed, m)
	id := uint64(0)
	for _, cand := range u.byHash[h] {
		if bytes.Equal(u.msgs.Get(appendMessageID(nil, cand)), m) {
			id = cand
			break
		}
	}
	if id == 0 {
		u.last++
		id = u.last
		if err := u.msgs.Put(appendMessageID(nil, id), m); err != nil {
			return nil, false, err
		}
		u.byHash[h] = append(u.byHash[h], id)
	}
	u.refs[id]++
	d.ID = id
	return appendDelivery(nil, d), true, nil
}
