package broker

import (
	"time"

	"github.com/midge-mqtt/midge/internal/periodic"
)

// startExpiryLocked starts or stops the scan of expired retained messages
// as Config.RetainExpiryInterval says, once the server serves. srv.mu must
// be held.
func (srv *Server) startExpiryLocked() {
	srv.switchLoopLocked(srv.opt().RetainExpiryInterval > 0, &srv.expStop, srv.expireLoop)
}

// expireLoop frees expired retained messages every RetainExpiryInterval
// until stop is closed.
func (srv *Server) expireLoop(stop chan struct{}) {
	defer srv.wg.Done()
	every := srv.opt().RetainExpiryInterval
	periodic.Run(stop, func() time.Duration {
		if d := srv.opt().RetainExpiryInterval; d > 0 {
			every = d // perhaps changed by Reload
		}
		return every
	}, func() { srv.expireRetained(srv.now()) })
}

// expireRetained removes from memory the retained messages expired at now
// and returns how many. A message published meanwhile on the same topic is
// kept (DeleteIf). The store is left alone: a restart does not restore
// expired messages, and deleting here could race with a new one's write.
func (srv *Server) expireRetained(now time.Time) int {
	n := srv.retained.DeleteFunc(func(m *Message) bool { return m.expired(now) })
	if n > 0 {
		srv.log.Debug("expired retained messages removed", "count", n)
	}
	return n
}
