package subdump

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Sub is one client's subscription.
type Sub struct {
	ClientID, Filter string
	QoS              byte
}

// Retained is a retained message's topic and payload size.
type Retained struct {
	Topic string
	Bytes int
}

// Write writes subs sorted by client and filter, then retained sorted by
// topic, to w:
//
//	CLIENT_ID QOS FILTER
//	retained TOPIC (N bytes)
//
// It sorts the slices in place.
func Write(w io.Writer, subs []Sub, retained []Retained) error {
	slices.SortFunc(subs, func(a, b Sub) int {
		return cmp.Or(strings.Compare(a.ClientID, b.ClientID), strings.Compare(a.Filter, b.Filter))
	})
	slices.SortFunc(retained, func(a, b Retained) int { return strings.Compare(a.Topic, b.Topic) })
	var b strings.Builder
	for _, r := range subs {
		fmt.Fprintf(&b, "%s %d %s\n", r.ClientID, r.QoS, r.Filter)
	}
	for _, r := range retained {
		fmt.Fprintf(&b, "retained %s (%d bytes)\n", r.Topic, r.Bytes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
