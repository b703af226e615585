package broker

import (
	"strconv"
	"time"
)

// Version is the broker version published in $SYS/broker/version.
const Version = "0.1.0"

// sysLoop publishes the $SYS/broker tree every sys_interval until stop is
// closed.
func (srv *Server) sysLoop(stop chan struct{}) {
	defer srv.wg.Done()
	last := make(map[string]string)
	srv.publishSys(last)
	t := time.NewTicker(srv.lim.sysInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			srv.publishSys(last)
		}
	}
}

// SysValues returns the current $SYS/broker values by topic, as published.
func (srv *Server) SysValues() map[string]string {
	st := &srv.stats
	srv.mu.Lock()
	total := len(srv.sessions)
	srv.mu.Unlock()
	connected := st.connected.Load()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return map[string]string{
		"$SYS/broker/version":                   "midge version " + Version,
		"$SYS/broker/uptime":                    i(int64(srv.now().Sub(srv.started)/time.Second)) + " seconds",
		"$SYS/broker/clients/connected":         i(connected),
		"$SYS/broker/clients/active":            i(connected),
		"$SYS/broker/clients/total":             i(int64(total)),
		"$SYS/broker/clients/disconnected":      i(max(int64(total)-connected, 0)),
		"$SYS/broker/clients/inactive":          i(max(int64(total)-connected, 0)),
		"$SYS/broker/clients/maximum":           i(st.maxConnected.Load()),
		"$SYS/broker/messages/received":         u(st.msgsIn.Load()),
		"$SYS/broker/messages/sent":             u(st.msgsOut.Load()),
		"$SYS/broker/bytes/received":            u(st.bytesIn.Load()),
		"$SYS/broker/bytes/sent":                u(st.bytesOut.Load()),
		"$SYS/broker/publish/messages/received": u(st.pubIn.Load()),
		"$SYS/broker/publish/messages/sent":     u(st.pubOut.Load()),
		"$SYS/broker/publish/messages/dropped":  u(st.dropped.Load()),
		"$SYS/broker/subscriptions/count":       i(int64(srv.index.Len())),
		"$SYS/broker/retained messages/count":   i(int64(srv.retained.Len())),
	}
}

// publishSys publishes the $SYS values that changed since last (uptime
// always), as retained messages.
func (srv *Server) publishSys(last map[string]string) {
	now := srv.now()
	for name, v := range srv.SysValues() {
		if last[name] == v {
			continue
		}
		last[name] = v
		srv.publish(&Message{Topic: name, Payload: []byte(v), Retain: true, Received: now}, nil)
	}
}
