// Package testutil holds the helpers that tests across midge share: it
// starts brokers (midge's in-process on 127.0.0.1:0, Debian's mosquitto,
// the midge binary) and drives them with raw-packet clients, for tests that
// must see exactly what goes over the wire; it also waits on conditions
// (WaitFor), plays the server to a client (NewClient), finds Debian's
// tools (NeedTool) and provides a settable Clock.
package testutil
