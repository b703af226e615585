package mosqdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize is the largest file Read accepts (4 GB): Mosquitto reads the
// whole file into memory too, and a longer file is surely not its.
const MaxFileSize = 4 << 30

// ErrFormat is wrapped by every *Error: the file is not a Mosquitto
// persistence file midge can read.
var ErrFormat = errors.New("mosqdb: cannot read the Mosquitto persistence file")

// Error says what is wrong with a Mosquitto persistence file and where.
type Error struct {
	Path   string // the file, "" when parsed from memory
	Offset int64  // where the problem is, -1 if nowhere in particular
	Reason string
}

// Error returns "FILE: reason (at byte N)".
func (e *Error) Error() string {
	s := e.Reason
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (at byte %d)", e.Offset)
	}
	if e.Path != "" {
		return e.Path + ": " + s
	}
	return s
}

// Unwrap returns ErrFormat.
func (e *Error) Unwrap() error { return ErrFormat }

// IsMosquittoFile reports whether the file at path starts with Magic.
func IsMosquittoFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(Magic))
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == Magic
}

// ReadFile reads and parses the file at path. Errors about the content are
// *Errors naming path; others (the file cannot be opened) are the OS's.
func ReadFile(path string) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, &Error{Path: path, Offset: -1, Reason: fmt.Sprintf("%d bytes is larger than any Mosquitto persistence file midge reads (%d)", fi.Size(), int64(MaxFileSize))}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	var e *Error
	if errors.As(err, &e) {
		e.Path = path
	}
	return f, err
}

// Parse parses a whole Mosquitto persistence file held in b. The File does
// not alias b. An error is an *Error.
func Parse(b []byte) (*File, error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, &Error{Offset: 0, Reason: "not a Mosquitto persistence file (bad magic: it does not start with \"\\x00\\xb5\\x00mosquitto db\")"}
	}
	if len(b) < len(Magic)+8 {
		return nil, &Error{Offset: int64(len(b)), Reason: "truncated header: the file ends before the CRC and version fields"}
	}
	f := &File{
		CRC:     binary.BigEndian.Uint32(b[15:]),
		Version: binary.BigEndian.Uint32(b[19:]),
	}
	if f.CRC != 0 {
		return nil, &Error{Offset: 15, Reason: fmt.Sprintf("bad CRC field %#08x: Mosquitto 1.5 to 2.1 always write 0, so the file is damaged or not Mosquitto's", f.CRC)}
	}
	if f.Version < 2 || f.Version > 6 {
		return nil, &Error{Offset: 19, Reason: fmt.Sprintf("unknown format version %d: midge reads versions 2 to 6 (Mosquitto up to 2.1)", f.Version)}
	}
	off := len(Magic) + 8
	for off < len(b) {
		c, next, err := parseChunk(b, off, f.Version)
		if err != nil {
			return nil, err
		}
		f.Chunks = append(f.Chunks, c)
		off = next
	}
	return f, nil
}

// parseChunk parses the chunk whose header is at off and returns it with
// the offset of the next one.
func parseChunk(b []byte, off int, version uint32) (Chunk, int, error) {
	c := Chunk{Offset: int64(off)}
	hdr := 8
	if version < 5 {
		hdr = 6
	}
	if len(b)-off < hdr {
		return c, 0, &Error{Offset: int64(off), Reason: fmt.Sprintf("truncated chunk header: %d bytes left, a header is %d", len(b)-off, hdr)}
	}
	if version < 5 {
		c.Type = ChunkType(binary.BigEndian.Uint16(b[off:]))
		c.Length = binary.BigEndian.Uint32(b[off+2:])
	} else {
		c.Type = ChunkType(binary.BigEndian.Uint32(b[off:]))
		c.Length = binary.BigEndian.Uint32(b[off+4:])
	}
	start := off + hdr
	if uint64(c.Length) > uint64(len(b)-start) {
		return c, 0, &Error{Offset: int64(off), Reason: fmt.Sprintf("truncated %v: its length is %d bytes, %d are left in the file", c.Type, c.Length, len(b)-start)}
	}
	r := &reader{b: b[start : start+int(c.Length)], base: int64(start)}
	var err error
	if version >= 5 {
		err = c.parse56(r, version)
	} else {
		err = c.parse234(r, version)
	}
	if err == nil && r.off != len(r.b) && c.Type >= ChunkCfg && c.Type <= ChunkClient {
		err = r.fail(fmt.Sprintf("%d bytes left over at the end of the chunk", len(r.b)-r.off))
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Reason = fmt.Sprintf("%v at byte %d: %s", c.Type, off, e.Reason)
		}
		return c, 0, err
	}
	return c, start + int(c.Length), nil
}

