package explore

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/internal/cmd/clienttool"
)

// serveAPI serves explore's own API under /api/v1/explore/ and reports
// whether r was one of its requests:
//
//	GET  /api/v1/explore/connections   the saved connections (names and servers, never credentials)
//	POST /api/v1/explore/connect       {"name"}: switch to a saved connection
//	POST /api/v1/explore/connections   {"name", "args"}: save a connection (args: midge sub's options)
//	GET  /api/v1/explore/export?topic=T&format=csv|json   a topic's stored history
//
// Requests that change something must carry the header X-Midge-Explore: 1,
// which a cross-site form cannot send (with the SameSite=Strict cookie).
func (a *app) serveAPI(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/api/v1/explore/") {
		return false
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost && r.Header.Get("X-Midge-Explore") != "1" {
		jsonError(w, http.StatusForbidden, "missing X-Midge-Explore header")
		return true
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /api/v1/explore/connections":
		a.listConnections(w)
	case "POST /api/v1/explore/connections":
		a.saveConnection(w, r)
	case "POST /api/v1/explore/connect":
		var req struct {
			Name string `json:"name"`
		}
		if !readJSON(w, r, &req) {
			return true
		}
		if err := a.switchTo(r.Context(), req.Name); err != nil {
			status := http.StatusBadGateway
			if errors.Is(err, errNoConnection) {
				status = http.StatusNotFound
			}
			jsonError(w, status, err.Error())
			return true
		}
		writeJSON(w, map[string]any{"connected": true, "name": req.Name})
	case "GET /api/v1/explore/export":
		a.export(w, r)
	default:
		jsonError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	}
	return true
}

// connectionInfo is a saved connection as the page sees it.
type connectionInfo struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	User   string `json:"user,omitempty"`
	Error  string `json:"error,omitempty"` // why its options cannot be used
}

func (a *app) listConnections(w http.ResponseWriter) {
	a.mu.Lock()
	saved := append([]savedConnection(nil), a.conns.Connections...)
	cur := ""
	server := ""
	if a.cur != nil {
		cur, server = a.cur.name, a.cur.src.conn.Server
	}
	a.mu.Unlock()
	list := make([]connectionInfo, 0, len(saved))
	for _, sc := range saved {
		ci := connectionInfo{Name: sc.Name}
		if c, err := clienttool.ParseConnection(sc.Args); err != nil {
			ci.Error = strings.TrimSpace(err.Error())
		} else {
			ci.Server, ci.User = c.Server, c.Options.Username
		}
		list = append(list, ci)
	}
	writeJSON(w, map[string]any{"current": cur, "server": server, "connections": list})
}

func (a *app) saveConnection(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string   `json:"name"`
		Args []string `json:"args"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		jsonError(w, http.StatusBadRequest, "a connection needs a name (at most 100 bytes)")
		return
	}
	if _, err := clienttool.ParseConnection(req.Args); err != nil {
		jsonError(w, http.StatusBadRequest, strings.TrimSpace(err.Error()))
		return
	}
	a.mu.Lock()
	a.conns.put(savedConnection{Name: req.Name, Args: req.Args})
	err := a.conns.save(a.o.connections)
	a.mu.Unlock()
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, map[string]any{"saved": true})
}

// exportEntry is one message of an export.
type exportEntry struct {
	Time       string         `json:"time"` // RFC 3339, nanoseconds
	Topic      string         `json:"topic"`
	QoS        byte           `json:"qos"`
	Retain     bool           `json:"retain"`
	Size       int            `json:"size"`
	Truncated  bool           `json:"truncated,omitempty"`
	Encoding   string         `json:"encoding"` // "utf8" or "base64"
	Payload    string         `json:"payload"`
	Properties map[string]any `json:"properties,omitempty"`
}

// export is GET /api/v1/explore/export?topic=T&format=csv|json: every
// stored message of topic T, oldest first.
func (a *app) export(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		jsonError(w, http.StatusBadRequest, `format must be "csv" or "json"`)
		return
	}
	a.mu.Lock()
	cur := a.cur
	a.mu.Unlock()
	if cur == nil || cur.store == nil {
		jsonError(w, http.StatusNotFound, "no history is kept (--no-history)")
		return
	}
	msgs, err := cur.store.topic(topic)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if len(msgs) == 0 {
		jsonError(w, http.StatusNotFound, "no stored history for this topic")
		return
	}
	entries := make([]exportEntry, len(msgs))
	for i, sm := range msgs {
		e := exportEntry{Time: sm.at.UTC().Format(time.RFC3339Nano), Topic: topic, QoS: sm.rec.QoS, Retain: sm.rec.Retain,
			Size: sm.rec.Size, Truncated: len(sm.rec.Payload) < sm.rec.Size}
		if utf8.Valid(sm.rec.Payload) {
			e.Encoding, e.Payload = "utf8", string(sm.rec.Payload)
		} else {
			e.Encoding, e.Payload = "base64", base64.StdEncoding.EncodeToString(sm.rec.Payload)
		}
		if p := sm.rec.Props; p != nil {
			e.Properties = map[string]any{}
			if p.PayloadFormat != nil {
				e.Properties["payloadFormat"] = *p.PayloadFormat
			}
			if p.ContentType != "" {
				e.Properties["contentType"] = p.ContentType
			}
			if p.ResponseTopic != "" {
				e.Properties["responseTopic"] = p.ResponseTopic
			}
			if p.CorrelationData != nil {
				e.Properties["correlationData"] = base64.StdEncoding.EncodeToString(p.CorrelationData)
			}
			if len(p.User) > 0 {
				e.Properties["userProperties"] = p.User
			}
		}
		entries[i] = e
	}
	file := strings.Trim(unsafeChars.ReplaceAllString(topic, "_"), "_")
	if file == "" {
		file = "topic"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+file+`.`+format+`"`)
	if format == "json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(entries)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "topic", "qos", "retain", "size", "truncated", "encoding", "payload"})
	for _, e := range entries {
		cw.Write([]string{e.Time, e.Topic, strconv.Itoa(int(e.QoS)), strconv.FormatBool(e.Retain), strconv.Itoa(e.Size),
			strconv.FormatBool(e.Truncated), e.Encoding, e.Payload})
	}
	cw.Flush()
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(v); err != nil {
		jsonError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
