package testutil

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// MosquittoPath is Debian's Mosquitto, the broker midge's bytes are compared
// with.
const MosquittoPath = "/usr/sbin/mosquitto"

// Step is one step of a raw-packet script run against a broker.
type Step struct {
	Conn int    // connection index; the first step naming an index dials it
	Send []byte // written as they are (nil: nothing)
	Read int    // then read this many packets from Conn
	// Close: then read until the broker closes Conn (recording every packet
	// and whether it closed within Timeout).
	Close bool
	// Quiet: then record whatever Conn receives for this long.
	Quiet time.Duration
	// Hangup: finally close Conn from the client's side, without
	// DISCONNECT.
	Hangup bool
}

// Transcript is what each step received, one line per packet (hex of its
// bytes, fixed header included) or event ("closed", "timeout", "open").
type Transcript []string

// String returns the transcript one line each.
func (tr Transcript) String() string { return strings.Join(tr, "\n") }

// Pkt encodes p for protocol version v, failing the test on error.
func Pkt(t testing.TB, v byte, p packet.Packet) []byte {
	t.Helper()
	b, err := packet.Append(nil, p, v)
	if err != nil {
		t.Fatalf("encode %v: %v", p.Type(), err)
	}
	return b
}

// Hex decodes s (spaces allowed), failing the test on error.
func Hex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// Run runs script against the broker at addr and returns what it received.
// Each Read waits at most Timeout for its packets.
func Run(t testing.TB, addr string, script []Step) Transcript {
	t.Helper()
	conns := map[int]*rawConn{}
	defer func() {
		for _, c := range conns {
			c.nc.Close()
		}
	}()
	var tr Transcript
	for i, s := range script {
		c := conns[s.Conn]
		if c == nil {
			nc, err := net.DialTimeout("tcp", addr, Timeout)
			if err != nil {
				t.Fatalf("step %d: dial %s: %v", i, addr, err)
			}
			c = &rawConn{nc: nc}
			conns[s.Conn] = c
		}
		if len(s.Send) > 0 {
			nc := c.nc
			nc.SetWriteDeadline(time.Now().Add(Timeout))
			if _, err := nc.Write(s.Send); err != nil {
				tr = append(tr, fmt.Sprintf("%d: write failed", s.Conn))
			}
		}
		for n := 0; n < s.Read; n++ {
			p, ev := c.read(Timeout)
			if ev != "" {
				tr = append(tr, fmt.Sprintf("%d: %s", s.Conn, ev))
				break
			}
			tr = append(tr, fmt.Sprintf("%d< %x", s.Conn, p))
		}
		if (s.Close || s.Quiet > 0) && !c.closed {
			d := s.Quiet
			if s.Close {
				d = Timeout
			}
			deadline := time.Now().Add(d)
			for {
				p, ev := c.read(time.Until(deadline))
				if ev == "timeout" && !s.Close {
					break
				}
				if ev == "timeout" {
					ev = "open"
				}
				if ev != "" {
					tr = append(tr, fmt.Sprintf("%d: %s", s.Conn, ev))
					break
				}
				tr = append(tr, fmt.Sprintf("%d< %x", s.Conn, p))
			}
		}
		if s.Hangup {
			c.nc.Close()
			c.closed = true
		}
	}
	return tr
}

// rawConn reads whole packets without decoding them.
type rawConn struct {
	nc     net.Conn
	closed bool
}

// read returns the next packet's bytes, or an event: "closed" or "timeout".
func (c *rawConn) read(d time.Duration) ([]byte, string) {
	if c.closed {
		return nil, "closed"
	}
	if d <= 0 {
		return nil, "timeout"
	}
	c.nc.SetReadDeadline(time.Now().Add(d))
	p, err := ReadPacketBytes(c.nc)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && len(p) == 0 {
			return nil, "timeout"
		}
		c.closed = true
		return nil, "closed"
	}
	return p, ""
}

// ReadPacketBytes reads one whole MQTT packet from r, fixed header
// included, without decoding it. On an error it returns what it read of
// the packet.
func ReadPacketBytes(r io.Reader) ([]byte, error) {
	p := make([]byte, 1, 5)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, err
	}
	n, mul := 0, 1
	for range 4 { // the Remaining Length takes 1 to 4 bytes
		var one [1]byte
		if _, err := io.ReadFull(r, one[:]); err != nil {
			return p, err
		}
		p = append(p, one[0])
		n += int(one[0]&0x7f) * mul
		mul *= 128
		if one[0] < 0x80 {
			break
		}
	}
	body := make([]byte, n)
	if k, err := io.ReadFull(r, body); err != nil {
		return append(p, body[:k]...), err
	}
	return append(p, body...), nil
}

// StartMosquitto runs MosquittoPath on a free port of 127.0.0.1 with the
// configuration lines conf (after a listener line; anonymous clients are
// admitted unless conf says allow_anonymous), waits until it accepts
// connections and stops it when the test ends. It fails the test if
// Mosquitto is not installed.
func StartMosquitto(t testing.TB, conf ...string) string {
	t.Helper()
	if _, err := os.Stat(MosquittoPath); err != nil {
		t.Fatalf("%s is required (apt-get install mosquitto): %v", MosquittoPath, err)
	}
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_, port, _ := net.SplitHostPort(addr)
		ln.Close()
		path := filepath.Join(t.TempDir(), "mosquitto.conf")
		text := strings.Join(append([]string{"listener " + port + " 127.0.0.1"}, WithAnonymous(conf)...), "\n") + "\n"
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(MosquittoPath, "-c", path)
		var out LockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting mosquitto: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			if t.Failed() && out.Len() > 0 {
				t.Logf("mosquitto output:\n%s", out.String())
			}
		})
		// Wait until this process listens on the port. A dial alone could
		// reach another test's Mosquitto that was given the same free port
		// meanwhile, while this one exits with "Address already in use".
		deadline := time.Now().Add(Timeout)
		for {
			ok, err := Listens(cmd.Process.Pid, port)
			if ok {
				return addr
			}
			select {
			case <-exited:
				if attempt < 3 && strings.Contains(out.String(), "in use") {
					break
				}
				t.Fatalf("mosquitto exited: %s", out.String())
			default:
				if time.Now().After(deadline) {
					t.Fatalf("mosquitto not accepting on %s: %v\n%s", addr, err, out.String())
				}
				time.Sleep(5 * time.Millisecond) // polling interval, not a wait for a condition
				continue
			}
			break
		}
	}
}

// WithAnonymous adds allow_anonymous true unless conf sets it, as
// StartMosquitto does to its configuration lines.
func WithAnonymous(conf []string) []string {
	for _, l := range conf {
		if strings.HasPrefix(strings.TrimSpace(l), "allow_anonymous") {
			return conf
		}
	}
	return append([]string{"allow_anonymous true"}, conf...)
}

// StartBrokerListener is StartBroker with the listener's settings lc (its
// address is ignored: it listens on 127.0.0.1:0).
func StartBrokerListener(t testing.TB, cfg broker.Config, lc broker.Listener) *Broker {
	t.Helper()
	b := StartBroker(t, cfg)
	b.Addr = b.ServeListener(t, lc)
	return b
}

// MosquittoPasswd runs Debian's mosquitto_passwd (NeedTool) with args and
// stdin as its standard input (which ends, so it never waits at a prompt),
// and fails the test if it is missing or fails.
func MosquittoPasswd(t testing.TB, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command(NeedTool(t, "mosquitto_passwd", "mosquitto"), args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd %q: %v\n%s", args, err, out)
	}
}
