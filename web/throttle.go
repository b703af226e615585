package web

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// throttle slows password guessing down. It counts the failed logins of
// each key (a source address, a user name) and, once a key has had its free
// failures, makes it wait before the next try: firstWait after the next
// failure, twice as long after each further one, up to maxWait. A key's
// failures are forgotten forgetAfter after its last one, and a user's on a
// successful login. Its memory is bounded (maxThrottleKeys).
type throttle struct {
	mu  sync.Mutex         // guards m
	m   map[string]*strike // by key: "addr 192.0.2.1", "user alice"
	now func() time.Time
}

// strike is the failed logins of one key.
type strike struct {
	fails int
	last  time.Time // the last failure
	until time.Time // no try before this
}

const (
	// freeUserFailures and freeAddrFailures are the failures a user name
	// and an address may have before they must wait: an address may be
	// shared by several people (NAT, a proxy).
	freeUserFailures = 5
	freeAddrFailures = 10
	firstWait        = time.Second
	maxWait          = time.Minute
	forgetAfter      = 15 * time.Minute
	maxThrottleKeys  = 10000
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{m: make(map[string]*strike), now: now}
}

// addrKey returns the throttle key of a request's source: its IP address,
// or for IPv6 its /64 network, which one host usually has whole.
func addrKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "addr " + r.RemoteAddr // a unix socket: one key for all
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.To4() == nil {
		return "addr " + ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return "addr " + host
}

func userKey(user string) string { return "user " + user }

// wait returns how long the keys must still wait before a try: the longest
// of their waits, 0 if none must.
func (t *throttle) wait(keys ...string) time.Duration {
	return t.longest(keys, func(now time.Time, k string) time.Duration {
		if s := t.m[k]; s != nil {
			return s.until.Sub(now)
		}
		return 0
	})
}

// longest returns the longest of f's waits for the keys (0 if none is
// longer), calling f with t.mu held and the time once read for all keys.
func (t *throttle) longest(keys []string, f func(now time.Time, key string) time.Duration) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var d time.Duration
	for _, k := range keys {
		d = max(d, f(now, k))
	}
	return d
}

// free returns the failures key may have before it must wait.
func free(key string) int {
	if len(key) > 5 && key[:5] == "addr " {
		return freeAddrFailures
	}
	return freeUserFailures
}

// fail records a failed login of each key and returns how long the next
// try must wait.
func (t *throttle) fail(keys ...string) time.Duration {
	return t.longest(keys, t.failLocked)
}

// failLocked records a failed login of key at now and returns how long
// its next try must wait. t.mu must be held.
func (t *throttle) failLocked(now time.Time, k string) time.Duration {
	s := t.m[k]
	if s != nil && now.Sub(s.last) > forgetAfter {
		s.fails = 0
	}
	if s == nil {
		if len(t.m) >= maxThrottleKeys {
			t.evict(now)
		}
		s = &strike{}
		t.m[k] = s
	}
	s.fails++
	s.last = now
	over := s.fails - free(k)
	if over <= 0 {
		return 0
	}
	w := maxWait
	if over <= 7 { // 2^6 s > maxWait
		w = min(maxWait, firstWait<<(over-1))
	}
	s.until = now.Add(w)
	return w
}

// forget drops the failures of key.
func (t *throttle) forget(key string) {
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
}

// evict makes room for a key: it drops the keys whose failures are
// forgotten and, if that frees nothing, the one that failed longest ago.
// t.mu must be held.
func (t *throttle) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, s := range t.m {
		if now.Sub(s.last) > forgetAfter {
			delete(t.m, k)
			continue
		}
		if at.IsZero() || s.last.Before(at) {
			oldest, at = k, s.last
		}
	}
	if len(t.m) >= maxThrottleKeys {
		delete(t.m, oldest)
	}
}
