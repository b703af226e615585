//go:build !linux

package netpoll

import (
	"errors"
	"log/slog"
	"net"
)

// ErrUnsupported is New's error where there is no poller.
var ErrUnsupported = errors.New("no poller on this system")

// Poller is not available on this system: connections are never parked
// and each keeps its reader goroutine.
type Poller[T comparable] struct{}

// New returns ErrUnsupported.
func New[T comparable](func(T), *slog.Logger) (*Poller[T], error) { return nil, ErrUnsupported }

// Add returns ErrUnsupported.
func (p *Poller[T]) Add(int32, T) error { return ErrUnsupported }

// Remove does nothing.
func (p *Poller[T]) Remove(int32, T) {}

// Close does nothing.
func (p *Poller[T]) Close() {}

// SocketFD returns -1: no connection can be parked.
func SocketFD(net.Conn) int { return -1 }
