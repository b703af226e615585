package clienttool

import "strings"

// The --help texts of mosquitto_pub, mosquitto_sub and mosquitto_rr 2.0.11,
// verbatim: %[1]s is the version. Mosquitto words many options the same in
// the three; each such passage is written once below and the texts are
// composed from them, in each tool's order.

// usageLines is lines of a usage synopsis, each indented by indent.
func usageLines(indent string, lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(indent + l + "\n")
	}
	return b.String()
}

// usageIDLines is the synopsis of -A, --nodelay, -i and -I.
func usageIDLines(indent string) string {
	return usageLines(indent, "[-A bind_address] [--nodelay]", "[-i id] [-I id_prefix]")
}

// usageWillTLSLines is the synopsis of the will, TLS and proxy options.
// The --psk line is indented the same for every tool, as in Mosquitto.
func usageWillTLSLines(indent string) string {
	return usageLines(indent,
		"[--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]",
		"[{--cafile file | --capath dir} [--cert file] [--key file]",
		"  [--ciphers ciphers] [--insecure]",
		"  [--tls-alpn protocol]",
		"  [--tls-engine engine] [--keyform keyform] [--tls-engine-kpass-sha1]]",
		"  [--tls-use-os-certs]") +
		"                     [--psk hex-key --psk-identity identity [--ciphers ciphers]]\n" +
		usageLines(indent, "[--proxy socks-url]")
}

// usagePrintLines is the end of sub's and rr's synopsis, from -F on.
func usagePrintLines(indent string) string {
	return usageLines(indent, "[-F format]", "[-W timeout_secs]") +
		usageIDLines(indent) +
		usageLines(indent, "[-d] [-N] [--quiet] [-v]") +
		usageWillTLSLines(indent) +
		usageLines(indent, "[-D command identifier value]")
}

// The descriptions of options, as each tool has them.
const (
	helpBind = ` -A : bind the outgoing socket to this host/ip address. Use to control which interface
      the client communicates over.
`
	helpDebug = " -d : enable debug messages.\n"
	helpClean = ` -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects. MQTT v5 clients can change their session expiry interval with the -x
      argument.
`
	helpProperty = " -D : Define MQTT v5 properties. See the documentation for more details.\n"
	helpHost     = " -h : mqtt host to connect to. Defaults to localhost.\n"
	helpIDPrefix = ` -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
`
	helpKeepaliveURL = ` -k : keep alive in seconds for this client. Defaults to 60.
 -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
`
	helpPortPassword = ` -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
`
	helpUsername          = " -u : provide a username\n"
	helpVersionPrefix     = " -V : specify the version of the MQTT protocol to use when connecting.\n"
	helpVersion311        = helpVersionPrefix + "      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.\n"
	helpExpiryHelpNodelay = ` -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
 --help : display this message.
 --nodelay : disable Nagle's algorithm, to reduce socket sending latency at the possible
             expense of more packets being sent.
`
	helpPretty = ` --pretty : print formatted output rather than minimised output when using the
            JSON output format option.
`
	helpQuiet    = " --quiet : don't print error messages.\n"
	helpUnixWill = ` --unix : connect to a broker through a unix domain socket instead of a TCP socket,
          e.g. /tmp/mosquitto.sock
 --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
`
	helpCAFileCertificate = ` --cafile : path to a file containing trusted CA certificates to enable encrypted
            certificate based communication.
`
	helpCAPathCertKey = ` --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
`
	helpKeyform            = " --keyform : keyfile type, can be either \"pem\" or \"engine\".\n"
	helpCiphers            = " --ciphers : openssl compatible list of TLS ciphers to support.\n"
	helpTLSVersionInsecure = ` --tls-version : TLS protocol version, can be one of tlsv1.3 tlsv1.2 or tlsv1.1.
                 Defaults to tlsv1.2 if available.
 --insecure : do not check that the server certificate hostname matches the remote
              hostname. Using this option means that you cannot be sure that the
              remote host is the server you wish to connect to and so is insecure.
              Do not use this option in a production environment.
`
	helpEngineKpass = " --tls-engine-kpass-sha1 : SHA1 of the key password to be used with the selected SSL engine.\n"
	helpOSCerts     = " --tls-use-os-certs : Load and trust OS provided CA certificates.\n"
	helpPSKProxyEnd = ` --psk : pre-shared-key in hexadecimal (no leading 0x) to enable TLS-PSK mode.
 --psk-identity : client identity string for TLS-PSK mode.
 --proxy : SOCKS5 proxy URL of the form:
           socks5h://[username[:password]@]hostname[:port]
           Only "none" and "username" authentication is supported.

See https://mosquitto.org/ for more information.

`
)

