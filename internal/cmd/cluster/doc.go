// Package cluster is "midge cluster": commands about a midge cluster.
// "midge cluster status" asks a node, over its cluster port's HTTP API
// (GET /v1/status), for its view of the cluster and prints it: the node,
// its raft state, term and indexes, the leader, and every member with its
// state. docs/cluster.md describes the cluster.
package cluster
