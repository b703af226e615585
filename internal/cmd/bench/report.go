package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/topic"
	"golang.org/x/term"
)

// report is the outcome of one midge bench run: printed as text, or
// as JSON with --json. Latencies are in milliseconds, rates per second.
type report struct {
	Mode        string  `json:"mode"`
	Target      string  `json:"target"`
	SubTarget   string  `json:"sub_target,omitempty"` // pubsub --sub-L: the subscribers' broker
	Engine      string  `json:"engine"`
	Protocol    string  `json:"protocol"`
	QoS         int     `json:"qos"`
	PayloadSize int     `json:"payload_bytes"`
	Publishers  int     `json:"publishers"`
	Subscribers int     `json:"subscribers"`
	Connections int     `json:"connections,omitempty"`
	Inflight    int     `json:"inflight,omitempty"`
	MaxLag      int     `json:"maxlag,omitempty"`
	TargetRate  float64 `json:"target_rate,omitempty"` // msg/s over all publishers
	Seconds     float64 `json:"seconds"`               // the measured phase
	TimedOut    bool    `json:"timed_out,omitempty"`
	Stalled     bool    `json:"stalled,omitempty"`
	Interrupted bool    `json:"interrupted,omitempty"`

	Connect connectReport  `json:"connect"`
	Publish *publishReport `json:"publish,omitempty"`
	Receive *receiveReport `json:"receive,omitempty"`
	Broker  *brokerReport  `json:"broker,omitempty"`
	ToolCPU float64        `json:"tool_cpu_cores"` // -1: not measured

	// Figures are the named results of the queue, storm and filters modes.
	Figures map[string]float64 `json:"figures,omitempty"`

	Errors      int      `json:"errors"`
	FirstErrors []string `json:"first_errors,omitempty"`
}

// received is r's receive report, nil if r or it is nil.
func (r *report) received() *receiveReport {
	if r == nil {
		return nil
	}
	return r.Receive
}

// latencyReport summarizes a histogram, in milliseconds.
type latencyReport struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

type connectReport struct {
	Attempted   int            `json:"attempted"`
	Connected   int            `json:"connected"`
	Failed      int            `json:"failed"`
	Seconds     float64        `json:"seconds"`
	Rate        float64        `json:"per_second"`
	Handshake   *latencyReport `json:"handshake,omitempty"`
	Alive       int            `json:"alive,omitempty"` // conn: still open after --hold
	FirstErrors []string       `json:"first_errors,omitempty"`
}

type publishReport struct {
	Sent       int64          `json:"sent"`
	Unsent     int64          `json:"unsent,omitempty"` // of --count, when the run ended first
	Acked      int64          `json:"acknowledged"`
	Rejected   int64          `json:"rejected,omitempty"`
	Unexpected int64          `json:"unexpected_acks,omitempty"`
	Seconds    float64        `json:"seconds"`
	Rate       float64        `json:"per_second"`
	AckLatency *latencyReport `json:"ack_latency,omitempty"`
}

type receiveReport struct {
	Expected   int64          `json:"expected,omitempty"` // pubsub: first deliveries of what was sent
	Received   int64          `json:"received"`           // first deliveries
	Packets    int64          `json:"packets"`            // PUBLISH packets, duplicates and foreign ones included
	Lost       int64          `json:"lost"`               // pubsub: expected - received; sub: gaps in the sequences
	Dup        int64          `json:"duplicates"`
	OutOfOrder int64          `json:"out_of_order"`
	Foreign    int64          `json:"foreign,omitempty"`    // not from this run (pubsub) or not from midge bench
	Unexpected int64          `json:"unexpected,omitempty"` // pubsub: from a publisher whose topic the filter does not match, or a bad stamp
	Seconds    float64        `json:"seconds"`
	Rate       float64        `json:"per_second"`
	Latency    *latencyReport `json:"latency,omitempty"`
	Reconnects int            `json:"reconnects,omitempty"`
}

type brokerReport struct {
	PID          int     `json:"pid"`
	CPUCores     float64 `json:"cpu_cores"`
	CPUMicros    float64 `json:"cpu_us_per_msg,omitempty"`  // per delivery (sub, pubsub) or publish (pub)
	CPUPerConn   float64 `json:"cpu_us_per_conn,omitempty"` // conn
	RSSBefore    float64 `json:"rss_before_mb"`
	RSSAfter     float64 `json:"rss_after_mb"`
	PeakRSS      float64 `json:"peak_rss_mb"`
	BytesPerConn float64 `json:"bytes_per_conn,omitempty"` // conn: RSS growth per connection
	FDs          int     `json:"fds_added,omitempty"`      // conn
}

