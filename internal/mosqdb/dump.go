package mosqdb

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/midge-mqtt/midge/packet"
)

// WriteText prints f as mosquitto_db_dump (2.1) does without options: a
// header, then each chunk with its fields, one per line, indented by a tab.
// A chunk of an unknown type is reported to warn, as mosquitto_db_dump
// reports it to standard error.
func (f *File) WriteText(w, warn io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Mosquitto DB dump\nCRC: %d\nDB version: %d\n", f.CRC, f.Version)
	hdr := int64(8)
	if f.Version < 5 {
		hdr = 6
	}
	for i := range f.Chunks {
		c := &f.Chunks[i]
		switch {
		case c.Cfg != nil:
			fmt.Fprintf(bw, "DB_CHUNK_CFG:\n\tLength: %d\n\tShutdown: %d\n\tDB ID size: %d\n\tLast DB ID: %d\n",
				c.Length, b2i(c.Cfg.Shutdown), c.Cfg.DBIDSize, c.Cfg.LastDBID)
		case c.BaseMsg != nil:
			m := c.BaseMsg
			fmt.Fprintf(bw, "DB_CHUNK_BASE_MSG:\n\tLength: %d\n\tStore ID: %d\n\tSource Port: %d\n\tSource MID: %d\n"+
				"\tTopic: %s\n\tQoS: %d\n\tRetain: %d\n\tPayload Length: %d\n\tExpiry Time: %d\n",
				c.Length, m.StoreID, m.SourcePort, m.SourceMID, m.Topic, m.QoS, b2i(m.Retain), len(m.Payload), uint64(m.ExpiryTime))
			// Payloads of UTF-8 below 256 bytes are printed, as Mosquitto does.
			if len(m.Payload) < 256 && validUTF8(string(m.Payload)) {
				fmt.Fprintf(bw, "\tPayload: %s\n", m.Payload)
			}
			writeProps(bw, m.Properties)
		case c.ClientMsg != nil:
			m := c.ClientMsg
			fmt.Fprintf(bw, "DB_CHUNK_CLIENT_MSG:\n\tLength: %d\n\tClient ID: %s\n\tStore ID: %d\n\tMID: %d\n\tQoS: %d\n"+
				"\tRetain: %d\n\tDirection: %d\n\tState: %d\n\tDup: %d\n",
				c.Length, m.ClientID, m.StoreID, m.MID, m.QoS, b2i(m.Retain), m.Direction, m.State, b2i(m.Dup))
			if m.SubscriptionID != 0 {
				fmt.Fprintf(bw, "\tSubscription identifier: %d\n", m.SubscriptionID)
			}
		case c.Retain != nil:
			fmt.Fprintf(bw, "DB_CHUNK_RETAIN:\n\tLength: %d\n\tStore ID: %d\n", c.Length, c.Retain.StoreID)
		case c.Sub != nil:
			s := c.Sub
			fmt.Fprintf(bw, "DB_CHUNK_SUB:\n\tLength: %d\n\tClient ID: %s\n\tTopic: %s\n\tQoS: %d\n\tSubscription ID: %d\n\tOptions: 0x%02X\n",
				c.Length, s.ClientID, s.Topic, s.QoS, s.Identifier, s.Options)
		case c.Client != nil:
			cl := c.Client
			fmt.Fprintf(bw, "DB_CHUNK_CLIENT:\n\tLength: %d\n\tClient ID: %s\n", c.Length, cl.ClientID)
			if cl.Username != "" {
				fmt.Fprintf(bw, "\tUsername: %s\n", cl.Username)
			}
			if cl.ListenerPort > 0 {
				fmt.Fprintf(bw, "\tListener port: %d\n", cl.ListenerPort)
			}
			fmt.Fprintf(bw, "\tLast MID: %d\n\tSession expiry time: %d\n\tSession expiry interval: %d\n",
				cl.LastMID, uint64(cl.SessionExpiryTime), cl.SessionExpiryInterval)
		default:
			fmt.Fprintf(warn, "Warning: Unsupported chunk \"%d\" of length %d in persistent database file at position %d. Ignoring.\n",
				c.Type, c.Length, c.Offset+hdr)
		}
	}
	return bw.Flush()
}