// pubUsage is mosquitto_pub's --help text.
func pubUsage() string {
	const in = "                     "
	return `mosquitto_pub is a simple mqtt client that will publish a message on a single topic and exit.
mosquitto_pub version %[1]s running on libmosquitto %[1]s.

Usage: mosquitto_pub {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL}
` + usageLines(in,
		"{-f file | -l | -n | -m message}",
		"[-c] [-k keepalive] [-q qos] [-r] [--repeat N] [--repeat-delay time] [-x session-expiry]") +
		usageIDLines(in) +
		usageLines(in, "[-d] [--quiet]", "[-M max_inflight]", "[-u username [-P password]]") +
		usageWillTLSLines(in) +
		usageLines(in, "[--property command identifier value]", "[-D command identifier value]") +
		"       mosquitto_pub --help\n\n" +
		helpBind + helpDebug + helpClean + helpProperty +
		" -f : send the contents of a file as the message.\n" +
		helpHost +
		" -i : id to use for this client. Defaults to mosquitto_pub_ appended with the process id.\n" +
		helpIDPrefix + helpKeepaliveURL + ` -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -M : the maximum inflight messages for QoS 1/2..
 -n : send a null (zero length) message.
` + helpPortPassword + ` -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
` + helpUsername + helpVersion311 + helpExpiryHelpNodelay + helpQuiet +
		` --repeat : if publish mode is -f, -m, or -s, then repeat the publish N times.
 --repeat-delay : if using --repeat, wait time seconds between publishes. Defaults to 0.
` + helpUnixWill + ` --cafile : path to a file containing trusted CA certificates to enable encrypted
            communication.
` + helpCAPathCertKey + helpKeyform + helpCiphers + helpTLSVersionInsecure +
		" --tls-engine : If set, enables the use of a TLS engine device.\n" +
		helpEngineKpass + helpOSCerts + helpPSKProxyEnd
}

// subUsage is mosquitto_sub's --help text.
func subUsage() string {
	const in = "                     "
	return `mosquitto_sub is a simple mqtt client that will subscribe to a set of topics and print all messages it receives.
mosquitto_sub version %[1]s running on libmosquitto %[1]s.

Usage: mosquitto_sub {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL [-t topic]}
` + usageLines(in,
		"[-c] [-k keepalive] [-q qos] [-x session-expiry-interval]",
		"[-C msg_count] [-E] [-R] [--retained-only] [--remove-retained] [-T filter_out] [-U topic ...]",
	) + usagePrintLines(in) +
		"       mosquitto_sub --help\n\n" +
		helpBind + helpClean +
		" -C : disconnect and exit after receiving the 'msg_count' messages.\n" +
		helpDebug + helpProperty + ` -E : Exit once all subscriptions have been acknowledged by the broker.
 -F : output format.
` + helpHost +
		" -i : id to use for this client. Defaults to mosquitto_sub_ appended with the process id.\n" +
		helpIDPrefix + helpKeepaliveURL +
		" -N : do not add an end of line character when printing the payload.\n" +
		helpPortPassword + ` -q : quality of service level to use for the subscription. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : mqtt topic to subscribe to. May be repeated multiple times.
 -T : topic string to filter out of results. May be repeated.
` + helpUsername + ` -U : unsubscribe from a topic. May be repeated.
 -v : print published messages verbosely.
` + helpVersion311 +
		" -W : Specifies a timeout in seconds how long to process incoming MQTT messages.\n" +
		helpExpiryHelpNodelay + helpPretty + helpQuiet +
		` --random-filter : only print a percentage of received messages. Set to 100 to have all
                   messages printed, 50.0 to have half of the messages received on average
                   printed, and so on.
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --remove-retained : send a message to the server to clear any received retained messages
                     Use -T to filter out messages you do not want to be cleared.
` + helpUnixWill + helpCAFileCertificate + helpCAPathCertKey + helpKeyform + helpCiphers +
		helpTLSVersionInsecure +
		" --tls-engine : If set, enables the use of a SSL engine device.\n" +
		helpEngineKpass + helpOSCerts + helpPSKProxyEnd
}

// rrUsage is mosquitto_rr's --help text.
func rrUsage() string {
	const in = "                    "
	return `mosquitto_rr is an mqtt client that can be used to publish a request message and wait for a response.
             Defaults to MQTT v5, where the Request-Response feature will be used, but v3.1.1 can also be used
             with v3.1.1 brokers.
mosquitto_rr version %[1]s running on libmosquitto %[1]s.

Usage: mosquitto_rr {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL} -e response-topic
` + usageLines(in,
		"[-c] [-k keepalive] [-q qos] [-R] [-x session-expiry-interval",
	) + usagePrintLines(in) +
		"       mosquitto_rr --help\n\n" +
		helpBind + helpClean + helpDebug + helpProperty +
		` -e : Response topic. The client will subscribe to this topic to wait for a response.
 -F : output format.
` + helpHost +
		" -i : id to use for this client. Defaults to mosquitto_rr_ appended with the process id.\n" +
		helpKeepaliveURL +
		" -N : do not add an end of line character when printing the payload.\n" +
		helpPortPassword + ` -q : quality of service level to use for communications. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : topic where the request message will be sent.
` + helpUsername + " -v : print received messages verbosely.\n" +
		helpVersionPrefix + "      Defaults to 5.\n" +
		" -W : Specifies a timeout in seconds how long to wait for a response.\n" +
		helpExpiryHelpNodelay + helpPretty + helpQuiet + helpUnixWill +
		helpCAFileCertificate + helpCAPathCertKey + helpCiphers + helpOSCerts +
		helpTLSVersionInsecure + helpPSKProxyEnd
}
