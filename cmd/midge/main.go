// Command midge is an MQTT 3.1, 3.1.1 and 5.0 broker and the matching client
// tools, a drop-in for Eclipse Mosquitto. See "midge help".
package main

import (
	"os"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/cmd/midge"
)

func main() { os.Exit(midge.Main(os.Args, base.OSStreams())) }