// writeProps prints the properties of a message as mosquitto_db_dump does.
func writeProps(w io.Writer, p *packet.Properties) {
	if p == nil || p.Empty() {
		return
	}
	fmt.Fprintf(w, "\tProperties:\n")
	if p.Has(packet.PropPayloadFormat) {
		fmt.Fprintf(w, "\t\tPayload format indicator: %d\n", p.PayloadFormat)
	}
	if p.Has(packet.PropContentType) {
		fmt.Fprintf(w, "\t\tContent type: %s\n", p.ContentType)
	}
	if p.Has(packet.PropResponseTopic) {
		fmt.Fprintf(w, "\t\tResponse topic: %s\n", p.ResponseTopic)
	}
	if p.Has(packet.PropCorrelationData) {
		fmt.Fprintf(w, "\t\tCorrelation data: %X\n", p.CorrelationData)
	}
	for _, u := range p.User {
		fmt.Fprintf(w, "\t\tUser property: %s , %s\n", u.Key, u.Value)
	}
	for _, id := range []packet.PropertyID{packet.PropMessageExpiry, packet.PropTopicAlias} {
		if p.Has(id) {
			fmt.Fprintf(w, "\t\tInvalid property type: %d\n", id)
		}
	}
	for range p.SubscriptionIDs {
		fmt.Fprintf(w, "\t\tInvalid property type: %d\n", packet.PropSubscriptionID)
	}
}

// WriteStats prints the number of chunks of each type, as
// mosquitto_db_dump --stats does.
func (f *File) WriteStats(w io.Writer) error {
	var n [7]int
	for _, c := range f.Chunks {
		if c.Type >= ChunkCfg && c.Type <= ChunkClient {
			n[c.Type]++
		}
	}
	_, err := fmt.Fprintf(w, "DB_CHUNK_CFG:        %d\nDB_CHUNK_BASE_MSG:   %d\nDB_CHUNK_CLIENT_MSG: %d\n"+
		"DB_CHUNK_RETAIN:     %d\nDB_CHUNK_SUB:        %d\nDB_CHUNK_CLIENT:     %d\n",
		n[ChunkCfg], n[ChunkBaseMsg], n[ChunkClientMsg], n[ChunkRetain], n[ChunkSub], n[ChunkClient])
	return err
}

// WriteClientStats prints, for each client, its number of subscriptions
// and their size, and its number of messages and their size with the
// messages they name, as mosquitto_db_dump --client-stats does (in file
// order; Mosquitto's is its hash table's).
func (f *File) WriteClientStats(w io.Writer) error {
	type stats struct{ sc, ss, mc, ms int64 }
	msgLen := map[uint64]uint32{}
	var order []string
	byID := map[string]*stats{}
	for _, c := range f.Chunks {
		switch {
		case c.BaseMsg != nil:
			msgLen[c.BaseMsg.StoreID] = c.Length
		case c.Client != nil:
			if byID[c.Client.ClientID] == nil {
				order = append(order, c.Client.ClientID)
				byID[c.Client.ClientID] = &stats{}
			}
		case c.Sub != nil:
			if s := byID[c.Sub.ClientID]; s != nil {
				s.sc++
				s.ss += int64(c.Length)
			}
		case c.ClientMsg != nil:
			if s := byID[c.ClientMsg.ClientID]; s != nil {
				s.mc++
				s.ms += int64(c.Length) + int64(msgLen[c.ClientMsg.StoreID])
			}
		}
	}
	bw := bufio.NewWriter(w)
	for _, id := range order {
		s := byID[id]
		fmt.Fprintf(bw, "SC: %d SS: %d MC: %d MS: %d   %s\n", s.sc, s.ss, s.mc, s.ms, id)
	}
	return bw.Flush()
}

