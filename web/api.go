package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/version"
	"github.com/midge-mqtt/midge/packet"
)

// meResponse says who is logged in and what they may do.
type meResponse struct {
	Auth     string     `json:"auth"` // "open" (no logins) or "login"
	User     string     `json:"user,omitempty"`
	LoggedIn bool       `json:"loggedIn"`
	Admin    bool       `json:"admin"`
	CSRF     string     `json:"csrf,omitempty"` // send it as X-CSRF-Token with every action
	History  int        `json:"history"`
	Version  string     `json:"version"`
	Source   SourceInfo `json:"source"` // what the dashboard shows: its broker or, for midge explore, a client
}

func (h *handler) meOf(p *principal) meResponse {
	r := meResponse{Auth: "login", History: h.s.cfg.History, Version: version.Version, Source: h.s.sourceInfo()}
	if h.open {
		r.Auth = "open"
	}
	if p != nil {
		r.LoggedIn, r.User, r.Admin, r.CSRF = true, p.user, p.admin, p.csrf
	}
	return r
}

// me is GET /api/v1/me, open to all: the page asks it whether to show the
// login form.
func (h *handler) me(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p, _ := h.identify(r)
	if p != nil && p.basic {
		p.csrf = "" // Basic credentials cannot act
	}
	writeJSON(w, r, http.StatusOK, h.meOf(p))
}

// login is POST /api/v1/login {"username", "password"}.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if h.open {
		p, _ := h.identify(r)
		writeJSON(w, r, http.StatusOK, h.meOf(p))
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	if req.Username == "" {
		writeError(w, http.StatusUnauthorized, "wrong username or password")
		return
	}
	cred, ok, retry := h.checkPassword(r, req.Username, req.Password)
	if tooMany(w, retry) {
		return
	}
	if !ok {
		h.s.log.Warn(fmt.Sprintf("web: failed login as %q from %s", req.Username, r.RemoteAddr))
		writeError(w, http.StatusUnauthorized, "wrong username or password")
		return
	}
	token, s := h.sessions.create(req.Username, cred)
	h.setCookie(w, token, int(h.cfg.SessionIdle/time.Second))
	h.s.log.Info(fmt.Sprintf("web: login as %q from %s", req.Username, r.RemoteAddr))
	writeJSON(w, r, http.StatusOK, h.meOf(&principal{user: s.user, admin: h.isAdmin(s.user), csrf: s.csrf}))
}

// logout is POST /api/v1/logout.
func (h *handler) logout(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.token != "" {
		h.sessions.delete(p.token)
	}
	h.setCookie(w, "", -1)
	writeJSON(w, r, http.StatusOK, h.meOf(nil))
}

// readFilter returns which topics p may see: all (nil) for an administrator
// or without Security, else those the listener's Authorizers let p read.
func (h *handler) readFilter(p *principal) func(string) bool {
	if p.admin || h.cfg.Security == nil {
		return nil
	}
	sec, c := h.cfg.Security, userClient(p.user)
	return func(t string) bool { return sec.Authorize(context.Background(), c, t, broker.Read) }
}

// userClient is a dashboard user as the broker's Authorizers see it: an MQTT
// client with that user name and an empty client id.
func userClient(user string) *broker.Client {
	return &broker.Client{Username: user, HasUsername: true}
}

// seesStats reports whether a user who may read the topics filter allows
// (nil: all) may see the broker's statistics. They are the broker's $SYS
// values, so the user must be allowed to read every one of those topics.
func (s *Server) seesStats(filter func(string) bool) bool {
	return filter == nil || readsAll(filter, s.broker.SysValues())
}

// readsAll reports whether filter allows every topic of sys.
func readsAll(filter func(string) bool, sys map[string]string) bool {
	for t := range sys {
		if !filter(t) {
			return false
		}
	}
	return true
}

// topicsResponse is GET /api/v1/topics: every topic the user may see.
type topicsResponse struct {
	topicsEvent
	MaxTopics int `json:"maxTopics"`
}

func (h *handler) topics(w http.ResponseWriter, r *http.Request, p *principal) {
	filter := h.readFilter(p)
	s := h.s
	s.mu.Lock()
	resp := topicsResponse{MaxTopics: s.cfg.MaxTopics}
	resp.Updates = make([]topicUpdate, 0, len(s.topics.byName))
	for name, t := range s.topics.byName {
		if filter == nil || filter(name) {
			resp.Updates = append(resp.Updates, t.update())
		}
	}
	resp.Total, resp.Refused = len(s.topics.byName), s.topics.refused
	s.mu.Unlock()
	resp.Dropped = s.dropped.Load()
	writeJSON(w, r, http.StatusOK, resp)
}

