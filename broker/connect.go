package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/midge-mqtt/midge/internal/connwrite"
	"github.com/midge-mqtt/midge/internal/pubcodec"
	"github.com/midge-mqtt/midge/packet"
)

// handleConnect processes the CONNECT (or its decoding error) and reports
// whether the connection was accepted.
func (c *conn) handleConnect(ctx context.Context, cp *packet.Connect, decodeErr error) bool {
	c.srv.stats.ConnectsReceived.Add(1)
	if decodeErr != nil {
		c.refuseDecode(cp, decodeErr)
		return false
	}
	o := c.srv.opt()
	v := cp.ProtocolVersion
	c.version = v
	c.bridge = cp.Bridge && v != packet.Version5
	c.maxQoS, c.aliasMaxIn = c.ln.maxQoS(o), c.ln.maxTopicAlias(o)
	c.r.Version = v
	props := &cp.Properties
	if !c.ln.accepts(v) {
		return c.refuse(packet.UnsupportedProtocolVersion, fmt.Sprintf("protocol version %d not accepted on this listener", v))
	}

	id := cp.ClientID
	assigned := false
	if id == "" {
		switch {
		case v == packet.Version31:
			return c.refuse(packet.ClientIdentifierNotValid, "empty client identifier in MQTT 3.1")
		case v == packet.Version311 && !cp.CleanStart:
			return c.refuse(packet.ClientIdentifierNotValid, "empty client identifier without clean session") // [MQTT-3.1.3-8] (3.1.1)
		case c.ln.denyEmptyID(o):
			code := packet.ClientIdentifierNotValid
			if v == packet.Version5 {
				code = packet.UnspecifiedError // as Mosquitto answers (0x85 would do as well)
			}
			return c.refuse(code, "empty client identifier refused")
		}
		id = c.ln.autoIDPrefix(o) + newUUID()
		assigned = true
	}
	*c.client = Client{
		// An empty user name counts as none, as Mosquitto reads it.
		ID: id, Username: cp.Username, HasUsername: cp.HasUsername && cp.Username != "",
		Remote: c.remote(), Listener: c.ln.name, Version: v,
		CommonName: c.certIdentity(false),
	}

	keepAlive := int(cp.KeepAlive)
	serverKeepAlive := -1
	if maxKA := o.maxKeepalive; maxKA < 65535 && (keepAlive > maxKA || keepAlive == 0) {
		if v != packet.Version5 {
			// Mosquitto refuses 3.1.1 clients it cannot tell its limit to.
			return c.refuse(packet.ClientIdentifierNotValid, fmt.Sprintf("keep alive %d exceeds max_keepalive %d", keepAlive, maxKA))
		}
		keepAlive, serverKeepAlive = maxKA, maxKA
	}
	if keepAlive > 0 {
		c.keepAlive = time.Duration(keepAlive) * 1500 * time.Millisecond // [MQTT-3.1.2-22]
	} else if tc, ok := c.nc.(*net.TCPConn); ok {
		// Without a keep alive only TCP can tell that the peer is gone.
		tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true})
	}

	if v == packet.Version5 && props.Has(packet.PropAuthMethod) {
		// Enhanced authentication is not supported [MQTT-3.2.2-? (4.12)].
		return c.refuse(packet.BadAuthenticationMethod, "unsupported authentication method "+props.AuthMethod)
	}
	if lc := &c.ln.cfg; lc.UseIdentityAsUsername || lc.UseSubjectAsUsername {
		// The certificate is the credential: no password check.
		name := c.certIdentity(lc.UseSubjectAsUsername)
		if name == "" {
			return c.refuse(packet.BadUserNameOrPassword, "no client certificate identity")
		}
		c.client.Username, c.client.HasUsername = name, true
	} else {
		ok, err := c.ln.security(c.srv).authenticate(ctx, c.client, cp.Password, cp.HasPassword, c.ln.allowAnonymous(c.srv))
		switch {
		case err != nil:
			c.srv.log.Error("authentication failed", "client_id", id, "err", err)
			return c.refuse(packet.ServerUnavailable, "authentication error")
		case !ok && !c.client.HasUsername:
			return c.refuse(packet.NotAuthorized, "anonymous clients not allowed")
		case !ok:
			// 0x87 as Mosquitto answers: the data is not malformed, the
			// client is just not allowed in (0x86 is for malformed data).
			return c.refuse(packet.NotAuthorized, "bad user name or password")
		}
	}

	if c.ln.cfg.UseUsernameAsClientID {
		if !c.client.HasUsername {
			return c.refuse(packet.NotAuthorized, "use_username_as_clientid without a user name")
		}
		c.client.ID, assigned = c.client.Username, false
		id = c.client.ID
	}

	var will *Message
	var willDelay uint32
	if w := cp.Will; w != nil {
		// Whether the client may publish to the will topic is asked when
		// the will is due (publishWill), as Mosquitto 2.0 does.
		topicName := c.mount + w.Topic
		if lim := o.messageSizeLimit; lim > 0 && len(w.Payload) > lim {
			// Refused as Mosquitto refuses it: 0x95, and in 3.1.1 return
			// code 5 (not authorized).
			code := packet.PacketTooLarge
			if v != packet.Version5 {
				code = packet.ConnackV3NotAuthorized
			}
			return c.refuseWith(&packet.Connack{ReasonCode: code}, "will larger than message_size_limit")
		}
		qos := w.QoS
		if qos > c.maxQoS {
			if v == packet.Version5 {
				// [MQTT-3.2.2-12]; with Maximum QoS, as Mosquitto sends it.
				ack := &packet.Connack{ReasonCode: packet.QoSNotSupported}
				ack.Properties.SetUint(packet.PropMaximumQoS, uint32(c.maxQoS))
				return c.refuseWith(ack, "will QoS above max_qos")
			}
			// 3.1.1 has no code for it: closed without CONNACK, as
			// Mosquitto does.
			c.closeReason = "will QoS above max_qos"
			return false
		}
		retain := w.Retain
		if retain && o.RetainUnavailable {
			if v == packet.Version5 {
				return c.refuse(packet.RetainNotSupported, "will retain not supported") // [MQTT-3.2.2-13]
			}
			retain = false
		}
		now := c.srv.now()
		will = &Message{Topic: topicName, Payload: w.Payload, QoS: qos, Retain: retain,
			Publisher: id, Received: now}
		if v == packet.Version5 {
			will.Properties = pubcodec.Forwarded(&w.Properties)
			if w.Properties.Has(packet.PropMessageExpiry) {
				will.Expiry = now.Add(time.Duration(w.Properties.MessageExpiry) * time.Second)
			}
			willDelay = w.Properties.WillDelay
		}
	}

	c.receiveMax = 65535
	if props.Has(packet.PropReceiveMaximum) {
		c.receiveMax = props.ReceiveMaximum
	}
	if props.Has(packet.PropMaximumPacketSize) {
		c.maxOut = int(props.MaximumPacketSize)
	}
	c.aliasOut.Max = uint16(min(int(props.TopicAliasMaximum), c.ln.maxTopicAliasOut(o)))
	c.problemInfo = !props.Has(packet.PropRequestProblemInfo) || props.RequestProblemInfo == 1

	expiry := uint32(0)
	switch {
	case v == packet.Version5:
		expiry = props.SessionExpiry
	case !cp.CleanStart:
		expiry = neverExpires
	}

	ack := &packet.Connack{}
	if v == packet.Version5 {
		ap := &ack.Properties
		lim := o
		if lim.maxInflight > 0 && lim.maxInflight < 65535 {
			ap.SetUint(packet.PropReceiveMaximum, uint32(lim.maxInflight))
		}
		if c.maxQoS < 2 {
			ap.SetUint(packet.PropMaximumQoS, uint32(c.maxQoS))
		}
		if o.RetainUnavailable {
			ap.SetUint(packet.PropRetainAvailable, 0)
		}
		if lim.maxPacketSize < 268435460 {
			ap.SetUint(packet.PropMaximumPacketSize, uint32(lim.maxPacketSize))
		}
		if assigned {
			ap.SetString(packet.PropAssignedClientID, id) // [MQTT-3.2.2-16]
		}
		if c.aliasMaxIn > 0 {
			ap.SetUint(packet.PropTopicAliasMaximum, uint32(c.aliasMaxIn))
		}
		if serverKeepAlive >= 0 {
			ap.SetUint(packet.PropServerKeepAlive, uint32(serverKeepAlive)) // [MQTT-3.2.2-21]
		}
	}
	if admit := c.srv.cfg.Admit; admit != nil && c.ln.ln != nil { // not DialLocal's
		if err := admit(ctx, c.client); err != nil {
			return c.refuse(packet.ServerUnavailable, err.Error())
		}
	}
	c.connectedAt = c.srv.now().UnixNano()
	// Mosquitto logs the new client before it sends the CONNACK: attach
	// logs it just before it lets the writer write.
	logConnected := func() {
		if o.QuietConnections {
			return
		}
		user := ""
		if c.client.HasUsername {
			user = fmt.Sprintf(", u'%s'", c.client.Username) // the certificate's with use_identity_as_username
		}
		pv := int(v) // the protocol level, as Mosquitto 2.1 logs it (2.0 logged 1, 2, 5)
		clean := 0
		if cp.CleanStart {
			clean = 1
		}
		kind := "client"
		if c.bridge {
			kind = "bridge" // as Mosquitto logs a v3.x bridge
		}
		c.srv.log.Info(fmt.Sprintf("New %s connected from %s as %s (p%d, c%d, k%d%s).", kind, c.remoteAddr(), id, pv, clean, keepAlive, user),
			"client_id", id)
	}
	if err := c.srv.attach(c, cp.CleanStart, expiry, will, willDelay, ack, logConnected); err != nil {
		if errors.Is(err, errSessionLimit) {
			if f := c.srv.cfg.OnDisconnect; f != nil {
				f(c.client, false)
			}
			if v == packet.Version5 {
				return c.refuse(packet.ServerBusy, "server busy: "+err.Error())
			}
			// Mosquitto 2.1 closes an MQTT 3.x connection without a CONNACK.
			c.closeReason = err.Error()
			if !o.QuietConnections {
				c.srv.log.Info(fmt.Sprintf("Client %s disconnected, %s.", id, err.Error()))
			}
			return false
		}
		c.closeReason = "persistence failed: " + err.Error()
		return false
	}
	c.logTLS(id)
	return true
}

