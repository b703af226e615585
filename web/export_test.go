package web

// Settled reports whether every message observed so far has been added to
// the topics or dropped.
func Settled(s *Server) bool { return s.applied.Load()+s.dropped.Load() == s.seen.Load() }

// Lock and Unlock hold the aggregator's lock, to stall it in tests.
func Lock(s *Server)   { s.mu.Lock() }
func Unlock(s *Server) { s.mu.Unlock() }
