package client

import "github.com/midge-mqtt/midge/packet"

// Message is an application message: what Publish sends and OnMessage
// receives. It has the fields of packet.Publish, and converts to and from
// it at no cost ((*packet.Publish)(m)):
//
//	Topic      string             the topic name
//	Payload    []byte             the payload
//	QoS        byte               0, 1 or 2
//	Retain     bool               the retain flag
//	Dup        bool               received: the DUP flag (a redelivery); ignored by Publish
//	PacketID   uint16             received: the packet identifier (QoS 1, 2); ignored by Publish
//	Properties packet.Properties  MQTT 5: Payload Format Indicator, Message Expiry Interval,
//	                              Content Type, Response Topic, Correlation Data,
//	                              User Property, Topic Alias, Subscription Identifiers (received)
//
// A received message has its full topic even when the server sent only a
// Topic Alias, and no Topic Alias property: aliases are a matter of the
// connection (OnPacket sees them), so a received Message can be published
// again as it is (its Subscription Identifiers are not sent). For Publish, an MQTT 5
// Topic Alias in Properties is sent as it is: with a Topic, it sets the
// alias for this connection; with an empty Topic, it uses the alias set
// before (the client re-sends the full topic when it must retransmit the
// message on a new connection). Properties are ignored before MQTT 5.
type Message packet.Publish
