// Command midge is an MQTT 3.1, 3.1.1 and 5.0 broker and the matching client
// tools, a drop-in for Eclipse Mosquitto. See "midge help".
package main

import (
	"os"

	"github.com/midge-mqtt/midge/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args, cli.OSStreams())) }
