package mosqdb

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"

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

// jsonProp is one property in mosquitto_db_dump --json's form.
type jsonProp struct {
	Identifier string `json:"identifier"`
	Name       string `json:"name,omitempty"`
	Value      any    `json:"value,omitempty"`
}

func jsonProps(p *packet.Properties) []jsonProp {
	if p == nil || p.Empty() {
		return nil
	}
	var out []jsonProp
	if p.Has(packet.PropPayloadFormat) {
		out = append(out, jsonProp{Identifier: "payload-format-indicator", Value: p.PayloadFormat})
	}
	if p.Has(packet.PropContentType) {
		out = append(out, jsonProp{Identifier: "content-type", Value: p.ContentType})
	}
	if p.Has(packet.PropResponseTopic) {
		out = append(out, jsonProp{Identifier: "response-topic", Value: p.ResponseTopic})
	}
	if p.Has(packet.PropCorrelationData) {
		out = append(out, jsonProp{Identifier: "correlation-data", Value: strings.ToUpper(fmt.Sprintf("%x", p.CorrelationData))})
	}
	for _, u := range p.User {
		out = append(out, jsonProp{Identifier: "user-property", Name: u.Key, Value: u.Value})
	}
	return out
}

// WriteJSON prints f as mosquitto_db_dump --json (2.1) does: one object
// with the arrays base-messages, clients, client-messages,
// retained-messages and subscriptions, with the same keys. Payloads are in
// base64. Two differences: the whitespace is encoding/json's, not cJSON's,
// and a client message's "storeid" is its store id (2.1.2 prints its
// subscription identifier there).
func (f *File) WriteJSON(w io.Writer) error {
	type baseMsg struct {
		StoreID    uint64     `json:"storeid"`
		ExpiryTime int64      `json:"expiry-time"`
		SourceMID  uint16     `json:"source-mid"`
		SourcePort uint16     `json:"source-port"`
		QoS        byte       `json:"qos"`
		Retain     int        `json:"retain"`
		Topic      string     `json:"topic"`
		ClientID   string     `json:"clientid,omitempty"`
		Username   string     `json:"username,omitempty"`
		Payload    string     `json:"payload,omitempty"`
		Properties []jsonProp `json:"properties,omitempty"`
	}
	type client struct {
		ClientID              string `json:"clientid"`
		Username              string `json:"username,omitempty"`
		SessionExpiryTime     int64  `json:"session-expiry-time"`
		SessionExpiryInterval uint32 `json:"session-expiry-interval"`
		LastMID               uint16 `json:"last-mid"`
		ListenerPort          uint16 `json:"listener-port"`
	}
	type clientMsg struct {
		ClientID       string `json:"clientid"`
		StoreID        uint64 `json:"storeid"`
		MID            uint16 `json:"mid"`
		QoS            byte   `json:"qos"`
		State          State  `json:"state"`
		RetainDup      int    `json:"retain-dup"`
		Direction      byte   `json:"direction"`
		SubscriptionID uint32 `json:"subscription-identifier"`
	}
	type retained struct {
		StoreID uint64 `json:"storeid"`
	}
	type sub struct {
		ClientID   string `json:"clientid"`
		Topic      string `json:"topic"`
		QoS        byte   `json:"qos"`
		Options    byte   `json:"options"`
		Identifier uint32 `json:"identifier"`
	}
	out := struct {
		BaseMsgs   []baseMsg   `json:"base-messages"`
		Clients    []client    `json:"clients"`
		ClientMsgs []clientMsg `json:"client-messages"`
		Retained   []retained  `json:"retained-messages"`
		Subs       []sub       `json:"subscriptions"`
	}{[]baseMsg{}, []client{}, []clientMsg{}, []retained{}, []sub{}}
	for _, c := range f.Chunks {
		switch {
		case c.BaseMsg != nil:
			m := c.BaseMsg
			out.BaseMsgs = append(out.BaseMsgs, baseMsg{StoreID: m.StoreID, ExpiryTime: m.ExpiryTime, SourceMID: m.SourceMID,
				SourcePort: m.SourcePort, QoS: m.QoS, Retain: b2i(m.Retain), Topic: m.Topic, ClientID: m.SourceID,
				Username: m.SourceUsername, Payload: base64.StdEncoding.EncodeToString(m.Payload), Properties: jsonProps(m.Properties)})
		case c.Client != nil:
			cl := c.Client
			out.Clients = append(out.Clients, client{cl.ClientID, cl.Username, cl.SessionExpiryTime, cl.SessionExpiryInterval, cl.LastMID, cl.ListenerPort})
		case c.ClientMsg != nil:
			m := c.ClientMsg
			out.ClientMsgs = append(out.ClientMsgs, clientMsg{m.ClientID, m.StoreID, m.MID, m.QoS, m.State,
				b2i(m.Retain)<<4 | b2i(m.Dup), byte(m.Direction), m.SubscriptionID})
		case c.Retain != nil:
			out.Retained = append(out.Retained, retained{c.Retain.StoreID})
		case c.Sub != nil:
			s := c.Sub
			out.Subs = append(out.Subs, sub{s.ClientID, s.Topic, s.QoS, s.Options, s.Identifier})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
