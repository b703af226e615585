package mqdiff

import (
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// StartMidgeConf starts midge in-process with the same configuration lines
// testutil.StartMosquitto would be given, read by midge's own configuration
// parser, and returns its address.
func StartMidgeConf(t testing.TB, conf ...string) *testutil.Broker {
	t.Helper()
	text := strings.Join(append([]string{"listener 1883 127.0.0.1", "sys_interval 0"}, testutil.WithAnonymous(conf)...), "\n") + "\n"
	res, err := config.Parse(strings.NewReader(text), "mosquitto.conf")
	if err != nil {
		t.Fatalf("midge refuses the configuration: %v\n%s", err, text)
	}
	cfg := res.Config
	lc := cfg.Listeners[0]
	cfg.Listeners = nil
	return testutil.StartBrokerListener(t, cfg, lc)
}

// Differential runs script against Debian's Mosquitto and against midge,
// each started with the configuration lines conf, and returns both
// transcripts (Mosquitto's first).
func Differential(t testing.TB, conf []string, script []testutil.Step) (mosq, midge testutil.Transcript) {
	t.Helper()
	maddr := testutil.StartMosquitto(t, conf...)
	b := StartMidgeConf(t, conf...)
	return testutil.Run(t, maddr, script), testutil.Run(t, b.Addr, script)
}

// SameAsMosquitto runs script against both brokers and fails the test
// unless midge received exactly the bytes Mosquitto sent.
func SameAsMosquitto(t testing.TB, conf []string, script []testutil.Step) testutil.Transcript {
	t.Helper()
	mosq, midge := Differential(t, conf, script)
	if mosq.String() != midge.String() {
		t.Errorf("midge's bytes differ from Mosquitto's\nmosquitto:\n%s\nmidge:\n%s", mosq, midge)
	}
	return midge
}
