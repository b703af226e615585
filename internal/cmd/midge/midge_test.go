package midge

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// TestPasswdDispatch checks that the program's name selects passwd and the
// name it calls itself, and that "midge passwd" passes the rest on.
func TestPasswdDispatch(t *testing.T) {
	t.Parallel()
	// Run through a link named mosquitto_passwd, it calls itself that.
	var o, e bytes.Buffer
	rc := run(context.Background(), []string{"/usr/local/bin/mosquitto_passwd"}, base.Streams{In: strings.NewReader(""), Out: &o, Err: &e})
	if rc != 1 || !strings.HasPrefix(o.String(), "mosquitto_passwd is a tool") || !strings.Contains(o.String(), "\nSee https://mosquitto.org/") {
		t.Errorf("mosquitto_passwd = %d, %q, %q", rc, o.String(), e.String())
	}
	o.Reset()
	rc = run(context.Background(), []string{"midge", "passwd", "-U"}, base.Streams{In: strings.NewReader(""), Out: &o, Err: &e})
	if rc != 1 || !strings.Contains(e.String(), "Error: -U argument given but password file missing.") {
		t.Errorf("midge passwd -U = %d, %q, %q", rc, o.String(), e.String())
	}
}

// TestCtrlDispatch checks that mosquitto_ctrl selects ctrl under
// Mosquitto's name, and "midge ctrl" under midge's.
func TestCtrlDispatch(t *testing.T) {
	t.Parallel()
	var o, e bytes.Buffer
	rc := run(context.Background(), []string{"/usr/bin/mosquitto_ctrl"}, base.Streams{In: strings.NewReader(""), Out: &o, Err: &e})
	if rc != 1 || !strings.HasPrefix(o.String(), "mosquitto_ctrl is a tool for administering certain Mosquitto features.\nmosquitto_ctrl version 2.0.11 ") {
		t.Errorf("mosquitto_ctrl = %d, %q, %q", rc, o.String(), e.String())
	}
	o.Reset()
	rc = run(context.Background(), []string{"midge", "ctrl", "dynsec", "nothing"}, base.Streams{In: strings.NewReader(""), Out: &o, Err: &e})
	if rc != 13 || e.String() != "Command 'nothing' not recognised.\n" {
		t.Errorf("midge ctrl dynsec nothing = %d, %q, %q", rc, o.String(), e.String())
	}
}
