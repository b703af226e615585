package connwrite

import (
	"sync"
	"testing"
)

// BenchmarkStart compares starting a goroutine with one argument by a go
// statement (which allocates its closure) and by a Starter.
func BenchmarkStart(b *testing.B) {
	var wg sync.WaitGroup
	done := func(wg *sync.WaitGroup) { wg.Done() }
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			wg.Add(1)
			go done(&wg)
		}
		wg.Wait()
	})
	b.Run("Starter", func(b *testing.B) {
		var s Starter[*sync.WaitGroup]
		b.ReportAllocs()
		for b.Loop() {
			wg.Add(1)
			s.Go(done, &wg)
		}
		wg.Wait()
	})
}
