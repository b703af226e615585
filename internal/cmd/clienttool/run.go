package clienttool

// What pub, sub and rr share when they run: the client's Options from the
// configuration, libmosquitto's debug lines (-d), and the messages
// Mosquitto prints when it cannot connect.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// Exit statuses libmosquitto's errors give (MOSQ_ERR_*).
const (
	exitConnLost = 7  // MOSQ_ERR_CONN_LOST
	exitTLS      = 8  // MOSQ_ERR_TLS
	exitTimeout  = 27 // MOSQ_ERR_TIMEOUT
	exitSignal   = 130
)

// gateTimeout bounds the wait at session.gate.
const gateTimeout = 10 * time.Second

// session is one run of pub, sub or rr.
type session struct {
	cfg  *clientConfig
	st   base.Streams
	tap  *propTap // nil before MQTT 5
	name string   // mosquitto_pub, ... for messages

	outMu     sync.Mutex          // serializes writes to st.Out, and guards the fields below
	displayID string              // the client id debug lines show
	mid       uint16              // libmosquitto's last message id
	order     []packet.PropertyID // the wire order of the properties of the PUBLISH being received
	// done is set when the tool has finished with the connection (rr has
	// its response): libmosquitto closes its socket then and reads nothing
	// more, so packets received after it are neither shown nor handled.
	done bool
	// onPacket is the tool's part of the OnPacket hook, called with outMu
	// held after the debug line, so that what it prints stays in order.
	onPacket func(dir client.Direction, p packet.Packet)

	// gate, while set, holds back received packets other than CONNACK until
	// it is closed, for what libmosquitto sends before it reads the next
	// packet: SUBSCRIBE and every UNSUBSCRIBE, the PUBLISH clearing a
	// retained message. -d shows them in that order.
	gateMu sync.Mutex
	gate   chan struct{} // guarded by gateMu
}

// shut makes received packets wait until open is called.
func (s *session) shut() {
	s.gateMu.Lock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
	s.gateMu.Unlock()
}

// open lets received packets through again.
func (s *session) open() {
	s.gateMu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.gateMu.Unlock()
}

func newSession(cfg *clientConfig, st base.Streams) *session {
	s := &session{cfg: cfg, st: st, name: cfg.tool.mosquittoName()}
	if cfg.protocol == 5 {
		s.tap = &propTap{}
	}
	return s
}

// printParseError prints what Mosquitto prints for a refused command line
// and returns the exit status. prog names the program in the hint.
func printParseError(prog string, t tool, err error, st base.Streams) int {
	var ce *cmdError
	switch {
	case errors.Is(err, errHelp):
		io.WriteString(st.Out, usageText(t, prog))
	case errors.Is(err, errShowVersion):
		io.WriteString(st.Out, versionLine(t, prog))
	case errors.As(err, &ce):
		io.WriteString(st.Err, ce.text)
		if ce.hint {
			fmt.Fprintf(st.Err, "\nUse '%s --help' to see usage.\n", prog)
		}
		if ce.usage {
			io.WriteString(st.Out, usageText(t, prog))
		}
	default:
		fmt.Fprintf(st.Err, "Error: %v\n", err)
	}
	return 1
}

// clientID returns the identifier to connect with (client_id_generate and
// libmosquitto's default): -i, -I with the process id, a random "mosq-"
// identifier for MQTT 3.1, which needs one, and otherwise none, for the
// server to assign.
func (c *clientConfig) clientID() string {
	switch {
	case c.idPrefix != nil:
		return *c.idPrefix + strconv.Itoa(os.Getpid())
	case c.id != nil:
		return *c.id
	case c.protocol == 3:
		const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		b := []byte("mosq-")
		for range 18 {
			b = append(b, alnum[rand.IntN(len(alnum))])
		}
		return string(b)
	}
	return ""
}

// validID reports whether mosquitto_new accepts the client id: not empty
// if given, and given if the session is to be kept.
func (c *clientConfig) validID(id string) bool {
	if c.id != nil && *c.id == "" {
		return false
	}
	return c.cleanSession || id != ""
}

