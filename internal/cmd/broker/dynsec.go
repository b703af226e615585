package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/dynsec"
)

// openDynsec opens the dynamic security file of every scope that
// configures one (one file: the configuration refuses two) into the
// scope's Dynsec slot. It runs after privileges are dropped, as Mosquitto
// initialises its plugins, so the file is read and written as the broker's
// user. A missing file is created as Mosquitto 2.1 creates it, with the
// admin password from plugin_opt_password_init_file or the environment
// variable MOSQUITTO_DYNSEC_PASSWORD.
func (b *brokerRun) openDynsec() error {
	var ds *dynsec.Security
	for _, sc := range b.res.Scopes {
		if sc.DynsecFile == "" || sc.Dynsec == nil {
			continue
		}
		if ds == nil {
			var err error
			ds, err = dynsec.Open(dynsec.Options{ConfigFile: sc.DynsecFile, PasswordInitFile: sc.DynsecPasswordInitFile,
				PasswordEnv: os.Getenv("MOSQUITTO_DYNSEC_PASSWORD"), Logger: b.log,
				Replicate: b.dynsecReplicate()}) // cluster_dynsec.go
			if errors.Is(err, fs.ErrPermission) && b.res.User != "" {
				return fmt.Errorf("%s: dynamic security: %w (the file is opened after the broker becomes user %s: it and its directory must be writable by that user)",
					sc.DynsecPos, err, b.res.User)
			}
			if err != nil {
				return fmt.Errorf("%s: dynamic security: %w", sc.DynsecPos, err)
			}
			b.log.Info(fmt.Sprintf("Dynamic security loaded from %s.", sc.DynsecFile))
		}
		sc.Dynsec.Store(ds)
	}
	return nil
}

// attachDynsec registers dynamic security's control endpoint on srv.
func (b *brokerRun) attachDynsec(srv *broker.Server) error {
	for _, sc := range b.res.Scopes {
		if ds, ok := sc.Dynsec.Load().(*dynsec.Security); ok {
			_, err := ds.Attach(srv)
			return err
		}
	}
	return nil
}

// dynsecOf returns the dynamic security in use, nil if none.
func (b *brokerRun) dynsecOf() *dynsec.Security {
	for _, sc := range b.res.Scopes {
		if sc.Dynsec == nil {
			continue
		}
		if ds, ok := sc.Dynsec.Load().(*dynsec.Security); ok {
			return ds
		}
	}
	return nil
}
