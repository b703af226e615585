package proxyproto

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Policy is how a listener reads and checks the PROXY headers of its
// connections (Mosquitto's enable_proxy_protocol and its options).
type Policy struct {
	Version            int           // 1 or 2
	RequireTLS         bool          // version 2: the client must have used TLS
	RequireCertificate bool          // the client must have given a verified certificate
	Timeout            time.Duration // the header must arrive within it
	Quiet              bool          // do not log connections that end early
	Log                *slog.Logger
	Count              func(n int) // counts the bytes read; may be nil
}

// Accept reads the PROXY header of p.Version from raw within p.Timeout
// (leaving that read deadline set) and checks it against p. If it is not
// acceptable it logs why, as Mosquitto 2.1 does, and returns an error.
func (p *Policy) Accept(raw net.Conn) (*Header, error) {
	raw.SetReadDeadline(time.Now().Add(p.Timeout))
	var r io.Reader = raw
	if p.Count != nil {
		r = countingReader{raw, p.Count}
	}
	h, err := Read(r, p.Version)
	if err != nil {
		switch {
		case errors.Is(err, ErrMalformed):
			// As Mosquitto logs it (src/proxy_v1.c, proxy_v2.c).
			p.Log.Info("Connection rejected, corrupt PROXY header.", "from", raw.RemoteAddr().String(), "err", err)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrDeadlineExceeded):
			if !p.Quiet {
				p.Log.Info(fmt.Sprintf("Connection from %s closed before its PROXY header.", raw.RemoteAddr()), "err", err)
			}
		default:
			if !p.Quiet {
				p.Log.Info(fmt.Sprintf("Connection from %s failed reading its PROXY header: %v.", raw.RemoteAddr(), err))
			}
		}
		return nil, err
	}
	from := raw.RemoteAddr()
	if !h.Local {
		from = h.Source
	}
	switch {
	case p.Version == 2 && p.RequireTLS && !h.TLS.SSL():
		p.Log.Info(fmt.Sprintf("Connection from %s rejected, client did not connect using TLS.", from))
		return nil, errors.New("no TLS")
	case p.RequireCertificate && !h.TLS.Certificate():
		p.Log.Info(fmt.Sprintf("Connection from %s rejected, client did not provide a certificate.", from))
		return nil, errors.New("no client certificate")
	}
	if t := h.TLS; t.SSL() && t.Version != "" && t.Cipher != "" {
		p.Log.Info(fmt.Sprintf("Connection from %s negotiated %s cipher %s", from, t.Version, t.Cipher))
	}
	return h, nil
}

// countingReader counts the bytes read.
type countingReader struct {
	r     io.Reader
	count func(int)
}

func (cr countingReader) Read(b []byte) (int, error) {
	n, err := cr.r.Read(b)
	cr.count(n)
	return n, err
}

// Listener returns a listener whose connections read their PROXY header,
// as the Policy that policy returns then says, before anyone else sees a
// byte: on the first Read or RemoteAddr, in the goroutine that calls it
// (net/http calls RemoteAddr first). Its connections report the header's
// address.
func Listener(ln net.Listener, policy func() *Policy) net.Listener {
	return listener{ln, policy}
}

type listener struct {
	net.Listener
	p func() *Policy
}

func (pl listener) Accept() (net.Conn, error) {
	nc, err := pl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: nc, p: pl.p}, nil
}

// conn is a connection of a Listener.
type conn struct {
	net.Conn
	p      func() *Policy
	once   sync.Once
	remote net.Addr // set by once
	err    error    // set by once: the header was refused
}

func (pc *conn) header() {
	pc.once.Do(func() {
		pc.remote = pc.Conn.RemoteAddr()
		h, err := pc.p().Accept(pc.Conn)
		pc.Conn.SetReadDeadline(time.Time{})
		if err != nil {
			pc.err = err
			pc.Conn.Close()
			return
		}
		if !h.Local {
			pc.remote = h.Source
		}
	})
}

func (pc *conn) Read(b []byte) (int, error) {
	if pc.header(); pc.err != nil {
		return 0, pc.err
	}
	return pc.Conn.Read(b)
}

// RemoteAddr returns the client's address from the header.
func (pc *conn) RemoteAddr() net.Addr {
	pc.header()
	return pc.remote
}