// options builds the client's Options. It returns a message Mosquitto
// prints (client_opts_set) when the configuration cannot be used.
func (s *session) options(id string) (client.Options, string) {
	c := s.cfg
	o := client.Options{
		ProtocolVersion: c.protocol,
		ClientID:        id,
		CleanStart:      c.cleanSession,
		KeepAlive:       time.Duration(c.keepalive) * time.Second,
		MaxInflight:     c.maxInflight,
		OnPacket:        s.hook,
	}
	if c.willTopic != nil {
		if c.protocol != 5 && len(c.props[propWill]) > 0 {
			return o, "Error: Problem setting will.\n"
		}
		w := &packet.Will{Topic: *c.willTopic, QoS: byte(c.willQoS), Retain: c.willRetain}
		if c.willPayload != nil {
			w.Payload = []byte(*c.willPayload)
		}
		if c.protocol == 5 {
			w.Properties = c.props[propWill].properties()
		}
		o.Will = w
	}
	if c.username != nil || c.password != nil {
		if c.protocol != 5 && c.password != nil && c.username == nil {
			return o, "Error: Problem setting username and/or password.\n"
		}
		if c.username != nil {
			o.Username = *c.username
		}
		if c.password != nil {
			o.Password = []byte(*c.password)
		}
	}
	if c.protocol == 5 {
		o.Properties = c.props[propConnect].properties()
		if !c.props[propConnect].has(packet.PropReceiveMaximum) {
			// libmosquitto always announces its Receive Maximum: 20, or
			// fewer with -C so that no more messages are sent than wanted.
			rm := 20
			if c.msgCount > 0 && c.msgCount < 20 {
				rm = c.msgCount
			}
			o.Properties.SetUint(packet.PropReceiveMaximum, uint32(rm))
		}
	}
	tlsConf, msg := c.tlsConfig()
	if msg != "" {
		return o, msg
	}
	o.TLS = tlsConf
	port := c.port
	if port == portUndefined {
		port = 1883
		if c.cafile != nil || c.capath != nil || c.psk != nil {
			port = 8883
		}
	}
	host := *c.host
	switch {
	case port == 0:
		o.Address = "unix:" + host
	case c.websocket && tlsConf != nil:
		o.Address = "wss://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/mqtt"
	case c.websocket:
		o.Address = "ws://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/mqtt"
	case tlsConf != nil:
		o.Address = "tls://" + net.JoinHostPort(host, strconv.Itoa(port))
	default:
		o.Address = "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
	}
	base := o
	o.Dial = func(ctx context.Context) (net.Conn, error) {
		d := &net.Dialer{}
		if c.bindAddress != nil && port != 0 {
			addr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(*c.bindAddress, "0"))
			if err != nil {
				return nil, err
			}
			d.LocalAddr = addr
		}
		if tlsConf == nil {
			return s.dialNetwork(ctx, base, d)
		}
		// libmosquitto loads certificates once the TCP connection is up,
		// so an unreachable server is reported before a bad CA file.
		if c.websocket {
			if err := c.loadTLS(tlsConf); err != nil {
				return nil, err
			}
			return s.dialNetwork(ctx, base, d)
		}
		plain := base
		plain.TLS = nil
		plain.Address = "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
		nc, err := client.DialNetwork(ctx, plain, d)
		if err != nil {
			return nil, err
		}
		if err := c.loadTLS(tlsConf); err != nil {
			nc.Close()
			return nil, err
		}
		conf := tlsConf.Clone()
		if conf.ServerName == "" {
			conf.ServerName = host
		}
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			tc.Close()
			return nil, err
		}
		if s.tap != nil {
			return s.tap.conn(tc), nil
		}
		return tc, nil
	}
	return o, ""
}

// dialNetwork opens the connection, through the property tap for MQTT 5.
func (s *session) dialNetwork(ctx context.Context, o client.Options, d *net.Dialer) (net.Conn, error) {
	nc, err := client.DialNetwork(ctx, o, d)
	if err != nil || s.tap == nil {
		return nc, err
	}
	return s.tap.conn(nc), nil
}

// connectFailed prints what Mosquitto prints when it cannot reach the
// server, and returns the exit status.
func (s *session) connectFailed(err error) int {
	var setup *tlsSetupError
	if errors.As(err, &setup) && s.cfg.debug {
		s.write([]byte(setup.debug))
	}
	msg, code := connectFailure(err)
	s.errorf("%s", msg)
	return code
}

