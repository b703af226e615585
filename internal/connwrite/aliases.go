package connwrite

import "github.com/midge-mqtt/midge/packet"

// Aliases are the topic aliases a sender assigns to the topics it sends on
// one connection, within the Topic Alias Maximum the receiver announced:
// the broker's to a client (from its CONNECT), a bridge's to its remote
// broker (from the CONNACK). A topic gets the next free alias the first
// time it is sent; after that only the alias is sent (5.0 §3.3.2.3.4).
// Aliases are never reassigned. It belongs to the goroutine that sends.
type Aliases struct {
	Max uint16 // the receiver's Topic Alias Maximum, 0 for none
	m   map[string]uint16
}

// Apply gives p a topic alias if the receiver allows them, and empties its
// topic if the alias was sent before.
func (a *Aliases) Apply(p *packet.Publish) {
	if a.Max == 0 {
		return
	}
	if n, ok := a.m[p.Topic]; ok {
		p.Properties.SetUint(packet.PropTopicAlias, uint32(n))
		p.Topic = ""
		return
	}
	if len(a.m) < int(a.Max) {
		if a.m == nil {
			a.m = make(map[string]uint16)
		}
		n := uint16(len(a.m) + 1)
		a.m[p.Topic] = n
		p.Properties.SetUint(packet.PropTopicAlias, uint32(n))
	}
}