// historyEntry is one message of a topic's history.
type historyEntry struct {
	At         int64       `json:"at"` // unix milliseconds
	Payload    string      `json:"payload"`
	Encoding   string      `json:"encoding"` // "utf8" or "base64"
	Size       int         `json:"size"`
	Truncated  bool        `json:"truncated,omitempty"`
	QoS        byte        `json:"qos"`
	Retain     bool        `json:"retain,omitempty"`
	Publisher  string      `json:"publisher,omitempty"`
	Properties *properties `json:"properties,omitempty"`
}

// properties are the MQTT 5 properties of a message, as the API reads and
// writes them.
type properties struct {
	PayloadFormat   *byte          `json:"payloadFormat,omitempty"`
	ContentType     string         `json:"contentType,omitempty"`
	ResponseTopic   string         `json:"responseTopic,omitempty"`
	CorrelationData string         `json:"correlationData,omitempty"`
	MessageExpiry   uint32         `json:"messageExpiry,omitempty"` // seconds; publishing only
	User            []userProperty `json:"userProperties,omitempty"`
}

type userProperty struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func propertiesOf(p *packet.Properties) *properties {
	if p == nil || p.Empty() {
		return nil
	}
	out := &properties{}
	if p.Has(packet.PropPayloadFormat) {
		v := p.PayloadFormat
		out.PayloadFormat = &v
	}
	out.ContentType, out.ResponseTopic = p.ContentType, p.ResponseTopic
	if p.Has(packet.PropCorrelationData) {
		if utf8.Valid(p.CorrelationData) {
			out.CorrelationData = string(p.CorrelationData)
		} else {
			out.CorrelationData = "0x" + hex.EncodeToString(p.CorrelationData)
		}
	}
	for _, u := range p.User {
		out.User = append(out.User, userProperty{u.Key, u.Value})
	}
	return out
}

// topicResponse is GET /api/v1/topic?name=TOPIC.
type topicResponse struct {
	Topic    string         `json:"topic"`
	Count    uint64         `json:"count"`
	Retained bool           `json:"retained"`
	History  []historyEntry `json:"history"` // oldest first
}

func (h *handler) topic(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.URL.Query().Get("name")
	if f := h.readFilter(p); f != nil && !f(name) {
		writeError(w, http.StatusNotFound, "no such topic")
		return
	}
	s := h.s
	s.mu.Lock()
	t := s.topics.byName[name]
	if t == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "no such topic")
		return
	}
	resp := topicResponse{Topic: name, Count: t.count, Retained: t.retained}
	hist := t.history()
	s.mu.Unlock()
	for _, e := range hist {
		he := historyEntry{At: e.at.UnixMilli(), Size: e.size, Truncated: e.evicted || len(e.payload) < e.size,
			QoS: e.qos, Retain: e.retain, Publisher: e.publisher, Properties: propertiesOf(e.props)}
		if isText(e.payload) {
			he.Payload, he.Encoding = strings.ToValidUTF8(string(e.payload), ""), "utf8"
		} else {
			he.Payload, he.Encoding = base64.StdEncoding.EncodeToString(e.payload), "base64"
		}
		resp.History = append(resp.History, he)
	}
	writeJSON(w, r, http.StatusOK, resp)
}

// publishRequest is the body of POST /api/v1/publish.
type publishRequest struct {
	Topic      string      `json:"topic"`
	Payload    string      `json:"payload"`
	Encoding   string      `json:"encoding"` // "utf8" (default), "hex" or "base64"
	QoS        byte        `json:"qos"`
	Retain     bool        `json:"retain"`
	Properties *properties `json:"properties"`
}

// maxPublish bounds a payload published from the dashboard.
const maxPublish = 1 << 20

func (h *handler) publish(w http.ResponseWriter, r *http.Request, p *principal) {
	var req publishRequest
	if !readJSON(w, r, 4*maxPublish, &req) {
		return
	}
	m, err := req.message()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !p.admin && h.cfg.Security != nil {
		if !h.cfg.Security.Authorize(r.Context(), userClient(p.user), m.Topic, broker.Write) {
			writeError(w, http.StatusForbidden, "the ACL does not let "+p.user+" publish to "+m.Topic)
			return
		}
	}
	who := "web"
	if p.user != "" {
		who = "web:" + p.user
	}
	if err := h.s.publishAs(r.Context(), m, who); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, broker.ErrInvalidTopic) {
			status = http.StatusBadRequest
		}
		writeError(w, status, err.Error())
		return
	}
	retained := ""
	if m.Retain {
		retained = ", retained"
	}
	h.s.log.Info(fmt.Sprintf("web: %s published %d bytes to %q (QoS %d%s)", actor(p, r), len(m.Payload), m.Topic, m.QoS, retained))
	writeJSON(w, r, http.StatusOK, map[string]any{"published": true})
}

