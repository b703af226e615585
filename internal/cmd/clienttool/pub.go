package clienttool

// midge pub: mosquitto_pub (pub_client.c, pub_shared.c).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

// pubRun publishes as cfg says and returns the exit status; prog names
// the program in the usage text.
func pubRun(ctx context.Context, prog string, cfg *clientConfig, st base.Streams) int {
	s := newSession(cfg, st)
	if st.In == nil {
		s.st.In = eofReader{}
	}
	if !s.loadMessage(cfg, s.st.In) {
		return 1
	}
	if cfg.topic == nil || cfg.pubMode == msgNone {
		fmt.Fprintf(st.Err, "Error: Both topic and message must be supplied.\n")
		io.WriteString(st.Out, usageText(toolPub, prog))
		return 1
	}
	opts, ok := s.prepare("Error: Invalid id.\n")
	if !ok {
		return 1
	}
	p := &pubSession{s: s, cfg: cfg}
	s.onPacket = p.onPacket
	if cfg.pubMode == msgStdinLine {
		// libmosquitto's threaded loop reconnects while lines are read.
		opts.Reconnect = &client.Reconnect{MinDelay: time.Second, MaxDelay: time.Second}
	}
	cl, _, err := client.Dial(ctx, opts)
	if err != nil {
		return p.dialFailed(ctx, err)
	}
	code := p.run(ctx, cl)
	if code == exitSignal {
		cl.Close()
	}
	return code
}

// eofReader is an empty standard input.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// loadFile reads -f's file as load_file does, or returns the message for
// loadMessage reads the message of -s (all of in) or -f (a file) into
// cfg.message as pub_shared.c's load_stdin and load_file do; it returns
// false when it cannot, after saying why.
func (s *session) loadMessage(cfg *clientConfig, in io.Reader) bool {
	switch cfg.pubMode {
	case msgStdinFile:
		data, err := io.ReadAll(in)
		switch {
		case err != nil:
			s.errorf("Error loading input from stdin.\n")
			return false
		case len(data) > maxPayload:
			s.errorf("Error: Message length must be less than %d bytes.\n\n", maxPayload)
			s.errorf("Error loading input from stdin.\n")
			return false
		case len(data) == 0:
			s.errorf("Error: Zero length input.\n")
			s.errorf("Error loading input from stdin.\n")
			return false
		}
		cfg.message = data
	case msgFile:
		data, msg := loadFile(cfg.fileInput)
		if msg != "" {
			s.errorf("%s", msg)
			s.errorf("Error loading input file \"%s\".\n", cfg.fileInput)
			return false
		}
		cfg.message = data
	}
	return true
}

// why it cannot.
func loadFile(name string) ([]byte, string) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Sprintf("Error: Unable to open file \"%s\".\n", name)
	}
	defer f.Close()
	tooLarge := fmt.Sprintf("Error: File must be less than %d bytes.\n\n", maxPayload)
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, tooLarge // ftell gives LONG_MAX for a directory
	}
	size, err := f.Seek(0, io.SeekEnd)
	switch {
	case err != nil:
		return nil, fmt.Sprintf("Error: Unable to determine size of file \"%s\".\n", name)
	case size > maxPayload:
		return nil, tooLarge
	case size == 0:
		return nil, ""
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Sprintf("Error: Unable to determine size of file \"%s\".\n", name)
	}
	data := make([]byte, size)
	n, _ := io.ReadFull(f, data)
	return data[:n], ""
}

// pubSession is one run of pub once connected.
type pubSession struct {
	s   *session
	cfg *clientConfig

	mu        sync.Mutex
	failedMid uint16 // guarded by mu: the packet id of the last refusing acknowledgement
}

// onPacket notes the packet id of acknowledgements that refuse a publish,
// for the warning. s.outMu is held.
func (p *pubSession) onPacket(dir client.Direction, pk packet.Packet) {
	if a, ok := pk.(*packet.Ack); ok && dir == client.Received && a.ReasonCode.IsError() {
		p.mu.Lock()
		p.failedMid = a.PacketID
		p.mu.Unlock()
	}
}

// dialFailed prints why the connection failed and returns the status.
func (p *pubSession) dialFailed(ctx context.Context, err error) int {
	var ce *client.ConnectError
	switch {
	case errors.As(err, &ce):
		p.s.errorf("%s", p.cfg.connackText(ce.Code))
		if p.cfg.protocol == 5 {
			p.s.errorf("Error: A network protocol error occurred when communicating with the broker.\n")
		} else {
			p.s.errorf("Error: The connection was refused.\n")
		}
		return int(ce.Code)
	case ctx.Err() != nil:
		return exitSignal
	}
	return p.s.connectFailed(err)
}

// message returns the message to publish; first says whether it is the
// first publish, which carries the topic even with a topic alias.
func (p *pubSession) message(payload []byte, first bool) *client.Message {
	c := p.cfg
	m := &client.Message{Topic: *c.topic, Payload: payload, QoS: byte(c.qos), Retain: c.retain}
	if c.protocol == 5 {
		m.Properties = c.props[propPublish].properties()
		if c.haveTopicAlias && !first {
			m.Topic = ""
		}
	}
	return m
}

