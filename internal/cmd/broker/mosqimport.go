package broker

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/mosqdb"
)

// mosquittoFile is Mosquitto's default persistence_file.
const mosquittoFile = "mosquitto.db"

// storePaths returns the path of midge's store and that of the Mosquitto
// persistence file to import from. Mosquitto's file is
// persistence_location/mosquitto.db, its default; but when
// persistence_file (from a mosquitto.conf) names a file that is
// Mosquitto's, that file is the one to import and midge keeps its own
// store beside it under its default name, midge.db. (If that is the same
// file, the store refuses it with a hint.)
func storePaths(p config.Persistence) (storePath, source string) {
	storePath = p.Path()
	if mosqdb.IsMosquittoFile(storePath) {
		own := filepath.Join(p.Location, "midge.db")
		if own != storePath {
			return own, storePath
		}
		return storePath, ""
	}
	return storePath, filepath.Join(p.Location, mosquittoFile)
}

// importMosquitto imports Mosquitto's persistence file at source into st,
// the store at storePath, if there is one to import (see mosqdb.Migration).
// An error stops start-up.
func (b *brokerRun) importMosquitto(ctx context.Context, st broker.Store, storePath, source string) error {
	if source == "" {
		return nil
	}
	if source == b.res.Persistence.Path() && storePath != source {
		b.log.Info(fmt.Sprintf("persistence_file %s is a Mosquitto persistence file; midge keeps its own store in %s.", source, storePath))
	}
	m := mosqdb.Migration{Source: source, Marker: storePath + mosqdb.MarkerSuffix, Store: st, Log: b.log,
		Listener: b.listenerByPort()}
	if _, err := m.Run(ctx); err != nil {
		return fmt.Errorf("cannot import the Mosquitto persistence file: %w. "+
			"midge has left it as it is; move it out of persistence_location to start without it", err)
	}
	return nil
}

// listenerByPort returns a function that names the listener on a TCP port
// (as broker.Listener.Name, defaulted as the broker does), "" if none or
// more than one listens on it: Mosquitto records a session's listener by
// its port.
func (b *brokerRun) listenerByPort() func(port uint16) string {
	names := map[uint16]string{}
	count := map[uint16]int{}
	for _, ol := range b.lns {
		a, ok := ol.ln.Addr().(*net.TCPAddr)
		if !ok {
			continue
		}
		name := ol.cfg.Name
		if name == "" {
			name = ol.cfg.Address
		}
		if name == "" {
			name = a.String()
		}
		p := uint16(a.Port)
		names[p] = name
		count[p]++
	}
	return func(port uint16) string {
		if count[port] != 1 {
			return ""
		}
		return names[port]
	}
}
