// Package observers is a copy-on-write list of callbacks for a hot path:
// notifying costs one atomic load when none is registered, and
// registrations copy the list under a lock.
package observers