// parse56 parses the body of a version 5 or 6 chunk: a fixed C struct,
// then strings, then properties.
func (c *Chunk) parse56(r *reader, version uint32) error {
	switch c.Type {
	case ChunkCfg:
		// struct PF_cfg: uint64 last_db_id, uint8 shutdown, uint8
		// dbid_size, 6 bytes of padding.
		fx, err := r.fixed(16)
		if err != nil {
			return err
		}
		c.Cfg = &Cfg{LastDBID: binary.LittleEndian.Uint64(fx), Shutdown: fx[8] != 0, DBIDSize: fx[9]}
		return checkCfg(r, c.Cfg)
	case ChunkBaseMsg:
		// struct PF_base_msg: uint64 store_id, int64 expiry_time, uint32
		// payloadlen, uint16 source_mid, source_id_len,
		// source_username_len, topic_len, source_port, uint8 qos, retain.
		fx, err := r.fixed(32)
		if err != nil {
			return err
		}
		m := &BaseMsg{
			StoreID:    binary.LittleEndian.Uint64(fx),
			ExpiryTime: int64(binary.LittleEndian.Uint64(fx[8:])),
			SourceMID:  binary.BigEndian.Uint16(fx[20:]),
			SourcePort: binary.BigEndian.Uint16(fx[28:]),
			QoS:        fx[30],
			Retain:     fx[31] != 0,
		}
		plen := binary.BigEndian.Uint32(fx[16:])
		if m.SourceID, err = r.str(int(binary.BigEndian.Uint16(fx[22:])), "source client id"); err != nil {
			return err
		}
		if m.SourceUsername, err = r.str(int(binary.BigEndian.Uint16(fx[24:])), "source username"); err != nil {
			return err
		}
		if m.Topic, err = r.str(int(binary.BigEndian.Uint16(fx[26:])), "topic"); err != nil {
			return err
		}
		if uint64(plen) > uint64(r.left()) {
			return r.fail(fmt.Sprintf("payload length %d runs past the end of the chunk", plen))
		}
		m.Payload = r.bytes(int(plen))
		if r.left() > 0 {
			if m.Properties, err = r.properties(false); err != nil {
				return err
			}
		}
		c.BaseMsg = m
		return checkMsg(r, m)
	case ChunkClientMsg:
		// struct PF_client_msg: uint64 store_id, uint16 mid, id_len,
		// uint8 qos, state, retain_dup, direction.
		fx, err := r.fixed(16)
		if err != nil {
			return err
		}
		m := &ClientMsg{
			StoreID:   binary.LittleEndian.Uint64(fx),
			MID:       binary.BigEndian.Uint16(fx[8:]),
			QoS:       fx[12],
			State:     State(fx[13]),
			Retain:    fx[14]&0xf0 != 0,
			Dup:       fx[14]&0x0f != 0,
			Direction: Direction(fx[15]),
		}
		if m.ClientID, err = r.str(int(binary.BigEndian.Uint16(fx[10:])), "client id"); err != nil {
			return err
		}
		if r.left() > 0 {
			p, err := r.properties(true)
			if err != nil {
				return err
			}
			if p != nil && len(p.SubscriptionIDs) > 0 {
				m.SubscriptionID = p.SubscriptionIDs[0]
			}
		}
		c.ClientMsg = m
		return checkClientMsg(r, m)
	case ChunkRetain:
		fx, err := r.fixed(8)
		if err != nil {
			return err
		}
		c.Retain = &Retain{StoreID: binary.LittleEndian.Uint64(fx)}
		return nil
	case ChunkSub:
		// struct PF_sub: uint32 identifier, uint16 id_len, topic_len,
		// uint8 qos, options, 2 bytes of padding.
		fx, err := r.fixed(12)
		if err != nil {
			return err
		}
		s := &Sub{Identifier: binary.BigEndian.Uint32(fx), QoS: fx[8], Options: fx[9]}
		if s.ClientID, err = r.str(int(binary.BigEndian.Uint16(fx[4:])), "client id"); err != nil {
			return err
		}
		if s.Topic, err = r.str(int(binary.BigEndian.Uint16(fx[6:])), "topic"); err != nil {
			return err
		}
		c.Sub = s
		return checkSub(r, s)
	case ChunkClient:
		// struct PF_client: int64 session_expiry_time, uint32
		// session_expiry_interval, uint16 last_mid, id_len; version 6
		// adds uint16 listener_port, username_len and 4 bytes of padding.
		size := 16
		if version == 6 {
			size = 24
		}
		fx, err := r.fixed(size)
		if err != nil {
			return err
		}
		cl := &Client{
			SessionExpiryTime:     int64(binary.LittleEndian.Uint64(fx)),
			SessionExpiryInterval: binary.BigEndian.Uint32(fx[8:]),
			LastMID:               binary.BigEndian.Uint16(fx[12:]),
		}
		ulen := 0
		if version == 6 {
			cl.ListenerPort = binary.BigEndian.Uint16(fx[16:])
			ulen = int(binary.BigEndian.Uint16(fx[18:]))
		}
		if cl.ClientID, err = r.str(int(binary.BigEndian.Uint16(fx[14:])), "client id"); err != nil {
			return err
		}
		if cl.Username, err = r.str(ulen, "username"); err != nil {
			return err
		}
		c.Client = cl
		return checkClient(r, cl)
	}
	r.off = len(r.b) // unknown: skipped, as Mosquitto does
	return nil
}

