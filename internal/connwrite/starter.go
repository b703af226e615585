package connwrite

import "sync"

// Starter starts goroutines that run a function of one argument, such as a
// connection's writer, without allocating: `go run(arg)` allocates the
// closure that carries arg (16 bytes for a pointer) for every goroutine,
// while Starter reuses records that carry it, from a pool. The zero value is
// ready to use; it is safe for concurrent use.
type Starter[A any] struct{ p sync.Pool }

// start carries a goroutine's function and argument from Go to begin.
type start[A any] struct {
	s   *Starter[A]
	run func(A)
	arg A
	fn  func() // begin, bound to this record once, when it is made
}

// Go starts a goroutine that runs run(arg). run should be a function that
// captures nothing (a top-level function or a method expression), or
// making it allocates as `go` would.
func (s *Starter[A]) Go(run func(A), arg A) {
	st, _ := s.p.Get().(*start[A])
	if st == nil {
		st = &start[A]{s: s}
		st.fn = st.begin
	}
	st.run, st.arg = run, arg
	go st.fn()
}

// begin runs on the new goroutine: it gives the record back before it runs
// the function, so that a goroutine that runs for long holds none.
func (st *start[A]) begin() {
	run, arg := st.run, st.arg
	var zero A
	st.run, st.arg = nil, zero
	st.s.p.Put(st)
	run(arg)
}
