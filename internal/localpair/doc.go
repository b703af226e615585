// Package localpair makes the two ends of an in-process byte stream: a
// Unix stream socket pair where there is one (buffered by the kernel, and
// parkable like any socket), an in-memory pipe elsewhere. The broker
// serves one end like an accepted connection (DialLocal).
package localpair