// connectFailure returns what Mosquitto prints when it cannot reach the
// server (client_connect and the loop), and the exit status.
func connectFailure(err error) (string, int) {
	var dnsErr *net.DNSError
	var errno syscall.Errno
	var addrErr *net.AddrError
	var setup *tlsSetupError
	switch {
	case errors.As(err, &setup):
		return "Unable to connect (A TLS error occurred.).\n", 1
	case isVerifyError(err):
		// libmosquitto reports a certificate it does not trust either way,
		// depending on whether the handshake finished inside
		// mosquitto_connect; against a local server it mostly does.
		return "Unable to connect (A TLS error occurred.).\n", 1
	case isTLSError(err):
		return "Error: A TLS error occurred.\n", exitTLS
	case errors.As(err, &dnsErr), errors.As(err, &addrErr):
		return "Unable to connect (Lookup error.).\n", 1
	case errors.As(err, &errno):
		return "Error: " + base.Strerror(errno) + "\n", 1
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "Error: Connection timed out\n", 1
	}
	return "Error: The connection was lost.\n", exitConnLost
}

// reasonString is mosquitto_reason_string.
func reasonString(code packet.ReasonCode) string {
	switch code {
	case 0:
		return "Success"
	case 1:
		return "Granted QoS 1"
	case 2:
		return "Granted QoS 2"
	case 4:
		return "Disconnect with Will Message"
	case 16:
		return "No matching subscribers"
	case 17:
		return "No subscription existed"
	case 24:
		return "Continue authentication"
	case 25:
		return "Re-authenticate"
	case 128:
		return "Unspecified error"
	case 129:
		return "Malformed Packet"
	case 130:
		return "Protocol Error"
	case 131:
		return "Implementation specific error"
	case 132:
		return "Unsupported Protocol Version"
	case 133:
		return "Client Identifier not valid"
	case 134:
		return "Bad User Name or Password"
	case 135:
		return "Not authorized"
	case 136:
		return "Server unavailable"
	case 137:
		return "Server busy"
	case 138:
		return "Banned"
	case 139:
		return "Server shutting down"
	case 140:
		return "Bad authentication method"
	case 141:
		return "Keep Alive timeout"
	case 142:
		return "Session taken over"
	case 143:
		return "Topic Filter invalid"
	case 144:
		return "Topic Name invalid"
	case 145:
		return "Packet Identifier in use"
	case 146:
		return "Packet Identifier not found"
	case 147:
		return "Receive Maximum exceeded"
	case 148:
		return "Topic Alias invalid"
	case 149:
		return "Packet too large"
	case 150:
		return "Message rate too high"
	case 151:
		return "Quota exceeded"
	case 152:
		return "Administrative action"
	case 153:
		return "Payload format invalid"
	case 154:
		return "Retain not supported"
	case 155:
		return "QoS not supported"
	case 156:
		return "Use another server"
	case 157:
		return "Server moved"
	case 158:
		return "Shared Subscriptions not supported"
	case 159:
		return "Connection rate exceeded"
	case 160:
		return "Maximum connect time"
	case 161:
		return "Subscription identifiers not supported"
	case 162:
		return "Wildcard Subscriptions not supported"
	}
	return "Unknown reason"
}

// connackText is what the tools print for a refusing CONNACK: the MQTT 5
// reason (mosquitto_reason_string) or the 3.1.1 return code
// (mosquitto_connack_string).
func (c *clientConfig) connackText(code packet.ReasonCode) string {
	if c.protocol == 5 {
		if code == packet.UnsupportedProtocolVersion {
			return "Connection error: " + reasonString(code) + ". Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.\n"
		}
		return "Connection error: " + reasonString(code) + "\n"
	}
	return "Connection error: " + client.ReturnCodeText(code) + "\n"
}

// display returns the client id as "Client %s" shows it.
func display(id string) string {
	if id == "" {
		return "(null)"
	}
	return id
}

