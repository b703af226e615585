//go:build !linux

package broker

import (
	"errors"
	"net"
)

var errNoPoller = errors.New("no poller on this system")

// poller is not available on this system: connections are never parked
// and each keeps its reader goroutine.
type poller struct{ deadlines deadlines }

func newPoller(*Server) (*poller, error) { return nil, errNoPoller }
func (p *poller) add(*conn) error        { return errNoPoller }
func (p *poller) remove(*conn)           {}
func (p *poller) close()                 {}

func socketFD(net.Conn) int { return -1 }