func newReport(o *options, pubs, subs int) *report {
	rep := &report{
		Mode:        o.mode,
		Target:      o.target.url,
		Engine:      o.engine,
		Protocol:    versionName(o.version),
		QoS:         o.qos,
		PayloadSize: o.size,
		Publishers:  pubs,
		Subscribers: subs,
		ToolCPU:     -1,
	}
	if o.subTarget != nil {
		rep.SubTarget = o.subTarget.url
	}
	if o.mode == "conn" {
		rep.Connections = o.clients
		rep.QoS, rep.PayloadSize = 0, 0
		return rep
	}
	if o.qos > 0 && pubs > 0 {
		rep.Inflight = o.inflight
	}
	if o.mode == "pubsub" {
		rep.MaxLag = o.maxLag
	}
	switch {
	case o.rate > 0:
		rep.TargetRate = o.rate
	case o.clientRate > 0:
		rep.TargetRate = o.clientRate * float64(pubs)
	}
	return rep
}

func latencyOf(h *hist) *latencyReport {
	if h.count() == 0 {
		return nil
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return &latencyReport{
		Count: h.count(),
		Mean:  h.mean() / 1e6,
		P50:   ms(h.quantile(0.5)),
		P90:   ms(h.quantile(0.9)),
		P99:   ms(h.quantile(0.99)),
		P999:  ms(h.quantile(0.999)),
		Max:   ms(h.max),
	}
}

// setConnect fills in the connection set-up of n clients.
func (rep *report) setConnect(cs *connStats, n int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := &rep.Connect
	c.Attempted, c.Connected, c.Failed = n, cs.ok, cs.fail
	c.Seconds = float64(cs.t1-cs.t0) / 1e9
	if c.Seconds > 0 {
		c.Rate = float64(cs.ok) / c.Seconds
	}
	c.Handshake = latencyOf(&cs.h)
	c.FirstErrors = cs.errs.list()
}

// fill completes the report of a message run.
func (r *msgRun) fill(rep *report, m measurement) {
	o := r.o
	wall := float64(m.tEnd-m.t0) / 1e9
	rep.Seconds = wall
	rep.TimedOut, rep.Stalled, rep.Interrupted = m.timedOut, m.stalled, m.interrupted
	if o.mode == "sub" && o.count == 0 {
		rep.TimedOut = false // -d is how such a run ends
	}
	rep.Errors, rep.FirstErrors = r.errs.count(), r.errs.list()
	if m.proc0.self >= 0 && m.proc1.self >= 0 && wall > 0 {
		rep.ToolCPU = (m.proc1.self - m.proc0.self) / wall
	}
	var perMsg int64 // what broker CPU is divided by
	if len(r.pubs) > 0 {
		pr := &publishReport{}
		var lat hist
		for _, p := range r.pubs {
			pr.Sent += p.sentN.Load()
			pr.Unsent += p.count - p.sentN.Load()
			pr.Acked += p.ackedN.Load()
			pr.Rejected += p.rejectedN.Load()
			pr.Unexpected += p.unexpectedN.Load()
			lat.merge(&p.ackLat)
		}
		end := m.tEnd
		if m.pubsEnd > 0 {
			end = m.pubsEnd
		}
		pr.Seconds = float64(end-m.t0) / 1e9
		if pr.Seconds > 0 {
			pr.Rate = float64(pr.Sent) / pr.Seconds
		}
		pr.AckLatency = latencyOf(&lat)
		rep.Publish = pr
		perMsg = pr.Sent
	}
	if len(r.subs) > 0 {
		rr := r.receiveReport(m)
		rep.Receive = rr
		perMsg = rr.Received
	}
	rep.Broker = brokerOf(o.pid, m.proc0, m.proc1, wall)
	if rep.Broker != nil && perMsg > 0 {
		rep.Broker.CPUMicros = (m.proc1.cpu - m.proc0.cpu) * 1e6 / float64(perMsg)
	}
}

// receiveReport adds up what the subscribers saw and checks it against
// what was sent.
func (r *msgRun) receiveReport(m measurement) *receiveReport {
	rr := &receiveReport{}
	var lat hist
	var first, last int64
	for _, s := range r.subs {
		s.mu.Lock()
		rr.Packets += s.packets
		rr.Foreign += s.foreign
		rr.Unexpected += s.bad
		rr.Received += s.unique
		rr.Reconnects += s.reconnects
		lat.merge(&s.lat)
		if s.firstRecv != 0 && (first == 0 || s.firstRecv < first) {
			first = s.firstRecv
		}
		last = max(last, s.lastRecv)
		for _, t := range s.trackMap { // sub: only the gaps can be seen
			rr.Lost += t.gaps()
			rr.Dup += t.dup
			rr.OutOfOrder += t.ooo
		}
		s.mu.Unlock()
	}
	if r.o.mode == "pubsub" {
		rr.Received = 0 // counted per subscriber or share group
		r.checkDeliveries(rr)
	}
	rr.Latency = latencyOf(&lat)
	start := m.t0 // pubsub: from the first publish
	if r.o.mode == "sub" {
		start = first
	}
	if rr.Received > 0 && last > start {
		rr.Seconds = float64(last-start) / 1e9
		rr.Rate = float64(rr.Received) / rr.Seconds
	}
	return rr
}

// checkDeliveries counts, for pubsub, what each subscriber (or share group)
// should have received of what the publishers sent, and what it lacks.
func (r *msgRun) checkDeliveries(rr *receiveReport) {
	type unit struct {
		filter string
		subs   []*subscriber
	}
	var units []*unit
	groups := map[string]*unit{}
	for _, s := range r.subs {
		_, inner, _, _ := topic.ParseShared(s.filter)
		if s.group == "" {
			units = append(units, &unit{filter: inner, subs: []*subscriber{s}})
			continue
		}
		u := groups[s.group]
		if u == nil {
			u = &unit{filter: inner}
			groups[s.group] = u
			units = append(units, u)
		}
		u.subs = append(u.subs, s)
	}
	for _, u := range units {
		for i, p := range r.pubs {
			ts := make([]*seqTrack, len(u.subs))
			for k, s := range u.subs {
				ts[k] = &s.tracks[i]
			}
			t := ts[0]
			if len(ts) > 1 {
				ut := unionTracks(ts)
				t = &ut
			}
			if !topic.Match(u.filter, p.topic) {
				rr.Unexpected += t.unique
				continue
			}
			sent := p.sentN.Load()
			rr.Received += t.unique
			rr.Expected += sent
			rr.Lost += t.lostOf(sent)
			rr.Dup += t.dup
			rr.OutOfOrder += t.ooo
		}
	}
}

// brokerOf turns two samples of the broker process into its report.
func brokerOf(pid int, p0, p1 procSample, wall float64) *brokerReport {
	if pid <= 0 || p0.cpu < 0 || p1.cpu < 0 {
		return nil
	}
	b := &brokerReport{PID: pid, RSSBefore: kbToMB(p0.rss), RSSAfter: kbToMB(p1.rss), PeakRSS: kbToMB(p1.hwm)}
	if wall > 0 {
		b.CPUCores = (p1.cpu - p0.cpu) / wall
	}
	return b
}

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

// write prints the report as text or JSON.
func (rep *report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	var b strings.Builder
	tgt := rep.Target
	if rep.SubTarget != "" {
		tgt = "pub " + rep.Target + " -> sub " + rep.SubTarget
	}
	head := fmt.Sprintf("midge bench %s  %s  MQTT %s", rep.Mode, tgt, rep.Protocol)
	if rep.Mode != "conn" {
		head += fmt.Sprintf("  QoS %d  %d B", rep.QoS, rep.PayloadSize)
	}
	fmt.Fprintf(&b, "%s  (%s engine)\n", head, rep.Engine)
	c := &rep.Connect
	var who string
	switch rep.Mode {
	case "conn":
		who = plural(rep.Connections, "connection")
	case "pub":
		who = plural(rep.Publishers, "publisher")
	case "sub":
		who = plural(rep.Subscribers, "subscriber")
	default:
		who = plural(rep.Publishers, "publisher") + ", " + plural(rep.Subscribers, "subscriber")
	}
	fmt.Fprintf(&b, "  clients     %s: %s connected in %s (%s/s)", who, commas(int64(c.Connected)), secs(c.Seconds), commas(int64(c.Rate)))
	if c.Failed > 0 {
		fmt.Fprintf(&b, ", %s failed", commas(int64(c.Failed)))
	}
	if rep.Mode == "conn" {
		fmt.Fprintf(&b, ", %s alive at the end", commas(int64(c.Alive)))
	}
	b.WriteByte('\n')
	if h := c.Handshake; h != nil {
		fmt.Fprintf(&b, "  handshake   %s\n", latencyLine(h))
	}
	for _, e := range c.FirstErrors {
		fmt.Fprintf(&b, "  connect error: %s\n", e)
	}
	if p := rep.Publish; p != nil {
		fmt.Fprintf(&b, "  published   %s in %s: %s msg/s", commas(p.Sent), secs(p.Seconds), commas(int64(p.Rate)))
		if rep.TargetRate > 0 {
			fmt.Fprintf(&b, " (target %s)", commas(int64(rep.TargetRate)))
		}
		if rep.QoS > 0 {
			fmt.Fprintf(&b, "; acknowledged %s", commas(p.Acked))
		}
		if p.Unsent > 0 {
			fmt.Fprintf(&b, "; %s not sent", commas(p.Unsent))
		}
		if p.Rejected > 0 {
			fmt.Fprintf(&b, "; %s rejected", commas(p.Rejected))
		}
		if p.Unexpected > 0 {
			fmt.Fprintf(&b, "; %s unexpected acknowledgements", commas(p.Unexpected))
		}
		b.WriteByte('\n')
		if rep.Mode == "pub" && p.AckLatency != nil {
			fmt.Fprintf(&b, "  ack time    %s\n", latencyLine(p.AckLatency))
		}
	}
	if r := rep.Receive; r != nil {
		fmt.Fprintf(&b, "  received    %s", commas(r.Received))
		if rep.Mode == "pubsub" {
			fmt.Fprintf(&b, " of %s", commas(r.Expected))
		}
		fmt.Fprintf(&b, " in %s: %s msg/s", secs(r.Seconds), commas(int64(r.Rate)))
		if r.Reconnects > 0 {
			fmt.Fprintf(&b, "; %s reconnections", commas(int64(r.Reconnects)))
		}
		b.WriteByte('\n')
		fmt.Fprintf(&b, "  delivery    lost %s, duplicated %s, out of order %s", commas(r.Lost), commas(r.Dup), commas(r.OutOfOrder))
		if rep.Mode == "sub" {
			b.WriteString(" (lost: gaps in each publisher's sequence)")
		}
		if r.Foreign > 0 {
			fmt.Fprintf(&b, ", foreign %s", commas(r.Foreign))
		}
		if r.Unexpected > 0 {
			fmt.Fprintf(&b, ", unexpected %s", commas(r.Unexpected))
		}
		b.WriteByte('\n')
		if r.Latency != nil {
			fmt.Fprintf(&b, "  latency     %s\n", latencyLine(r.Latency))
		}
	}
	if br := rep.Broker; br != nil {
		fmt.Fprintf(&b, "  broker      pid %d: %.2f cores", br.PID, br.CPUCores)
		if br.CPUMicros > 0 {
			fmt.Fprintf(&b, ", %.2f us/msg", br.CPUMicros)
		}
		if br.CPUPerConn > 0 {
			fmt.Fprintf(&b, ", %.1f us/connection", br.CPUPerConn)
		}
		fmt.Fprintf(&b, "; RSS %.1f MB -> %.1f MB, peak %.1f MB", br.RSSBefore, br.RSSAfter, br.PeakRSS)
		if br.BytesPerConn != 0 {
			fmt.Fprintf(&b, "; %s bytes/connection", commas(int64(br.BytesPerConn)))
		}
		b.WriteByte('\n')
	}
	if rep.ToolCPU >= 0 {
		fmt.Fprintf(&b, "  tool        %.2f cores\n", rep.ToolCPU)
	}
	writeFigures(&b, rep.Figures)
	var notes []string
	if rep.TimedOut {
		notes = append(notes, "the duration (-d) ran out")
	}
	if rep.Stalled {
		notes = append(notes, "stalled: nothing moved for --drain while publishers still had messages")
	}
	if rep.Interrupted {
		notes = append(notes, "interrupted")
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "  note        %s\n", strings.Join(notes, "; "))
	}
	if rep.Errors > 0 {
		fmt.Fprintf(&b, "  errors      %d\n", rep.Errors)
		for _, e := range rep.FirstErrors {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func latencyLine(l *latencyReport) string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%s samples)",
		msStr(l.P50), msStr(l.P90), msStr(l.P99), msStr(l.P999), msStr(l.Max), commas(int64(l.Count)))
}

