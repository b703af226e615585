package db

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/mosqdb"
	"github.com/midge-mqtt/midge/store"
)

// midgeDump is a midge store as read through broker.Store.
type midgeDump struct {
	maxID    uint64
	retained []*broker.Message
	sessions []*broker.StoredSession
	queues   map[string][]*broker.StoredDelivery
	inbound  map[string][]uint16
}

// readMidge reads the whole store at path. The store must not be in use:
// OpenBolt takes its lock (and applies what its write-ahead log holds, as
// any start of the broker would).
func readMidge(ctx context.Context, path string) (*midgeDump, error) {
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return nil, fmt.Errorf("%w: stop the broker to dump its store", err)
		}
		return nil, err
	}
	defer st.Close()
	d := &midgeDump{queues: map[string][]*broker.StoredDelivery{}, inbound: map[string][]uint16{}}
	err = st.Load(ctx, broker.Loader{
		MaxMessageID: func(id uint64) error { d.maxID = id; return nil },
		Retained:     func(m *broker.Message) error { d.retained = append(d.retained, m); return nil },
		Session:      func(s *broker.StoredSession) error { d.sessions = append(d.sessions, s); return nil },
		Inbound: func(id string, pid uint16) error {
			d.inbound[id] = append(d.inbound[id], pid)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	for _, s := range d.sessions {
		err := st.LoadQueue(ctx, s.ClientID, func(sd *broker.StoredDelivery) error {
			d.queues[s.ClientID] = append(d.queues[s.ClientID], sd)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// packetID is the packet identifier the broker gives a stored delivery.
func packetID(seq uint64) uint16 { return uint16(seq%65535) + 1 }

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dumpMidge prints the midge store at path in mosquitto_db_dump's style:
// RETAIN, CLIENT, SUB and CLIENT_MSG records with the same field names
// where Mosquitto has the field.
func dumpMidge(ctx context.Context, path string, m mode, out io.Writer) error {
	d, err := readMidge(ctx, path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	switch m {
	case modeJSON:
		err = d.writeJSON(w)
	case modeStats:
		subs, msgs, inb := 0, 0, 0
		for _, s := range d.sessions {
			subs += len(s.Subscriptions)
			msgs += len(d.queues[s.ClientID])
			inb += len(d.inbound[s.ClientID])
		}
		fmt.Fprintf(w, "RETAIN:     %d\nCLIENT:     %d\nSUB:        %d\nCLIENT_MSG: %d\nINBOUND:    %d\n",
			len(d.retained), len(d.sessions), subs, msgs, inb)
	case modeClientStats:
		for _, s := range d.sessions {
			ms := 0
			for _, q := range d.queues[s.ClientID] {
				ms += len(q.Msg.Payload) + len(q.Msg.Topic)
			}
			fmt.Fprintf(w, "SC: %d MC: %d MS: %d   %s\n", len(s.Subscriptions), len(d.queues[s.ClientID]), ms, s.ClientID)
		}
	default:
		d.writeText(w, path)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

func writeMsg(w io.Writer, m *broker.Message) {
	fmt.Fprintf(w, "\tTopic: %s\n\tQoS: %d\n\tRetain: %d\n\tPayload Length: %d\n\tExpiry Time: %d\n",
		m.Topic, m.QoS, b2i(m.Retain), len(m.Payload), unix(m.Expiry))
	if m.Publisher != "" {
		fmt.Fprintf(w, "\tSource ID: %s\n", m.Publisher)
	}
	if len(m.Payload) < 256 && utf8.Valid(m.Payload) {
		fmt.Fprintf(w, "\tPayload: %s\n", m.Payload)
	}
}

func (d *midgeDump) writeText(w io.Writer, path string) {
	fmt.Fprintf(w, "midge DB dump\nFile: %s\nLast message ID: %d\n", path, d.maxID)
	for _, m := range d.retained {
		fmt.Fprintf(w, "RETAIN:\n")
		writeMsg(w, m)
	}
	for _, s := range d.sessions {
		fmt.Fprintf(w, "CLIENT:\n\tClient ID: %s\n", s.ClientID)
		if s.HasUsername {
			fmt.Fprintf(w, "\tUsername: %s\n", s.Username)
		}
		if s.Listener != "" {
			fmt.Fprintf(w, "\tListener: %s\n", s.Listener)
		}
		fmt.Fprintf(w, "\tProtocol version: %d\n\tSession expiry interval: %d\n\tOffline since: %d\n\tQueued: %d\n",
			s.Version, s.Expiry, unix(s.OfflineSince), s.Queued)
		if s.Will != nil {
			fmt.Fprintf(w, "\tWill delay: %d\n\tWill:\n", s.WillDelay)
			writeMsg(w, s.Will)
		}
		for _, sub := range s.Subscriptions {
			fmt.Fprintf(w, "SUB:\n\tClient ID: %s\n\tTopic: %s\n\tQoS: %d\n\tSubscription ID: %d\n\tOptions: 0x%02X\n",
				s.ClientID, sub.Filter, sub.QoS, sub.ID, subOptions(sub))
		}
		for _, q := range d.queues[s.ClientID] {
			fmt.Fprintf(w, "CLIENT_MSG:\n\tClient ID: %s\n\tStore ID: %d\n\tSeq: %d\n\tMID: %d\n\tQoS: %d\n\tRetain: %d\n\tSent: %d\n\tReleased: %d\n",
				s.ClientID, q.ID, q.Seq, packetID(q.Seq), q.QoS, b2i(q.Retain), b2i(q.Seq < s.SentUpTo), b2i(q.Released))
			for _, id := range q.SubIDs {
				fmt.Fprintf(w, "\tSubscription identifier: %d\n", id)
			}
			if q.Group != "" {
				fmt.Fprintf(w, "\tShared subscription: %s\n", q.Group)
			}
			writeMsg(w, q.Msg)
		}
		for _, pid := range d.inbound[s.ClientID] {
			fmt.Fprintf(w, "INBOUND:\n\tClient ID: %s\n\tMID: %d\n", s.ClientID, pid)
		}
	}
}

// subOptions packs the options as Mosquitto's SUB chunk does (bit 2: No
// Local, bit 3: Retain As Published), with Retain Handling in bits 4-5 as
// in SUBSCRIBE.
func subOptions(s broker.StoredSubscription) byte {
	return byte(b2i(s.NoLocal))<<2 | byte(b2i(s.RetainAsPublished))<<3 | s.RetainHandling<<4
}

// writeJSON prints the store as mosquitto_db_dump --json prints a
// Mosquitto file (cJSON's layout, the same keys where Mosquitto has the
// field), with an "inbound" array for incoming QoS 2 packet ids.
func (d *midgeDump) writeJSON(w io.Writer) error {
	msg := func(id uint64, m *broker.Message) mosqdb.JSONObject {
		o := mosqdb.JSONObject{}
		if id != 0 {
			o.Add("storeid", id)
		}
		o = append(o, mosqdb.JSONMember{Key: "expiry-time", Value: unix(m.Expiry)},
			mosqdb.JSONMember{Key: "qos", Value: int(m.QoS)}, mosqdb.JSONMember{Key: "retain", Value: b2i(m.Retain)},
			mosqdb.JSONMember{Key: "topic", Value: m.Topic})
		if m.Publisher != "" {
			o.Add("clientid", m.Publisher)
		}
		if len(m.Payload) > 0 {
			o.Add("payload", base64.StdEncoding.EncodeToString(m.Payload))
		}
		return o
	}
	msgs, clients, cmsgs, retained, subs, inbound := []any{}, []any{}, []any{}, []any{}, []any{}, []any{}
	for _, m := range d.retained {
		retained = append(retained, msg(0, m))
	}
	seen := map[uint64]bool{}
	for _, s := range d.sessions {
		c := mosqdb.JSONObject{{Key: "clientid", Value: s.ClientID}}
		if s.HasUsername {
			c.Add("username", s.Username)
		}
		c.Add("protocol-version", int(s.Version))
		c.Add("session-expiry-interval", int(s.Expiry))
		c.Add("offline-since", unix(s.OfflineSince))
		clients = append(clients, c)
		for _, x := range s.Subscriptions {
			subs = append(subs, mosqdb.JSONObject{{Key: "clientid", Value: s.ClientID}, {Key: "topic", Value: x.Filter},
				{Key: "qos", Value: int(x.QoS)}, {Key: "options", Value: int(subOptions(x))}, {Key: "identifier", Value: int(x.ID)}})
		}
		for _, q := range d.queues[s.ClientID] {
			if !seen[q.ID] {
				seen[q.ID] = true
				msgs = append(msgs, msg(q.ID, q.Msg))
			}
			o := mosqdb.JSONObject{{Key: "clientid", Value: s.ClientID}, {Key: "storeid", Value: q.ID}, {Key: "seq", Value: q.Seq},
				{Key: "mid", Value: int(packetID(q.Seq))}, {Key: "qos", Value: int(q.QoS)}, {Key: "retain", Value: b2i(q.Retain)},
				{Key: "sent", Value: b2i(q.Seq < s.SentUpTo)}, {Key: "released", Value: b2i(q.Released)}}
			if len(q.SubIDs) > 0 {
				ids := make([]any, len(q.SubIDs))
				for i, id := range q.SubIDs {
					ids[i] = int(id)
				}
				o.Add("subscription-identifiers", ids)
			}
			cmsgs = append(cmsgs, o)
		}
		for _, pid := range d.inbound[s.ClientID] {
			inbound = append(inbound, mosqdb.JSONObject{{Key: "clientid", Value: s.ClientID}, {Key: "mid", Value: int(pid)}})
		}
	}
	return mosqdb.WriteCJSON(w, mosqdb.JSONObject{{Key: "base-messages", Value: msgs}, {Key: "clients", Value: clients},
		{Key: "client-messages", Value: cmsgs}, {Key: "retained-messages", Value: retained},
		{Key: "subscriptions", Value: subs}, {Key: "inbound", Value: inbound}})
}