// refuseDecode answers a CONNECT that could not be decoded.
func (c *conn) refuseDecode(cp *packet.Connect, err error) {
	var pe *packet.Error
	errors.As(err, &pe)
	c.closeReason = "bad CONNECT: " + err.Error()
	if !errors.Is(err, packet.ErrUnsupportedVersion) {
		c.logUnknown(err)
	}
	if cp == nil {
		return
	}
	if errors.Is(err, packet.ErrUnsupportedVersion) { // level 0 included
		if cp.ProtocolName == "MQTT" || cp.ProtocolName == "MQIsdp" {
			// [MQTT-3.1.2-2]: CONNACK 0x01, in the 3.1.1 form every client
			// version reads, then close. A wrong protocol name is just
			// closed [MQTT-3.1.2-1].
			c.srv.log.Info(fmt.Sprintf("Invalid protocol version %d in CONNECT from %s.", cp.ProtocolVersion, c.remoteAddr()))
			c.writeNow(&packet.Connack{ReasonCode: packet.ConnackV3UnacceptableProtocolVersion}, packet.Version311)
		} else {
			c.srv.log.Info(fmt.Sprintf("Invalid protocol %q in CONNECT from %s.", cp.ProtocolName, c.remoteAddr()))
		}
		return
	}
	// Any other malformed CONNECT is closed without CONNACK, in MQTT 5 as
	// well: Mosquitto does so, and [MQTT-4.13.1-1] lets the server close
	// without answering before CONNACK.
}

