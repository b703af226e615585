// Package storetest is the conformance suite every broker.Store passes, and
// the benchmarks that compare them.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Factory{
//			Open: func(tb testing.TB, dir string) broker.Store { ... },
//			Persistent: true,
//		})
//	}
package storetest