// parse234 parses the body of a version 2, 3 or 4 chunk: fields in order,
// strings with a uint16 length first.
func (c *Chunk) parse234(r *reader, version uint32) error {
	var err error
	switch c.Type {
	case ChunkCfg:
		cfg := &Cfg{}
		fx, err := r.fixed(2)
		if err != nil {
			return err
		}
		cfg.Shutdown, cfg.DBIDSize = fx[0] != 0, fx[1]
		if err := checkCfg(r, cfg); err != nil {
			return err
		}
		if cfg.LastDBID, err = r.dbid(); err != nil {
			return err
		}
		c.Cfg = cfg
		return nil
	case ChunkBaseMsg:
		m := &BaseMsg{}
		if m.StoreID, err = r.dbid(); err != nil {
			return err
		}
		if m.SourceID, err = r.pstr("source client id"); err != nil {
			return err
		}
		if version == 4 {
			if m.SourceUsername, err = r.pstr("source username"); err != nil {
				return err
			}
			if m.SourcePort, err = r.u16(); err != nil {
				return err
			}
		}
		if m.SourceMID, err = r.u16(); err != nil {
			return err
		}
		if _, err = r.u16(); err != nil { // the message's own mid, unused
			return err
		}
		if m.Topic, err = r.pstr("topic"); err != nil {
			return err
		}
		fx, err := r.fixed(6)
		if err != nil {
			return err
		}
		m.QoS, m.Retain = fx[0], fx[1] != 0
		plen := binary.BigEndian.Uint32(fx[2:])
		if uint64(plen) > uint64(r.left()) {
			return r.fail(fmt.Sprintf("payload length %d runs past the end of the chunk", plen))
		}
		m.Payload = r.bytes(int(plen))
		c.BaseMsg = m
		return checkMsg(r, m)
	case ChunkClientMsg:
		m := &ClientMsg{}
		if m.ClientID, err = r.pstr("client id"); err != nil {
			return err
		}
		if m.StoreID, err = r.dbid(); err != nil {
			return err
		}
		if m.MID, err = r.u16(); err != nil {
			return err
		}
		fx, err := r.fixed(5)
		if err != nil {
			return err
		}
		m.QoS, m.Retain, m.Direction, m.State, m.Dup = fx[0], fx[1] != 0, Direction(fx[2]), State(fx[3]), fx[4] != 0
		c.ClientMsg = m
		return checkClientMsg(r, m)
	case ChunkRetain:
		id, err := r.dbid()
		if err != nil {
			return err
		}
		c.Retain = &Retain{StoreID: id}
		return nil
	case ChunkSub:
		s := &Sub{}
		if s.ClientID, err = r.pstr("client id"); err != nil {
			return err
		}
		if s.Topic, err = r.pstr("topic"); err != nil {
			return err
		}
		fx, err := r.fixed(1)
		if err != nil {
			return err
		}
		s.QoS = fx[0]
		c.Sub = s
		return checkSub(r, s)
	case ChunkClient:
		cl := &Client{SessionExpiryInterval: 0xFFFFFFFF}
		if cl.ClientID, err = r.pstr("client id"); err != nil {
			return err
		}
		if cl.LastMID, err = r.u16(); err != nil {
			return err
		}
		if version > 2 {
			// time_t disconnect_t: 8 bytes where Mosquitto was built for
			// 64 bits, 4 where for 32; the chunk's length tells.
			switch r.left() {
			case 8:
				fx, _ := r.fixed(8)
				cl.DisconnectTime = int64(binary.LittleEndian.Uint64(fx))
			case 4:
				fx, _ := r.fixed(4)
				cl.DisconnectTime = int64(int32(binary.LittleEndian.Uint32(fx)))
			default:
				return r.fail(fmt.Sprintf("%d bytes where the disconnect time (4 or 8) should be", r.left()))
			}
		}
		c.Client = cl
		return checkClient(r, cl)
	}
	r.off = len(r.b)
	return nil
}