// refuse sends a CONNACK refusing the connection with code (translated for
// 3.1/3.1.1 clients) and reports false.
func (c *conn) refuse(code packet.ReasonCode, why string) bool {
	rc := code
	if c.version != packet.Version5 {
		rc = packet.ConnackV3(code)
	}
	return c.refuseWith(&packet.Connack{ReasonCode: rc}, why)
}

// refuseWith is refuse with the CONNACK ack (its reason code already in
// the form of c's version).
func (c *conn) refuseWith(ack *packet.Connack, why string) bool {
	c.closeReason = why
	if !c.srv.opt().QuietConnections {
		id := c.client.ID
		if id == "" {
			id = "<unknown>"
		}
		c.srv.log.Info(fmt.Sprintf("Client %s disconnected, %s.", id, why))
	}
	c.writeNow(ack, c.version)
	return false
}

// writeNow writes p synchronously; only for use before the session is
// attached, when no writer goroutine can run.
func (c *conn) writeNow(p packet.Packet, v byte) {
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.opt().writeTimeout))
	if err := connwrite.WriteNow(c.nc, p, v, &c.srv.stats.Out, &c.srv.stats.BytesOut); err != nil {
		c.srv.log.Error("encoding failed", "packet", p.Type(), "err", err)
	}
}

// newUUID returns a random (version 4) UUID in its lower-case text form, as
// Mosquitto's auto_id_prefix identifiers use.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