// message builds the Message req describes.
func (req *publishRequest) message() (*broker.Message, error) {
	if !packet.ValidTopicName(req.Topic) {
		return nil, errors.New("invalid topic name: it must be non-empty UTF-8 without + or #")
	}
	if req.QoS > 2 {
		return nil, errors.New("QoS must be 0, 1 or 2")
	}
	var payload []byte
	var err error
	switch req.Encoding {
	case "", "utf8":
		payload = []byte(req.Payload)
	case "hex":
		payload, err = hex.DecodeString(strings.Join(strings.Fields(req.Payload), ""))
	case "base64":
		payload, err = base64.StdEncoding.DecodeString(strings.TrimSpace(req.Payload))
	default:
		return nil, errors.New(`encoding must be "utf8", "hex" or "base64"`)
	}
	if err != nil {
		return nil, errors.New("payload is not valid " + req.Encoding + ": " + err.Error())
	}
	if len(payload) > maxPublish {
		return nil, errors.New("payload larger than 1 MiB")
	}
	m := &broker.Message{Topic: req.Topic, Payload: payload, QoS: req.QoS, Retain: req.Retain}
	if pr := req.Properties; pr != nil {
		props := &packet.Properties{}
		if pr.PayloadFormat != nil {
			if *pr.PayloadFormat > 1 {
				return nil, errors.New("payloadFormat must be 0 or 1")
			}
			if *pr.PayloadFormat == 1 && !utf8.Valid(payload) {
				return nil, errors.New("payloadFormat 1 says UTF-8 but the payload is not")
			}
			props.SetUint(packet.PropPayloadFormat, uint32(*pr.PayloadFormat))
		}
		if pr.ContentType != "" {
			props.SetString(packet.PropContentType, pr.ContentType)
		}
		if pr.ResponseTopic != "" {
			if !packet.ValidTopicName(pr.ResponseTopic) {
				return nil, errors.New("responseTopic must not contain + or #")
			}
			props.SetString(packet.PropResponseTopic, pr.ResponseTopic)
		}
		if pr.CorrelationData != "" {
			props.CorrelationData = []byte(pr.CorrelationData)
			props.Set(packet.PropCorrelationData)
		}
		for _, u := range pr.User {
			props.User = append(props.User, packet.UserProperty{Key: u.Key, Value: u.Value})
		}
		if !props.Empty() {
			m.Properties = props
		}
		if pr.MessageExpiry > 0 {
			m.Expiry = time.Now().Add(time.Duration(pr.MessageExpiry) * time.Second)
		}
	}
	return m, nil
}

// deleteRetained is POST /api/v1/retained/delete {"topic", "subtree"}:
// it clears the retained message of topic, and with subtree those of every
// topic below it.
func (h *handler) deleteRetained(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		Topic   string `json:"topic"`
		Subtree bool   `json:"subtree"`
	}
	if !readJSON(w, r, 64<<10, &req) {
		return
	}
	if !packet.ValidTopicName(req.Topic) {
		writeError(w, http.StatusBadRequest, "invalid topic name")
		return
	}
	filter := req.Topic
	if req.Subtree {
		filter += "/#"
	}
	n, err := h.s.broker.DeleteRetained(r.Context(), filter)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.s.log.Info(fmt.Sprintf("web: %s deleted %d retained messages matching %q", actor(p, r), n, filter))
	writeJSON(w, r, http.StatusOK, map[string]int{"deleted": n})
}

// clientInfo is a session as GET /api/v1/clients lists it.
type clientInfo struct {
	ClientID      string                    `json:"clientId"`
	Connected     bool                      `json:"connected"`
	Username      *string                   `json:"username"` // null: none given
	Address       string                    `json:"address,omitempty"`
	Listener      string                    `json:"listener,omitempty"`
	Protocol      string                    `json:"protocol"`
	KeepAlive     float64                   `json:"keepAlive"` // seconds, as enforced
	Expiry        uint32                    `json:"expiry"`
	ConnectedAt   int64                     `json:"connectedAt,omitempty"` // unix milliseconds
	Subscriptions []broker.SubscriptionInfo `json:"subscriptions"`
	Queued        int                       `json:"queued"`
	Inflight      int                       `json:"inflight"`
	Dropped       uint64                    `json:"dropped"`
}

func protocolName(v byte) string {
	switch v {
	case 3:
		return "MQTT 3.1"
	case 4:
		return "MQTT 3.1.1"
	case 5:
		return "MQTT 5.0"
	}
	return "?"
}

