package bus

import "github.com/nats-io/nats.go"

// Replicas is the replica count for the JetStream streams and KV buckets
// the mesh creates over nc: 3 when the client knows of at least three
// servers (the URLs it was given plus those the cluster advertised: a
// cluster of three or more `avap nats` nodes), else 1. R2 is never used:
// it tolerates no more failures than R1 and needs both nodes for writes.
// A nil connection gives 1.
func Replicas(nc *nats.Conn) int {
	if nc == nil {
		return 1
	}
	if len(nc.Servers()) >= 3 {
		return 3
	}
	return 1
}