// msStr prints milliseconds with three significant digits or more.
func msStr(ms float64) string {
	switch {
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 3, 64) + " ms"
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
}

func secs(s float64) string {
	if s < 1 {
		return strconv.FormatFloat(s*1000, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + " s"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return commas(int64(n)) + " " + what + "s"
}

// commas formats n with thousands separators.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// procSample is the CPU time and memory of the broker process (from /proc,
// Linux) and the CPU time of midge bench itself, at one moment; -1 where
// unknown.
type procSample struct {
	cpu      float64 // broker utime+stime, seconds
	rss, hwm int64   // broker VmRSS, VmHWM, kB
	self     float64 // our own CPU time, seconds
}

func sampleProc(pid int) procSample {
	return procSample{cpu: procCPU(pid), rss: procStatusKB(pid, "VmRSS"), hwm: procStatusKB(pid, "VmHWM"), self: selfCPU()}
}

// procCPU returns the utime+stime of pid in seconds, -1 if unknown.
func procCPU(pid int) float64 {
	s, ok := readProc(pid, "stat")
	if !ok {
		return -1
	}
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (ut + st) / 100 // clock ticks; USER_HZ is 100 on Linux
}

// procStatusKB returns a kB field ("VmRSS") of /proc/pid/status, -1 if unknown.
func procStatusKB(pid int, key string) int64 {
	s, ok := readProc(pid, "status")
	if !ok {
		return -1
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// readProc returns the contents of /proc/pid/name, or false if pid is no
// process id (not above 0) or the file cannot be read.
func readProc(pid int, name string) (string, bool) {
	if pid <= 0 {
		return "", false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + name)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// countFDs returns how many descriptors pid has open, -1 if unknown.
func countFDs(pid int) int {
	if pid <= 0 {
		return -1
	}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// progress is the live line on stderr.
type progress struct {
	w                  io.Writer
	t0, last           int64
	lastSent, lastRecv int64
	h                  hist
}

// newProgress returns the progress line's writer, or nil when there is to
// be none: --progress never, or auto and stderr is not a terminal.
func newProgress(o *options, st base.Streams) *progress {
	switch o.progress {
	case "never":
		return nil
	case "auto":
		f, ok := st.Err.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil
		}
	}
	now := benchNow()
	return &progress{w: st.Err, t0: now, last: now}
}

// tick prints the line once a second: totals, rates and latency over the
// last second.
func (pg *progress) tick(r *msgRun, now int64) {
	if now-pg.last < 1e9 {
		return
	}
	dt := float64(now-pg.last) / 1e9
	pg.last = now
	var b strings.Builder
	fmt.Fprintf(&b, "\r%5.1fs", float64(now-pg.t0)/1e9)
	if len(r.pubs) > 0 {
		s := r.sent.Load()
		fmt.Fprintf(&b, "  sent %s (%s/s)", commas(s), commas(int64(float64(s-pg.lastSent)/dt)))
		pg.lastSent = s
	}
	if len(r.subs) > 0 {
		u := r.unique.Load()
		fmt.Fprintf(&b, "  recv %s (%s/s)", commas(u), commas(int64(float64(u-pg.lastRecv)/dt)))
		pg.lastRecv = u
		pg.h.reset()
		for _, s := range r.subs {
			s.liveMu.Lock()
			pg.h.merge(&s.live)
			s.live.reset()
			s.liveMu.Unlock()
		}
		if pg.h.count() > 0 {
			fmt.Fprintf(&b, "  p50 %s  p99 %s", msStr(float64(pg.h.quantile(0.5))/1e6), msStr(float64(pg.h.quantile(0.99))/1e6))
		}
	}
	if n := r.errs.count(); n > 0 {
		fmt.Fprintf(&b, "  errors %d", n)
	}
	b.WriteString("\x1b[K")
	io.WriteString(pg.w, b.String())
}

// line prints a line of its own (conn mode).
func (pg *progress) line(now int64, s string) {
	if now-pg.last < 1e9 {
		return
	}
	pg.last = now
	fmt.Fprintf(pg.w, "\r%5.1fs  %s\x1b[K", float64(now-pg.t0)/1e9, s)
}

// clear removes the line.
func (pg *progress) clear() { io.WriteString(pg.w, "\r\x1b[K") }