// hook is the client's OnPacket: the debug lines, then the tool's part.
func (s *session) hook(dir client.Direction, p packet.Packet) {
	if dir == client.Received && p.Type() != packet.TypeConnack {
		s.gateMu.Lock()
		gate := s.gate
		s.gateMu.Unlock()
		if gate != nil {
			// Safe to wait here: received packets reach the hook from the
			// reader with no lock of the client's held.
			t := time.NewTimer(gateTimeout)
			select {
			case <-gate:
			case <-t.C:
			}
			t.Stop()
		}
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if dir == client.Received && s.done {
		return
	}
	if dir == client.Received {
		switch p := p.(type) {
		case *packet.Connack:
			if s.cfg.protocol == 5 && p.Properties.Has(packet.PropAssignedClientID) {
				s.displayID = display(p.Properties.AssignedClientID)
			}
		case *packet.Publish:
			if s.tap != nil {
				s.order = s.tap.next() // taken for every PUBLISH, to stay in step
			}
		}
	}
	if dir == client.Sent {
		switch p := p.(type) {
		case *packet.Publish:
			if p.QoS > 0 {
				s.mid = p.PacketID
			} else if !p.Dup {
				s.mid++
				if s.mid == 0 {
					s.mid = 1
				}
			}
		case *packet.Subscribe:
			s.mid = p.PacketID
		case *packet.Unsubscribe:
			s.mid = p.PacketID
		}
	}
	if s.cfg.debug {
		var b bytes.Buffer
		s.debugLine(&b, dir, p)
		s.st.Out.Write(b.Bytes())
	}
	if s.onPacket != nil {
		s.onPacket(dir, p)
	}
}

// debugLine writes libmosquitto's log lines for a packet. s.outMu is held.
func (s *session) debugLine(b *bytes.Buffer, dir client.Direction, p packet.Packet) {
	id := s.displayID
	if dir == client.Sent {
		switch p := p.(type) {
		case *packet.Connect:
			fmt.Fprintf(b, "Client %s sending CONNECT\n", id)
		case *packet.Publish:
			mid := int(p.PacketID)
			if p.QoS == 0 {
				mid = int(s.mid)
			}
			topic := p.Topic
			if topic == "" {
				topic = "(null)"
			}
			fmt.Fprintf(b, "Client %s sending PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))\n",
				id, b2i(p.Dup), p.QoS, b2i(p.Retain), mid, topic, len(p.Payload))
		case *packet.Ack:
			switch p.Kind {
			case packet.TypePuback:
				fmt.Fprintf(b, "Client %s sending PUBACK (m%d, rc%d)\n", id, p.PacketID, p.ReasonCode)
			case packet.TypePubrec:
				fmt.Fprintf(b, "Client %s sending PUBREC (m%d, rc%d)\n", id, p.PacketID, p.ReasonCode)
			case packet.TypePubrel:
				fmt.Fprintf(b, "Client %s sending PUBREL (m%d)\n", id, p.PacketID)
			case packet.TypePubcomp:
				fmt.Fprintf(b, "Client %s sending PUBCOMP (m%d)\n", id, p.PacketID)
			}
		case *packet.Subscribe:
			for _, sub := range p.Subscriptions {
				var opts byte
				if s.cfg.protocol == 5 {
					opts = subOptions(sub)
				}
				fmt.Fprintf(b, "Client %s sending SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d, Options: 0x%02x)\n",
					id, p.PacketID, sub.Filter, sub.QoS, opts)
			}
		case *packet.Unsubscribe:
			for _, f := range p.Filters {
				fmt.Fprintf(b, "Client %s sending UNSUBSCRIBE (Mid: %d, Topic: %s)\n", id, p.PacketID, f)
			}
		case *packet.Pingreq:
			fmt.Fprintf(b, "Client %s sending PINGREQ\n", id)
		case *packet.Disconnect:
			fmt.Fprintf(b, "Client %s sending DISCONNECT\n", id)
		}
		return
	}
	switch p := p.(type) {
	case *packet.Connack:
		fmt.Fprintf(b, "Client %s received CONNACK (%d)\n", id, p.ReasonCode)
	case *packet.Publish:
		fmt.Fprintf(b, "Client %s received PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))\n",
			id, b2i(p.Dup), p.QoS, b2i(p.Retain), p.PacketID, p.Topic, len(p.Payload))
	case *packet.Ack:
		switch p.Kind {
		case packet.TypePuback, packet.TypePubcomp:
			fmt.Fprintf(b, "Client %s received %v (Mid: %d, RC:%d)\n", id, p.Kind, p.PacketID, p.ReasonCode)
		case packet.TypePubrec:
			fmt.Fprintf(b, "Client %s received PUBREC (Mid: %d)\n", id, p.PacketID)
		case packet.TypePubrel:
			fmt.Fprintf(b, "Client %s received PUBREL (Mid: %d)\n", id, p.PacketID)
		}
	case *packet.Suback:
		fmt.Fprintf(b, "Client %s received SUBACK\n", id)
	case *packet.Unsuback:
		fmt.Fprintf(b, "Client %s received UNSUBACK\n", id)
	case *packet.Pingresp:
		fmt.Fprintf(b, "Client %s received PINGRESP\n", id)
	case *packet.Disconnect:
		fmt.Fprintf(b, "Received DISCONNECT (%d)\n", p.ReasonCode)
	case *packet.Auth:
		fmt.Fprintf(b, "Client %s received AUTH\n", id)
	}
}

// subOptions is the options byte of a subscription without its QoS.
func subOptions(s packet.Subscription) byte {
	var o byte
	if s.NoLocal {
		o |= subOptNoLocal
	}
	if s.RetainAsPublished {
		o |= subOptRetainAsPublished
	}
	return o | s.RetainHandling<<4
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// write prints to stdout; s.outMu must not be held.
func (s *session) write(b []byte) {
	s.outMu.Lock()
	s.st.Out.Write(b)
	s.outMu.Unlock()
}

// errorf prints an error unless --quiet (err_printf).
func (s *session) errorf(format string, args ...any) {
	s.cfg.quietf(s.st.Err, format, args...)
}

// prepare makes the client's Options and the client id, printing what
// Mosquitto prints if they cannot be made. invalidID is the tool's message
// for a client id mosquitto_new refuses. ok is false if the tool must exit
// with status 1.
func (s *session) prepare(invalidID string) (client.Options, bool) {
	id := s.cfg.clientID()
	if !s.cfg.validID(id) {
		s.errorf("%s", invalidID)
		return client.Options{}, false
	}
	s.displayID = display(id)
	o, msg := s.options(id)
	if msg != "" {
		s.errorf("%s", msg)
		return o, false
	}
	if s.cfg.protocol != 5 && len(s.cfg.props[propConnect]) > 0 {
		s.errorf("Unable to connect (This feature is not supported.).\n")
		return o, false
	}
	if msg := s.cfg.unsupported(); msg != "" {
		s.errorf("%s", msg)
		return o, false
	}
	return o, true
}

// unsupported returns the message for options midge accepts, as Mosquitto
// does, but cannot carry out.
func (c *clientConfig) unsupported() string {
	switch {
	case c.psk != nil:
		return "Error: TLS-PSK is not supported by midge (Go's TLS has no PSK).\n"
	case c.proxy != nil:
		return "Error: SOCKS5 proxies are not supported by midge.\n"
	case c.tlsEngine != nil || c.keyform != nil && *c.keyform == "engine":
		return "Error: OpenSSL engines are not supported by midge.\n"
	}
	return ""
}

// parseToolArgs parses a tool's command line with the options file found
// through env, and makes the tool's own checks.
func parseToolArgs(t tool, args []string, env getenv) (*clientConfig, error) {
	cfg, err := parseClientArgs(t, args, env)
	if err != nil {
		return nil, err
	}
	if t == toolSub {
		if err := cfg.checkSub(); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// Pub is the pub command.
func Pub(ctx context.Context, prog string, args []string, st base.Streams) int {
	return runClientTool(ctx, toolPub, prog, args, st, os.LookupEnv)
}

// Sub is the sub command.
func Sub(ctx context.Context, prog string, args []string, st base.Streams) int {
	return runClientTool(ctx, toolSub, prog, args, st, os.LookupEnv)
}

// RR is the rr command.
func RR(ctx context.Context, prog string, args []string, st base.Streams) int {
	return runClientTool(ctx, toolRR, prog, args, st, os.LookupEnv)
}

// runClientTool runs pub, sub or rr with args (without the program name);
// prog names the program in messages, env finds the options file.
func runClientTool(ctx context.Context, t tool, prog string, args []string, st base.Streams, env getenv) int {
	cfg, err := parseToolArgs(t, args, env)
	if err != nil {
		return printParseError(prog, t, err, st)
	}
	switch t {
	case toolPub:
		return pubRun(ctx, prog, cfg, st)
	case toolSub:
		return subRun(ctx, cfg, st)
	}
	return rrRun(ctx, prog, cfg, st)
}
