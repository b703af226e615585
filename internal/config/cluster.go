package config

import (
	"encoding/base64"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/midge-mqtt/midge/cluster"
)

// Cluster holds the cluster_* options (package cluster). Name is "" when
// the configuration has none: the broker then runs alone.
//
// The embedded cluster.Config holds the options it declares: cluster_name
// (Name), cluster_node_id (NodeID; "" for the host name), cluster_listen
// (Listen), cluster_gossip (Gossip), cluster_advertise (Advertise),
// cluster_gossip_advertise (GossipAdvertise), cluster_join (Join, in order: a line
// may give several and the option may be repeated), cluster_bootstrap_expect
// (BootstrapExpect, 0 when not given), cluster_data_dir (DataDir; default
// persistence_location/cluster, "cluster" in the working directory without
// persistence_location) and cluster_gossip_key (GossipKey, decoded from
// base64: 16, 24 or 32 bytes; nil without it). Its other fields are left
// zero: the broker sets them.
type Cluster struct {
	cluster.Config
	// CAFile, CertFile and KeyFile are cluster_cafile, cluster_certfile and
	// cluster_keyfile: mutual TLS on the cluster port. All three or none.
	CAFile, CertFile, KeyFile string
	// TLSPos is where the first of them is, for messages.
	TLSPos Position
	// Pos is where the first cluster option is, for messages.
	Pos Position
}

// clusterHandlers returns the handlers of the cluster_* options.
func clusterHandlers() map[string]handler {
	c := func(p *parser, pos Position) *Cluster {
		if p.res.Cluster.Pos.File == "" {
			p.res.Cluster.Pos = pos
		}
		return &p.res.Cluster
	}
	str := func(set func(c *Cluster, v string)) handler {
		return func(p *parser, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok && p.once(pos, name, name) {
				set(c(p, pos), v)
			}
		}
	}
	addr := func(set func(c *Cluster, v string)) handler {
		return func(p *parser, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok && p.once(pos, name, name) && p.hostPort(pos, name, v) {
				set(c(p, pos), v)
			}
		}
	}
	tlsFile := func(field func(c *Cluster) *string) handler {
		return func(p *parser, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok && p.once(pos, name, name) {
				cl := c(p, pos)
				if cl.TLSPos.File == "" {
					cl.TLSPos = pos
				}
				*field(cl) = v
			}
		}
	}
	return map[string]handler{
		"cluster_name": str(func(c *Cluster, v string) { c.Name = v }),
		"cluster_node_id": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok && p.once(pos, name, name) {
				if len(v) > 128 {
					p.errorf(pos, "cluster_node_id longer than 128 bytes")
					return
				}
				c(p, pos).NodeID = v
			}
		},
		"cluster_listen":    addr(func(c *Cluster, v string) { c.Listen = v }),
		"cluster_gossip":    addr(func(c *Cluster, v string) { c.Gossip = v }),
		"cluster_advertise": addr(func(c *Cluster, v string) { c.Advertise = v }),
		"cluster_gossip_advertise": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok && p.once(pos, name, name) && p.hostPort(pos, name, v) {
				if host, _, _ := net.SplitHostPort(v); net.ParseIP(host) == nil {
					p.errorf(pos, "invalid %s address %q: want IP:PORT (memberlist advertises an IP address)", name, v)
					return
				}
				c(p, pos).GossipAdvertise = v
			}
		},
		"cluster_join": func(p *parser, pos Position, name, rest string) {
			f := strings.FieldsFunc(rest, blank)
			if i := slicesIndexComment(f); i >= 0 {
				f = f[:i]
			}
			if len(f) == 0 {
				p.errorf(pos, "empty %s value", name)
				return
			}
			cl := c(p, pos)
			for _, a := range f {
				if p.hostPort(pos, name, a) {
					cl.Join = append(cl.Join, a)
				}
			}
		},
		"cluster_bootstrap_expect": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.integer(pos, name, rest); ok && p.once(pos, name, name) {
				if v < 1 || v > 100 {
					p.errorf(pos, "invalid cluster_bootstrap_expect %d: want 1 to 100 (3 or 5 is usual)", v)
					return
				}
				c(p, pos).BootstrapExpect = v
			}
		},
		"cluster_cafile":   tlsFile(func(c *Cluster) *string { return &c.CAFile }),
		"cluster_certfile": tlsFile(func(c *Cluster) *string { return &c.CertFile }),
		"cluster_keyfile":  tlsFile(func(c *Cluster) *string { return &c.KeyFile }),
		"cluster_gossip_key": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.token(pos, name, rest); ok && p.once(pos, name, name) {
				k, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					p.errorf(pos, "cluster_gossip_key is not base64 (make one with: openssl rand -base64 32)")
					return
				}
				if len(k) != 16 && len(k) != 24 && len(k) != 32 {
					p.errorf(pos, "cluster_gossip_key of %d bytes: want 16, 24 or 32 (openssl rand -base64 32)", len(k))
					return
				}
				c(p, pos).GossipKey = k
			}
		},
		"cluster_data_dir": func(p *parser, pos Position, name, rest string) {
			if v, ok := p.str(pos, name, rest); ok && p.once(pos, name, name) {
				c(p, pos).DataDir = v
			}
		},
	}
}

// hostPort checks a HOST:PORT value of option name, recording an error.
func (p *parser) hostPort(pos Position, name, v string) bool {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		p.errorf(pos, "invalid %s address %q: want HOST:PORT", name, v)
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.errorf(pos, "invalid %s address %q: the port must be 1 to 65535", name, v)
		return false
	}
	advertise := strings.HasSuffix(name, "_advertise")
	if host == "" && (name == "cluster_join" || advertise) {
		p.errorf(pos, "invalid %s address %q: no host", name, v)
		return false
	}
	if ip := net.ParseIP(host); advertise && ip != nil && ip.IsUnspecified() {
		p.errorf(pos, "invalid %s address %q: the other nodes cannot dial an unspecified address", name, v)
		return false
	}
	return true
}

// buildCluster checks the cluster options together and applies defaults.
func (p *parser) buildCluster() {
	c := &p.res.Cluster
	if c.Pos.File == "" {
		return
	}
	if c.Name == "" {
		p.errorf(c.Pos, "cluster options without cluster_name")
	}
	if c.Listen == "" {
		p.errorf(c.Pos, "cluster options without cluster_listen (node-to-node TCP, HOST:PORT)")
	}
	if c.Gossip == "" {
		p.errorf(c.Pos, "cluster options without cluster_gossip (memberlist, HOST:PORT)")
	}
	if c.Listen != "" && c.Listen == c.Gossip {
		p.errorf(c.Pos, "cluster_listen and cluster_gossip are both %s: they need different ports", c.Listen)
	}
	if c.BootstrapExpect == 0 && len(c.Join) == 0 {
		p.errorf(c.Pos, "cluster options without cluster_bootstrap_expect or cluster_join: the node could never form or find a cluster")
	}
	if n := btoi(c.CAFile != "") + btoi(c.CertFile != "") + btoi(c.KeyFile != ""); n != 0 && n != 3 {
		var missing []string
		for _, m := range []struct{ name, v string }{{"cluster_cafile", c.CAFile}, {"cluster_certfile", c.CertFile}, {"cluster_keyfile", c.KeyFile}} {
			if m.v == "" {
				missing = append(missing, m.name)
			}
		}
		p.errorf(c.TLSPos, "cluster TLS needs cluster_cafile, cluster_certfile and cluster_keyfile together: %s missing", strings.Join(missing, " and "))
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join(p.res.Persistence.Location, "cluster")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