func (h *handler) clients(w http.ResponseWriter, r *http.Request, _ *principal) {
	ss := h.s.broker.Sessions()
	out := make([]clientInfo, 0, len(ss))
	for _, si := range ss {
		ci := clientInfo{ClientID: si.ClientID, Connected: si.Connected, Address: si.Remote, Listener: si.Listener,
			Protocol: protocolName(si.Version), KeepAlive: si.KeepAlive.Seconds(), Expiry: si.Expiry,
			Subscriptions: si.Subscriptions, Queued: si.Queued, Inflight: si.Inflight, Dropped: si.Dropped}
		if ci.Subscriptions == nil {
			ci.Subscriptions = []broker.SubscriptionInfo{}
		}
		if si.HasUsername {
			u := si.Username
			ci.Username = &u
		}
		if !si.ConnectedAt.IsZero() {
			ci.ConnectedAt = si.ConnectedAt.UnixMilli()
		}
		out = append(out, ci)
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"clients": out})
}

// disconnect is POST /api/v1/disconnect {"clientId"}.
func (h *handler) disconnect(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		ClientID string `json:"clientId"`
	}
	if !readJSON(w, r, 64<<10, &req) {
		return
	}
	ok := h.s.broker.Disconnect(req.ClientID)
	was := "connected"
	if !ok {
		was = "not connected"
	}
	h.s.log.Info(fmt.Sprintf("web: %s disconnected client %q (it was %s)", actor(p, r), req.ClientID, was))
	writeJSON(w, r, http.StatusOK, map[string]bool{"disconnected": ok})
}

// stats is GET /api/v1/stats: the samples for the graphs and the $SYS
// values now, those p may read: a user whose Authorizers deny a $SYS topic
// does not get its value, nor the graphs, which are made of those values.
func (h *handler) stats(w http.ResponseWriter, r *http.Request, p *principal) {
	s := h.s
	sys, series := s.broker.SysValues(), s.series()
	if filter := h.readFilter(p); filter != nil {
		if !s.seesStats(filter) {
			series = []statsSample{}
		}
		for t := range sys {
			if !filter(t) {
				delete(sys, t)
			}
		}
	}
	s.mu.Lock()
	topics, refused, hb := len(s.topics.byName), s.topics.refused, s.topics.bytes
	s.mu.Unlock()
	writeJSON(w, r, http.StatusOK, map[string]any{
		"series":   series,
		"interval": s.cfg.StatsInterval.Milliseconds(),
		"sys":      sys,
		"web": map[string]any{"topics": topics, "maxTopics": s.cfg.MaxTopics, "refused": refused,
			"observed": s.seen.Load(), "dropped": s.dropped.Load(), "historyBytes": hb,
			"maxHistoryBytes": s.cfg.MaxHistoryBytes, "streams": s.subscribers()},
	})
}

// events is GET /api/v1/events, the Server-Sent Events stream of changed
// topics ("topics") and statistics ("stats"). "resync" tells the page it
// missed updates and must reload /api/v1/topics; "logout" that its session
// ended.
func (h *handler) events(w http.ResponseWriter, r *http.Request, p *principal) {
	valid := func() bool { return true }
	if p.token != "" {
		valid = func() bool { return h.session(p.token, false) != nil }
	}
	h.s.serveEvents(w, r, h.readFilter(p), valid)
}

// aclCheck is POST /api/v1/acl {"username", "hasUsername", "clientId",
// "topic", "access"}: would the broker let such a client read or publish
// topic, and which rule says so?
func (h *handler) aclCheck(w http.ResponseWriter, r *http.Request, _ *principal) {
	var req struct {
		Username    string `json:"username"`
		HasUsername *bool  `json:"hasUsername"` // default: a non-empty username
		ClientID    string `json:"clientId"`
		Topic       string `json:"topic"`
		Access      string `json:"access"` // "read" or "write"
	}
	if !readJSON(w, r, 64<<10, &req) {
		return
	}
	if req.Access != "read" && req.Access != "write" {
		writeError(w, http.StatusBadRequest, `access must be "read" or "write"`)
		return
	}
	if !packet.ValidTopicName(req.Topic) {
		writeError(w, http.StatusBadRequest, "give a topic name, without + or #")
		return
	}
	hasUser := req.Username != ""
	if req.HasUsername != nil {
		hasUser = *req.HasUsername
	}
	acc := broker.Read
	if req.Access == "write" {
		acc = broker.Write
	}
	var d broker.Decision
	switch {
	case acc == broker.Write && (req.Topic == "$SYS" || strings.HasPrefix(req.Topic, "$SYS/")):
		d = broker.Decision{Reason: "the broker refuses every client's publish to $SYS, whatever the ACL says"}
	case h.cfg.Security == nil:
		d = broker.Decision{Allowed: true, Reason: "no acl_file is configured: every client may read and publish every topic (but $SYS)"}
	default:
		c := &broker.Client{ID: req.ClientID, Username: req.Username, HasUsername: hasUser}
		d = h.cfg.Security.Explain(r.Context(), c, req.Topic, acc)
	}
	writeJSON(w, r, http.StatusOK, d)
}