// check returns the message mosquitto_publish's refusal makes pub print
// ("" for a silent one), or ok.
func (p *pubSession) check(m *client.Message) (msg string, ok bool) {
	c := p.cfg
	if c.protocol != 5 && len(c.props[propPublish]) > 0 {
		return "", false // MOSQ_ERR_NOT_SUPPORTED: not reported
	}
	if m.Topic == "" && !(c.protocol == 5 && c.haveTopicAlias) {
		return "Error: Invalid input. Does your topic contain '+' or '#'?\n", false
	}
	return "", true
}

// publishError prints what pub prints when publishing fails.
func (p *pubSession) publishError(err error, repeat bool) {
	if errors.Is(err, client.ErrNotSupported) {
		var re *client.ReasonError
		if !errors.As(err, &re) && p.cfg.qos > 0 {
			if repeat {
				p.s.errorf("Error sending repeat publish: %s", "Requested QoS not supported on server.")
			} else {
				p.s.errorf("Error: Message QoS not supported on broker, try a lower QoS.\n")
			}
		}
	}
}

// warn prints the warning for a publish the server refused (MQTT 5).
func (p *pubSession) warn(err error) {
	var re *client.ReasonError
	if !errors.As(err, &re) {
		return
	}
	p.mu.Lock()
	mid := p.failedMid
	p.mu.Unlock()
	p.s.errorf("Warning: Publish %d failed: %s.\n", mid, reasonString(re.Code))
	if re.Properties.Has(packet.PropReasonString) {
		p.s.errorf("%s\n", re.Properties.ReasonString)
	}
}

// lost reports whether err is the connection ending, and prints it.
func (p *pubSession) lost(err error) bool {
	if errors.Is(err, client.ErrConnectionLost) || errors.Is(err, client.ErrClosed) {
		p.s.errorf("Error: The connection was lost.\n")
		return true
	}
	return false
}

// run publishes and disconnects, and returns the exit status.
func (p *pubSession) run(ctx context.Context, cl *client.Client) int {
	c := p.cfg
	if c.pubMode == msgStdinLine {
		if code := p.lines(ctx, cl); code != 0 {
			return code
		}
	} else {
		var payload []byte
		if c.pubMode != msgNull {
			payload = c.message
		}
		for i := 0; i < c.repeatCount; i++ {
			if i > 0 && c.repeatDelay > 0 {
				t := time.NewTimer(c.repeatDelay)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return exitSignal
				}
			}
			m := p.message(payload, i == 0)
			if msg, ok := p.check(m); !ok {
				if msg != "" {
					p.s.errorf("%s", msg)
				}
				break
			}
			err := cl.Publish(ctx, m)
			if err != nil {
				if ctx.Err() != nil {
					return exitSignal
				}
				if p.lost(err) {
					return exitConnLost
				}
				var re *client.ReasonError
				if errors.As(err, &re) {
					p.warn(err)
					continue
				}
				p.publishError(err, i > 0)
				break
			}
		}
	}
	return p.disconnect(ctx, cl)
}

// disconnect sends DISCONNECT with -D disconnect's properties.
func (p *pubSession) disconnect(ctx context.Context, cl *client.Client) int {
	props := p.cfg.props[propDisconnect].properties()
	if err := cl.Disconnect(ctx, 0, &props); err != nil {
		if ctx.Err() != nil {
			return exitSignal
		}
		if !errors.Is(err, client.ErrClosed) {
			p.s.errorf("Error: The connection was lost.\n")
			return exitConnLost
		}
	}
	return 0
}

// lines publishes each line of standard input (-l) as it is read, keeping
// up to the in-flight window of QoS 1 and 2 messages outstanding, and waits
// for them all.
func (p *pubSession) lines(ctx context.Context, cl *client.Client) int {
	type line struct {
		b   []byte
		err error
	}
	in := make(chan line, 64) // read ahead, as fgets on a buffered stdin does
	go func() {
		send := func(l line) bool {
			select {
			case in <- l:
				return true
			case <-ctx.Done():
				return false
			}
		}
		r := bufio.NewReaderSize(p.s.st.In, 64<<10)
		for {
			b, err := r.ReadBytes('\n')
			if len(b) > 0 && b[len(b)-1] == '\n' {
				b = b[:len(b)-1]
			} else if len(b) == 0 && err != nil {
				send(line{err: err})
				return
			}
			if !send(line{b: b}) {
				return
			}
			if err != nil {
				send(line{err: err})
				return
			}
		}
	}()
	var wg sync.WaitGroup
	first := true
	for {
		var l line
		select {
		case l = <-in:
		case <-ctx.Done():
			return exitSignal
		}
		if l.err != nil {
			break
		}
		m := p.message(l.b, first)
		first = false
		if msg, ok := p.check(m); !ok {
			if msg != "" {
				p.s.errorf("%s", msg)
			}
			return p.disconnect(ctx, cl)
		}
		wg.Add(1)
		err := cl.PublishAsync(ctx, m, func(err error) {
			if err != nil {
				p.warn(err)
			}
			wg.Done()
		})
		if err != nil {
			wg.Done()
			if ctx.Err() != nil {
				return exitSignal
			}
			if p.lost(err) {
				return exitConnLost
			}
			p.publishError(err, false)
			return p.disconnect(ctx, cl)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return exitSignal
	}
	return 0
}