// jsonProps returns p as mosquitto_properties_to_json does.
func jsonProps(p *packet.Properties) []any {
	if p == nil || p.Empty() {
		return nil
	}
	var out []any
	add := func(id string, v any) {
		o := JSONObject{{"identifier", id}}
		if v != nil {
			o.Add("value", v)
		}
		out = append(out, o)
	}
	if p.Has(packet.PropPayloadFormat) {
		add("payload-format-indicator", int(p.PayloadFormat))
	}
	if p.Has(packet.PropMessageExpiry) {
		add("message-expiry-interval", nil)
	}
	if p.Has(packet.PropContentType) {
		add("content-type", p.ContentType)
	}
	if p.Has(packet.PropResponseTopic) {
		add("response-topic", p.ResponseTopic)
	}
	if p.Has(packet.PropCorrelationData) {
		add("correlation-data", fmt.Sprintf("%X", p.CorrelationData))
	}
	for range p.SubscriptionIDs {
		add("subscription-identifier", nil)
	}
	if p.Has(packet.PropTopicAlias) {
		add("topic-alias", nil)
	}
	for _, u := range p.User {
		out = append(out, JSONObject{{"identifier", "user-property"}, {"name", u.Key}, {"value", u.Value}})
	}
	return out
}

// WriteJSON prints f as mosquitto_db_dump --json (2.1) does, byte for
// byte: one object with the arrays base-messages, clients,
// client-messages, retained-messages and subscriptions, payloads in
// base64, as cJSON_Print lays it out. One difference: a client message's
// "storeid" is its store id (2.1.2 prints its subscription identifier
// there). Properties are listed in a fixed order, not the order they were
// stored in.
func (f *File) WriteJSON(w io.Writer) error {
	var msgs, clients, cmsgs, retained, subs []any
	for _, c := range f.Chunks {
		switch {
		case c.BaseMsg != nil:
			m := c.BaseMsg
			o := JSONObject{{"storeid", m.StoreID}, {"expiry-time", m.ExpiryTime}, {"source-mid", int(m.SourceMID)},
				{"source-port", int(m.SourcePort)}, {"qos", int(m.QoS)}, {"retain", b2i(m.Retain)}, {"topic", m.Topic}}
			if m.SourceID != "" {
				o.Add("clientid", m.SourceID)
			}
			if m.SourceUsername != "" {
				o.Add("username", m.SourceUsername)
			}
			if len(m.Payload) > 0 {
				o.Add("payload", base64.StdEncoding.EncodeToString(m.Payload))
			}
			if p := jsonProps(m.Properties); p != nil {
				o.Add("properties", p)
			}
			msgs = append(msgs, o)
		case c.Client != nil:
			cl := c.Client
			o := JSONObject{{"clientid", cl.ClientID}}
			if cl.Username != "" {
				o.Add("username", cl.Username)
			}
			o = append(o, JSONMember{"session-expiry-time", cl.SessionExpiryTime},
				JSONMember{"session-expiry-interval", int(cl.SessionExpiryInterval)},
				JSONMember{"last-mid", int(cl.LastMID)}, JSONMember{"listener-port", int(cl.ListenerPort)})
			clients = append(clients, o)
		case c.ClientMsg != nil:
			m := c.ClientMsg
			cmsgs = append(cmsgs, JSONObject{{"clientid", m.ClientID}, {"storeid", m.StoreID}, {"mid", int(m.MID)},
				{"qos", int(m.QoS)}, {"state", int(m.State)}, {"retain-dup", b2i(m.Retain)<<4 | b2i(m.Dup)},
				{"direction", int(m.Direction)}, {"subscription-identifier", int(m.SubscriptionID)}})
		case c.Retain != nil:
			retained = append(retained, JSONObject{{"storeid", c.Retain.StoreID}})
		case c.Sub != nil:
			s := c.Sub
			subs = append(subs, JSONObject{{"clientid", s.ClientID}, {"topic", s.Topic}, {"qos", int(s.QoS)},
				{"options", int(s.Options)}, {"identifier", int(s.Identifier)}})
		}
	}
	arr := func(a []any) []any {
		if a == nil {
			return []any{}
		}
		return a
	}
	return WriteCJSON(w, JSONObject{{"base-messages", arr(msgs)}, {"clients", arr(clients)},
		{"client-messages", arr(cmsgs)}, {"retained-messages", arr(retained)}, {"subscriptions", arr(subs)}})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
