package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Status is a node's view of the cluster, as GET /v1/status on the cluster
// port returns it (JSON) and "midge cluster status" prints it.
type Status struct {
	Cluster string `json:"cluster"` // cluster name
	NodeID  string `json:"node_id"` // this node's id
	Address string `json:"address"` // cluster address
	Gossip  string `json:"gossip"`  // gossip address
	// State is the node's raft state: Follower, Candidate, Leader or
	// Shutdown.
	State string `json:"state"`
	// Leader and LeaderAddress name the leader this node knows, "" for
	// none.
	Leader        string `json:"leader"`
	LeaderAddress string `json:"leader_address"`
	// Term is raft's current term; LastIndex, CommitIndex and AppliedIndex
	// the index of the last entry of the node's log, of the last one known
	// committed, and of the last one applied to the state.
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// Members are the nodes memberlist or raft's configuration know, by id.
	Members []MemberStatus `json:"members"`
	// Owners is the number of client identifiers claimed; Retained the
	// number of retained messages.
	Owners   int `json:"owners"`
	Retained int `json:"retained"`
	// Peers are the forwarding streams to the other live nodes.
	Peers []PeerStatus `json:"peers"`
	// Routes is the number of routes (distinct filters subscribed to)
	// of each node this node knows the routes of, itself included.
	Routes map[string]int `json:"routes,omitempty"`
}

// MemberStatus is a member as a node sees it.
type MemberStatus struct {
	ID      string `json:"id"`                // node id
	Address string `json:"address,omitempty"` // cluster address
	Gossip  string `json:"gossip,omitempty"`  // gossip address
	// State is memberlist's: alive, suspect, dead, left; or unknown for a
	// raft voter memberlist has not heard of (yet).
	State  string `json:"state"`
	Voter  bool   `json:"voter"`  // a voter in raft's configuration
	Leader bool   `json:"leader"` // the leader this node knows
	// Clients is the number of client identifiers the member owns in
	// this node's copy of the state (its connected clients, as the
	// cluster agreed on them, and its offline persistent sessions).
	Clients int `json:"clients"`
}

// Status returns the node's view of the cluster.
func (n *Node) Status() Status {
	st := n.raft.Stats()
	num := func(k string) uint64 { v, _ := strconv.ParseUint(st[k], 10, 64); return v }
	laddr, lid := n.raft.LeaderWithID()
	s := Status{
		Cluster: n.cfg.Name, NodeID: n.cfg.NodeID, Address: n.advertise, Gossip: n.gossip,
		State: n.raft.State().String(), Leader: string(lid), LeaderAddress: string(laddr),
		Term: num("term"), LastIndex: num("last_log_index"), CommitIndex: num("commit_index"), AppliedIndex: num("applied_index"),
	}
	s.Owners, s.Retained = n.fsm.counts()
	s.Peers = n.peerStatus()
	s.Routes = n.routes.counts(n.cfg.NodeID)
	slices.SortFunc(s.Peers, func(a, b PeerStatus) int { return strings.Compare(a.ID, b.ID) })
	byID := make(map[string]*MemberStatus)
	n.mu.Lock()
	for id, mi := range n.members {
		byID[id] = &MemberStatus{ID: id, Address: mi.meta.Addr, Gossip: mi.gossip, State: stateName(mi.state)}
	}
	n.mu.Unlock()
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			m := byID[string(srv.ID)]
			if m == nil {
				m = &MemberStatus{ID: string(srv.ID), State: "unknown"}
				byID[string(srv.ID)] = m
			}
			m.Address = string(srv.Address)
			m.Voter = srv.Suffrage == raft.Voter
		}
	}
	clients := n.fsm.ownersByNode()
	for id, m := range byID {
		m.Leader = id == string(lid) && id != ""
		m.Clients = clients[id]
		s.Members = append(s.Members, *m)
	}
	slices.SortFunc(s.Members, func(a, b MemberStatus) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return s
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
}

// FetchStatus asks the node at a cluster address (HOST:PORT) for its
// status, over its API.
func FetchStatus(ctx context.Context, client *http.Client, addr string) (Status, error) {
	if client == nil {
		client = http.DefaultClient
	}
	return fetchStatus(ctx, client, "http://", addr)
}

// FetchStatusTLS asks the node at a cluster address (HOST:PORT) for its
// status over mutual TLS, tc being made by TLSConfig.
func FetchStatusTLS(ctx context.Context, tc *tls.Config, addr string) (Status, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tc}}
	return fetchStatus(ctx, client, "https://", addr)
}

func fetchStatus(ctx context.Context, client *http.Client, scheme, addr string) (Status, error) {
	resp, body, err := call(ctx, client, http.MethodGet, scheme+addr+"/v1/status", nil, 16<<20)
	if err != nil {
		return Status{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	var s Status
	if err := json.Unmarshal(body, &s); err != nil {
		return Status{}, fmt.Errorf("%s: %w", addr, err)
	}
	return s, nil
}

// call sends one request of the node API (a JSON body when body is not nil)
// and returns the response, whose body is closed, and at most limit bytes
// of that body.
func call(ctx context.Context, client *http.Client, method, url string, body []byte, limit int64) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp, b, err
}
