package web

import (
	"context"

	"github.com/midge-mqtt/midge/broker"
)

// Source is what a dashboard shows and acts on: the broker it runs in
// (*broker.Server, through its internal feed), or a broker it is a client of
// (midge explore). The same Server, API and pages serve either.
type Source interface {
	// Observe calls fn with every message routed (or received), from any
	// goroutine, until remove is called. fn must not block.
	Observe(fn func(*broker.Message)) (remove func())
	// RetainedMessages calls fn with the retained messages matching filter
	// known when it is called, until fn returns false.
	RetainedMessages(filter string, fn func(*broker.Message) bool)
	// Publish publishes m.
	Publish(ctx context.Context, m *broker.Message) error
	// DeleteRetained removes the retained messages matching filter and
	// returns how many.
	DeleteRetained(ctx context.Context, filter string) (int, error)
	// Sessions returns the broker's sessions; a client source has none to show.
	Sessions() []broker.SessionInfo
	// Disconnect ends the connection of clientID and reports whether it was
	// connected.
	Disconnect(clientID string) bool
	// Stats returns the counters the statistics page graphs.
	Stats() broker.Stats
	// SysValues returns the latest value of each $SYS topic.
	SysValues() map[string]string
}

// HistorySource is a Source that keeps history of its own (on disk): New
// seeds the topics with it instead of the retained messages.
type HistorySource interface {
	Source
	// History calls fn with stored messages, oldest first for each topic,
	// until fn returns false. Received is set on each.
	History(fn func(*broker.Message) bool)
}

// SourceInfo describes a source to the pages (GET /api/v1/me "source").
type SourceInfo struct {
	// Kind is "broker" for the broker's own dashboard, "client" for a
	// dashboard that is a client of a broker (midge explore).
	Kind string `json:"kind"`
	// Server is the broker's address, for a client ("tcp://host:1883").
	Server string `json:"server,omitempty"`
	// Connection names the saved connection in use, if any.
	Connection string `json:"connection,omitempty"`
	// Connected says whether the client is connected now.
	Connected bool `json:"connected"`
	// Export says that GET /api/v1/explore/export serves the stored history
	// of a topic as CSV or JSON.
	Export bool `json:"export,omitempty"`
}

// Describer is a Source that describes itself; others are "broker".
type Describer interface {
	Describe() SourceInfo
}

// sourceInfo returns what the pages are told of the source.
func (s *Server) sourceInfo() SourceInfo {
	if d, ok := s.broker.(Describer); ok {
		return d.Describe()
	}
	return SourceInfo{Kind: "broker", Connected: true}
}
