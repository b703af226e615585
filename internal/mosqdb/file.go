package mosqdb

import (
	"fmt"

	"github.com/midge-mqtt/midge/packet"
)

// Magic starts every Mosquitto persistence file.
const Magic = "\x00\xb5\x00mosquitto db"

// ChunkType is the type of a chunk.
type ChunkType uint32

// The chunk types.
const (
	ChunkCfg       ChunkType = 1
	ChunkBaseMsg   ChunkType = 2
	ChunkClientMsg ChunkType = 3
	ChunkRetain    ChunkType = 4
	ChunkSub       ChunkType = 5
	ChunkClient    ChunkType = 6
)

// String returns the name mosquitto_db_dump prints for the chunk type.
func (t ChunkType) String() string {
	switch t {
	case ChunkCfg:
		return "DB_CHUNK_CFG"
	case ChunkBaseMsg:
		return "DB_CHUNK_BASE_MSG"
	case ChunkClientMsg:
		return "DB_CHUNK_CLIENT_MSG"
	case ChunkRetain:
		return "DB_CHUNK_RETAIN"
	case ChunkSub:
		return "DB_CHUNK_SUB"
	case ChunkClient:
		return "DB_CHUNK_CLIENT"
	}
	return fmt.Sprintf("chunk %d", uint32(t))
}

// Direction says which way a client message goes.
type Direction byte

// The directions (Mosquitto's mosq_md_in, mosq_md_out).
const (
	In  Direction = 0 // from the client: an incoming QoS 2 message not yet released
	Out Direction = 1 // to the client
)

// State is where a client message is in its QoS flow (Mosquitto's enum
// mosquitto_msg_state).
type State byte

// The states.
const (
	StateInvalid        State = 0
	StatePublishQoS0    State = 1
	StatePublishQoS1    State = 2
	StateWaitForPuback  State = 3
	StatePublishQoS2    State = 4
	StateWaitForPubrec  State = 5
	StateResendPubrel   State = 6
	StateWaitForPubrel  State = 7
	StateResendPubcomp  State = 8
	StateWaitForPubcomp State = 9
	StateSendPubrec     State = 10
	StateQueued         State = 11
)

// File is a Mosquitto persistence file as read.
type File struct {
	Version uint32  // format version, 2 to 6
	CRC     uint32  // the CRC field, always 0
	Chunks  []Chunk // in file order
}

// Chunk is one chunk. Exactly one of its pointers is set, the one its Type
// names, except for a chunk of an unknown type, which has none.
type Chunk struct {
	Type      ChunkType
	Length    uint32 // of the body, as the header says
	Offset    int64  // of the header in the file
	Cfg       *Cfg
	BaseMsg   *BaseMsg
	ClientMsg *ClientMsg
	Retain    *Retain
	Sub       *Sub
	Client    *Client
}

// Cfg is the CFG chunk.
type Cfg struct {
	Shutdown bool   // written at a clean shutdown
	DBIDSize byte   // size of a store id, 8
	LastDBID uint64 // the last store id given
}

// BaseMsg is a stored message (BASE_MSG, MSG_STORE before 2.1).
type BaseMsg struct {
	StoreID        uint64
	ExpiryTime     int64 // Unix seconds, 0 for none (versions 5 and 6)
	SourceMID      uint16
	SourceID       string // client id of the publisher, "" if none
	SourceUsername string // versions 4 to 6
	SourcePort     uint16 // listener port the message came in on (4 to 6)
	Topic          string
	QoS            byte
	Retain         bool
	Payload        []byte
	// Properties are the message's MQTT v5 properties (versions 5 and 6),
	// nil if it has none.
	Properties *packet.Properties
}

// ClientMsg is a message queued for, in flight to, or received from a
// client (CLIENT_MSG).
type ClientMsg struct {
	ClientID  string
	StoreID   uint64
	MID       uint16 // packet identifier
	QoS       byte
	Retain    bool
	Dup       bool
	Direction Direction
	State     State
	// SubscriptionID is the subscription identifier it was matched by, 0
	// for none (versions 5 and 6).
	SubscriptionID uint32
}

// Retain names a retained message (RETAIN).
type Retain struct {
	StoreID uint64
}

// Sub is a subscription of a persistent session (SUB).
type Sub struct {
	ClientID   string
	Topic      string
	QoS        byte
	Options    byte   // bit 2: no local, bit 3: retain as published (5 and 6)
	Identifier uint32 // subscription identifier, 0 for none (5 and 6)
}

// NoLocal reports the No Local subscription option.
func (s *Sub) NoLocal() bool { return s.Options&0x04 != 0 }

// RetainAsPublished reports the Retain As Published subscription option.
func (s *Sub) RetainAsPublished() bool { return s.Options&0x08 != 0 }

// Client is a persistent session (CLIENT).
type Client struct {
	ClientID string
	Username string // version 6; "" if none
	// ListenerPort is the port of the listener the client last connected
	// to (version 6), 0 if unknown.
	ListenerPort uint16
	LastMID      uint16
	// SessionExpiryTime is when the session expires, Unix seconds, 0 if
	// it does not or the client was connected (versions 5 and 6).
	SessionExpiryTime int64
	// SessionExpiryInterval is the session expiry interval in seconds,
	// 0xFFFFFFFF for never (versions 5 and 6; older files keep sessions
	// until persistent_client_expiration, and Read gives 0xFFFFFFFF).
	SessionExpiryInterval uint32
	// DisconnectTime is the time_t of versions 3 and 4, unused by
	// Mosquitto.
	DisconnectTime int64
}
