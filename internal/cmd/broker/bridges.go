package broker

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
)

// bridgeRun runs the configured bridges.
type bridgeRun struct {
	mu      sync.Mutex // guards running, srv, log, sysStop, sysLast
	running map[string]*runningBridge
	srv     *broker.Server
	log     *slog.Logger
	sysStop chan struct{}     // closed to stop the $SYS publisher
	sysLast map[string]string // the $SYS values last published, by topic
}

// runningBridge is one bridge and how to stop it.
type runningBridge struct {
	b      *bridge.Bridge
	cancel context.CancelFunc
	done   chan struct{}
}

// start starts a bridge for each configuration.
func (r *bridgeRun) start(srv *broker.Server, cfgs []config.Bridge, log *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.srv, r.log = srv, log
	r.running = map[string]*runningBridge{}
	for _, c := range cfgs {
		r.startLocked(c.Config)
	}
}

// startSys publishes the bridges' $SYS topics every interval until stop.
func (r *bridgeRun) startSys(interval time.Duration) {
	if interval <= 0 {
		return
	}
	r.mu.Lock()
	stop := make(chan struct{})
	r.sysStop = stop
	r.mu.Unlock()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			r.publishSys()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
}

// sysValues returns each bridge's $SYS topics and values:
// $SYS/broker/bridges/NAME/state, address, last_error and
// messages/{queued,sent,received,dropped}.
func sysValues(bs []*bridge.Bridge) map[string]string {
	out := map[string]string{}
	for _, b := range bs {
		st := b.Status()
		p := "$SYS/broker/bridges/" + st.Name + "/"
		out[p+"state"] = st.State.String()
		out[p+"address"] = st.Address
		out[p+"last_error"] = st.LastError
		out[p+"messages/queued"] = strconv.Itoa(st.Queued)
		out[p+"messages/sent"] = strconv.FormatUint(st.Sent, 10)
		out[p+"messages/received"] = strconv.FormatUint(st.Received, 10)
		out[p+"messages/dropped"] = strconv.FormatUint(st.Dropped, 10)
	}
	return out
}

// publishSys publishes, retained, the $SYS values that changed.
func (r *bridgeRun) publishSys() {
	vals := sysValues(r.list())
	r.mu.Lock()
	srv := r.srv
	if r.sysLast == nil {
		r.sysLast = map[string]string{}
	}
	var changed []string
	for k, v := range vals {
		if old, ok := r.sysLast[k]; !ok || old != v {
			r.sysLast[k] = v
			changed = append(changed, k)
		}
	}
	r.mu.Unlock()
	if srv == nil {
		return
	}
	for _, k := range changed {
		srv.PublishSystem(context.Background(), &broker.Message{Topic: k, Payload: []byte(vals[k]), Retain: true})
	}
}

// startLocked starts one bridge. r.mu must be held.
func (r *bridgeRun) startLocked(cfg bridge.Config) {
	b, err := bridge.New(cfg, r.srv, r.log)
	if err != nil {
		r.log.Error("Error: " + err.Error())
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	if err := b.Prime(pctx); err != nil {
		r.log.Error("Error: bridge " + cfg.Name + ": subscribing its local side: " + err.Error())
	}
	pcancel()
	rb := &runningBridge{b: b, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rb.done)
		b.Run(ctx)
	}()
	r.running[cfg.Name] = rb
}

// stopOne stops rb and waits for it, at most d.
func stopOne(rb *runningBridge, d time.Duration) {
	rb.cancel()
	select {
	case <-rb.done:
	case <-time.After(d):
	}
}

// list returns the running bridges, for the $SYS tree, the metrics and
// the HTTP API.
func (r *bridgeRun) list() []*bridge.Bridge {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*bridge.Bridge, 0, len(r.running))
	for _, rb := range r.running {
		out = append(out, rb.b)
	}
	return out
}

// statuses returns the bridges' statuses, sorted by name, for the web
// server.
func (r *bridgeRun) statuses() []bridge.Status {
	bs := r.list()
	out := make([]bridge.Status, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.Status())
	}
	slices.SortFunc(out, func(a, b bridge.Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// reload applies a new configuration's bridges (SIGHUP): bridges no longer
// configured are stopped, new ones started; a changed bridge is restarted
// now with bridge_reload_type immediate, or takes its new configuration at
// its next connection with lazy.
func (r *bridgeRun) reload(cfgs []config.Bridge) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv == nil {
		return
	}
	want := map[string]bridge.Config{}
	for _, c := range cfgs {
		want[c.Config.Name] = c.Config
	}
	for name, rb := range r.running {
		if _, ok := want[name]; !ok {
			r.log.Info("Bridge " + name + " removed from the configuration: stopping it.")
			stopOne(rb, 10*time.Second)
			delete(r.running, name)
		}
	}
	for _, c := range cfgs {
		cfg := c.Config
		rb, ok := r.running[cfg.Name]
		switch {
		case !ok:
			r.log.Info("Bridge " + cfg.Name + " added to the configuration: starting it.")
			r.startLocked(cfg)
		case reflect.DeepEqual(rb.b.Config(), cfg):
		case cfg.ReloadImmediate:
			r.log.Info("Bridge " + cfg.Name + " changed: restarting it (bridge_reload_type immediate).")
			stopOne(rb, 10*time.Second)
			r.startLocked(cfg)
		default:
			r.log.Info("Bridge " + cfg.Name + " changed: the new configuration applies at its next connection.")
			rb.b.Update(cfg)
		}
	}
}

// stop stops every bridge: each says goodbye to its remote.
func (r *bridgeRun) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sysStop != nil {
		close(r.sysStop)
		r.sysStop = nil
	}
	var wg sync.WaitGroup
	for _, rb := range r.running {
		wg.Add(1)
		go func() { defer wg.Done(); stopOne(rb, 5*time.Second) }()
	}
	wg.Wait()
	r.running = nil
}

// sysInterval is Config.SysInterval with its default: 10s when zero,
// negative (off) as it is.
func sysInterval(d time.Duration) time.Duration {
	if d == 0 {
		return 10 * time.Second
	}
	return d
}
