package store

import (
	"encoding/binary"
	"fmt"

	"github.com/midge-mqtt/midge/broker"
)

// appendTo appends the encoding of pb's ops, messages and arena to b.
func (pb *preparedBatch) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(pb.ops)))
	for i := range pb.ops {
		p := &pb.ops[i]
		b = append(b, byte(p.kind))
		b = binary.AppendUvarint(b, uint64(p.k0))
		b = binary.AppendUvarint(b, uint64(p.k1))
		b = binary.AppendUvarint(b, uint64(p.r1))
		b = binary.AppendUvarint(b, p.msg)
	}
	b = binary.AppendUvarint(b, uint64(len(pb.msgs)))
	for _, m := range pb.msgs {
		b = binary.AppendUvarint(b, m.id)
		b = binary.AppendUvarint(b, uint64(m.r0))
		b = binary.AppendUvarint(b, uint64(m.r1))
	}
	b = binary.AppendUvarint(b, uint64(len(pb.arena)))
	return append(b, pb.arena...)
}

// decodeFrom fills pb from a record appendTo wrote, checking every span
// against the arena. (The record's CRC vouches for the rest: apply skips
// an op kind it does not know, as it would in a batch.)
func (pb *preparedBatch) decodeFrom(p []byte) error {
	d := decoder{b: p}
	// count reads a count, which cannot exceed the record's length.
	count := func(what string) int {
		v := d.uvarint(what)
		if v > uint64(len(p)) {
			d.fail(what)
			return 0
		}
		return int(v)
	}
	type span struct{ k0, k1, r1 uint64 }
	n := count("op count")
	pb.ops = pb.ops[:0]
	spans := make([]span, 0, n)
	for range n {
		kind := broker.OpKind(d.byte("op kind"))
		spans = append(spans, span{d.uvarint("key start"), d.uvarint("key end"), d.uvarint("record end")})
		pb.ops = append(pb.ops, prepared{kind: kind, msg: d.uvarint("message id")})
	}
	n = count("message count")
	pb.msgs = pb.msgs[:0]
	clear(pb.msgAt)
	for range n {
		id := d.uvarint("message id")
		pb.msgAt[id] = len(pb.msgs)
		spans = append(spans, span{d.uvarint("message start"), d.uvarint("message end"), 0})
		pb.msgs = append(pb.msgs, preparedMsg{id: id})
	}
	pb.arena = append(pb.arena[:0], d.raw("arena")...)
	if err := d.end(); err != nil {
		return fmt.Errorf("write-ahead log record: %w", err)
	}
	a := uint64(len(pb.arena))
	for i := range pb.ops {
		s := spans[i]
		if s.k0 > s.k1 || s.k1 > s.r1 || s.r1 > a {
			return fmt.Errorf("write-ahead log record: op %d out of range", i)
		}
		pb.ops[i].k0, pb.ops[i].k1, pb.ops[i].r1 = int(s.k0), int(s.k1), int(s.r1)
	}
	for i := range pb.msgs {
		s := spans[len(pb.ops)+i]
		if s.k0 > s.k1 || s.k1 > a {
			return fmt.Errorf("write-ahead log record: message %d out of range", i)
		}
		pb.msgs[i].r0, pb.msgs[i].r1 = int(s.k0), int(s.k1)
	}
	return nil
}
