package packet

// ReaderCaps returns the capacities of r's read buffer and body buffer, so
// that tests can check what a Reader holds on to.
func ReaderCaps(r *Reader) (buf, body int) { return cap(r.buf), cap(r.body) }

// MaxKeptBuffer is MaxKeptBody for tests.
const MaxKeptBuffer = MaxKeptBody
