package broker

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
)

// brokerControlTopic is Mosquitto 2.1's broker control endpoint, served with
// enable_control_api true.
const brokerControlTopic = "$CONTROL/broker/v1"

// controlRequest is the envelope of a $CONTROL request, as Mosquitto's
// dynamic-security plugin and broker control read it.
type controlRequest struct {
	Commands []json.RawMessage `json:"commands"`
}

// controlResponse is one entry of a reply's "responses".
type controlResponse struct {
	Command         string `json:"command"`
	Error           string `json:"error,omitempty"`
	Data            any    `json:"data,omitempty"`
	CorrelationData any    `json:"correlationData,omitempty"`
}

// controlListener is a listener as listListeners shows it (the fields
// mosquitto_ctrl 2.1 prints).
type controlListener struct {
	Port        int    `json:"port"`
	Protocol    string `json:"protocol"`
	SocketPath  string `json:"socket-path,omitempty"`
	BindAddress string `json:"bind-address,omitempty"`
	TLS         bool   `json:"tls"`
}

// controlPlugin is a plugin as listPlugins shows it.
type controlPlugin struct {
	Name             string   `json:"name"`
	ControlEndpoints []string `json:"control-endpoints"`
}

// brokerControl returns the handler of $CONTROL/broker/v1 for the
// listeners of res and the other endpoints of srv: the commands listPlugins
// and listListeners of Mosquitto 2.1.
func brokerControl(res *config.Result, srv func() *broker.Server) broker.ControlHandler {
	var ls []controlListener
	served := slices.Clone(res.Plugins)
	for _, group := range [][]config.Listener{res.Listeners, res.HTTPListeners} {
		for _, l := range group {
			ls = append(ls, controlListener{
				Port: l.Port, Protocol: orDefault(l.Protocol, "mqtt"), SocketPath: l.Socket, BindAddress: l.Host,
				TLS: l.TLS.CertFile != "",
			})
		}
	}
	return func(_ context.Context, _ *broker.Client, req []byte) []byte {
		var r controlRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return mustJSON(map[string]any{"responses": []controlResponse{{Command: "Unknown command", Error: "Payload not valid JSON"}}})
		}
		out := []controlResponse{}
		for _, raw := range r.Commands {
			var c struct {
				Command         string `json:"command"`
				CorrelationData any    `json:"correlationData"`
			}
			if json.Unmarshal(raw, &c) != nil || c.Command == "" {
				out = append(out, controlResponse{Command: "Unknown command", Error: "Missing command"})
				continue
			}
			resp := controlResponse{Command: c.Command, CorrelationData: c.CorrelationData}
			switch c.Command {
			case "listListeners":
				resp.Data = map[string]any{"listeners": ls}
			case "listPlugins":
				plugins := []controlPlugin{}
				for _, name := range served {
					plugins = append(plugins, controlPlugin{Name: name, ControlEndpoints: []string{}})
				}
				if s := srv(); s != nil {
					for _, ep := range s.ControlEndpoints() {
						if ep == brokerControlTopic {
							continue
						}
						name := strings.TrimPrefix(ep, "$CONTROL/")
						name, _, _ = strings.Cut(name, "/")
						plugins = append(plugins, controlPlugin{Name: name, ControlEndpoints: []string{ep}})
					}
				}
				resp.Data = map[string]any{"plugins": plugins}
			default:
				resp.Error = "Unknown command"
			}
			out = append(out, resp)
		}
		return mustJSON(map[string]any{"responses": out})
	}
}

// orDefault returns s, or def if s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mustJSON encodes v, whose types (strings, numbers, slices and maps of
// them, and the client's own correlationData as decoded) always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"responses":[{"command":"Unknown command","error":"Internal error"}]}`)
	}
	return b
}

// setControlAPI registers or removes $CONTROL/broker/v1 (enable_control_api).
func (b *brokerRun) setControlAPI(srv *broker.Server, on bool) {
	if !on {
		srv.HandleControl(brokerControlTopic, nil)
		return
	}
	b.mu.Lock()
	h := brokerControl(b.res, b.srv.Load)
	b.mu.Unlock()
	if err := srv.HandleControl(brokerControlTopic, h); err != nil && err != broker.ErrControlTaken {
		b.log.Error("Error: " + brokerControlTopic + ": " + err.Error())
	}
}
