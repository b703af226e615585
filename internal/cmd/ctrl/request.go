package ctrl

// Sending the command and printing the answer (apps/mosquitto_ctrl/client.c):
// connect, subscribe to the response topic, publish the request once the
// subscription is granted, print the first message that arrives, and give
// up silently after 10 seconds.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
	"github.com/midge-mqtt/midge/packet"
)

// responseTimeout is how long mosquitto_ctrl waits for the answer.
const responseTimeout = 10 * time.Second

// requestResponse sends req and prints its answer; it returns the exit
// status.
func requestResponse(ctx context.Context, cfg *config, req *request, p *prompter, st streams) int {
	conn := &cfg.conn
	if conn.CAFile == nil && conn.CAPath == nil && !conn.TLSUseOSCerts && conn.Port != 8883 && conn.PSK == nil {
		fmt.Fprintf(st.Err, "Warning: You are running mosquitto_ctrl without encryption.\nThis means all of the configuration changes you are making are visible on the network, including passwords.\n\n")
	}
	if conn.Username != nil && conn.Password == nil {
		pw, res := p.askPassword("Password for "+*conn.Username+": ", "", false)
		if res != pwOK {
			fmt.Fprintf(st.Err, "Error getting password.\n")
			return 1
		}
		conn.Password = &pw
	}
	if conn.ID != nil && *conn.ID == "" {
		// libmosquitto refuses an empty client id; mosquitto_ctrl goes on
		// without a client, and fails on the credentials, or crashes.
		if conn.Username != nil || conn.Password != nil {
			fmt.Fprintf(st.Err, "Error: Problem setting username and/or password.\n")
		} else {
			fmt.Fprintf(st.Err, "Error: Invalid client id.\n")
		}
		return 1
	}
	opts, msg := conn.ClientOptions(st)
	if msg != "" {
		fmt.Fprint(st.Err, msg)
		return 1
	}
	if !cfg.hostSet {
		fmt.Fprintf(st.Err, "Unable to connect (Invalid function arguments provided.).\n")
		return rcInval
	}
	ctx, cancel := context.WithTimeout(ctx, responseTimeout)
	defer cancel()
	answered := make(chan []byte, 1)
	opts.OnMessage = func(m *client.Message) {
		select {
		case answered <- m.Payload:
		default:
		}
	}
	cl, _, err := client.Dial(ctx, opts)
	if err != nil {
		var ce *client.ConnectError
		if errors.As(err, &ce) {
			fmt.Fprint(st.Err, conn.ConnackText(ce.Code))
			return 0
		}
		return connectFailed(err, st)
	}
	defer cl.Close()
	responseTopic := req.topic + "/response"
	ack, err := cl.Subscribe(ctx, client.Subscription{Filter: responseTopic, QoS: byte(cfg.qos)})
	if err != nil {
		return 0 // lost or timed out: mosquitto_ctrl says nothing
	}
	if len(ack.ReasonCodes) != 1 {
		cl.Disconnect(ctx, 0, nil)
		return 0
	}
	if code := ack.ReasonCodes[0]; code >= 128 {
		if conn.Protocol == 5 {
			fmt.Fprintf(st.Err, "Subscribe error: %s\n", clienttool.ReasonString(code))
		} else {
			fmt.Fprintf(st.Err, "Subscribe error: Subscription refused.\n")
		}
		cl.Disconnect(ctx, 0, nil)
		return 0
	}
	refused := make(chan packet.ReasonCode, 1)
	m := &client.Message{Topic: req.topic, QoS: byte(cfg.qos), Payload: []byte(req.payload)}
	err = cl.PublishAsync(ctx, m, func(err error) {
		var re *client.ReasonError
		if errors.As(err, &re) && re.Code >= 128 {
			refused <- re.Code
		}
	})
	if err != nil {
		return 0
	}
	select {
	case payload := <-answered:
		if r, ok := firstResponse(payload, st); ok {
			req.print(r, st)
		}
		cl.Disconnect(context.Background(), 0, nil)
	case code := <-refused:
		fmt.Fprintf(st.Err, "Publish error: %s\n", clienttool.ReasonString(code))
		cl.Disconnect(context.Background(), 0, nil)
	case <-cl.Done():
		// The connection was lost: mosquitto_ctrl says nothing.
	case <-ctx.Done():
		// No answer in time: nothing printed either.
	}
	return 0
}

// connectFailed prints what mosquitto_ctrl prints when it cannot reach the
// server, and returns its exit status.
func connectFailed(err error, st streams) int {
	var dnsErr *net.DNSError
	var addrErr *net.AddrError
	var errno syscall.Errno
	switch {
	case clienttool.IsTLSSetupError(err), isHandshakeError(err):
		// libmosquitto loads certificates in mosquitto_connect and mostly
		// finishes the handshake there too; when the handshake ends in the
		// loop instead, mosquitto_ctrl says nothing and waits out its 10 s.
		fmt.Fprintf(st.Err, "Unable to connect (A TLS error occurred.).\n")
		return rcTLS
	case errors.As(err, &dnsErr), errors.As(err, &addrErr):
		fmt.Fprintf(st.Err, "Unable to connect (Lookup error.).\n")
		return rcLookup
	case errors.As(err, &errno):
		// 2.1 ends the line with a full stop.
		fmt.Fprintf(st.Err, "Error: %s\n", base.Strerror(errno))
		return rcErrno
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return 0 // no CONNACK in time: nothing printed
	}
	return 0 // lost before the CONNACK: nothing printed
}

// isHandshakeError reports whether err is a failed TLS handshake: a
// certificate not trusted, or an alert or garbage from the server.
func isHandshakeError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) ||
		errors.As(err, &rh) || errors.As(err, &ae) || strings.Contains(err.Error(), "tls: ")
}