func checkCfg(r *reader, c *Cfg) error {
	if c.DBIDSize != 8 {
		return r.fail(fmt.Sprintf("store ids of %d bytes: Mosquitto writes 8", c.DBIDSize))
	}
	return nil
}

func checkMsg(r *reader, m *BaseMsg) error {
	if m.QoS > 2 {
		return r.fail(fmt.Sprintf("message %d has QoS %d", m.StoreID, m.QoS))
	}
	return nil
}

func checkClientMsg(r *reader, m *ClientMsg) error {
	switch {
	case m.ClientID == "":
		return r.fail("client message without a client id")
	case m.QoS > 2:
		return r.fail(fmt.Sprintf("client message of %q has QoS %d", m.ClientID, m.QoS))
	case m.Direction > Out:
		return r.fail(fmt.Sprintf("client message of %q has direction %d", m.ClientID, m.Direction))
	case m.State > StateQueued:
		return r.fail(fmt.Sprintf("client message of %q has state %d", m.ClientID, m.State))
	}
	return nil
}

func checkSub(r *reader, s *Sub) error {
	switch {
	case s.ClientID == "":
		return r.fail("subscription without a client id")
	case s.Topic == "":
		return r.fail(fmt.Sprintf("subscription of %q without a topic filter", s.ClientID))
	case s.QoS > 2:
		return r.fail(fmt.Sprintf("subscription of %q to %q has QoS %d", s.ClientID, s.Topic, s.QoS))
	}
	return nil
}

func checkClient(r *reader, c *Client) error {
	if c.ClientID == "" {
		return r.fail("client without a client id")
	}
	return nil
}

// reader reads the body of one chunk; every read is bounded by it.
type reader struct {
	b    []byte
	off  int
	base int64 // offset of b in the file
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) fail(reason string) error {
	return &Error{Offset: r.base + int64(r.off), Reason: reason}
}

// fixed returns the next n bytes (aliasing the chunk).
func (r *reader) fixed(n int) ([]byte, error) {
	if r.left() < n {
		return nil, r.fail(fmt.Sprintf("the chunk ends %d bytes into a %d-byte field", r.left(), n))
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

// bytes returns a copy of the next n bytes; n <= r.left().
func (r *reader) bytes(n int) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	copy(b, r.b[r.off:])
	r.off += n
	return b
}

func (r *reader) u16() (uint16, error) {
	b, err := r.fixed(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

// dbid reads a store id, host (little-endian) order.
func (r *reader) dbid() (uint64, error) {
	b, err := r.fixed(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a string of n bytes that must be UTF-8 [MQTT-1.5.4-1].
func (r *reader) str(n int, what string) (string, error) {
	if r.left() < n {
		return "", r.fail(fmt.Sprintf("%s of %d bytes runs past the end of the chunk", what, n))
	}
	s := string(r.b[r.off : r.off+n])
	if !validUTF8(s) {
		return "", r.fail(what + " is not UTF-8 without NUL")
	}
	r.off += n
	return s, nil
}

// pstr reads a string with a uint16 length first (versions 2 to 4).
func (r *reader) pstr(what string) (string, error) {
	n, err := r.u16()
	if err != nil {
		return "", err
	}
	return r.str(int(n), what)
}
