package bus

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// RateUsageSubject carries rate-limit consumption between edges: every
// edge publishes, every few tens of milliseconds, how many requests it
// admitted per limiter key since its last report, and every other edge
// takes those tokens out of its own buckets. Pub/sub, not JetStream: a
// lost report only loosens the limit for one interval.
const RateUsageSubject = "avap.ratelimit.v1.usage"

// RateUsage is one limiter key and the requests admitted for it.
type RateUsage struct {
	Key string // limiter key, e.g. "k:<key id>", "e:/api/v1/execute"
	N   uint32 // requests admitted since the last report
}

// rateUsageVersion is the first byte of an encoded report.
const rateUsageVersion = 1

// Bounds on a decoded report, against hostile or corrupt messages.
const (
	maxRateKeyLen  = 512
	maxRateEntries = 1 << 16
)

// AppendRateUsage encodes a report of node: version byte, uvarint-length
// node, then per entry a uvarint-length key and a uvarint count.
func AppendRateUsage(b []byte, node string, us []RateUsage) []byte {
	b = append(b, rateUsageVersion)
	b = binary.AppendUvarint(b, uint64(len(node)))
	b = append(b, node...)
	for _, u := range us {
		b = binary.AppendUvarint(b, uint64(len(u.Key)))
		b = append(b, u.Key...)
		b = binary.AppendUvarint(b, uint64(u.N))
	}
	return b
}

var errRateUsage = errors.New("malformed rate usage report")

// DecodeRateUsage decodes a report and calls fn per entry.
func DecodeRateUsage(b []byte, fn func(key string, n uint32)) (node string, err error) {
	if len(b) == 0 || b[0] != rateUsageVersion {
		return "", errRateUsage
	}
	b = b[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > maxRateKeyLen || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	node, ok := str()
	if !ok {
		return "", errRateUsage
	}
	for i := 0; len(b) > 0; i++ {
		if i >= maxRateEntries {
			return node, errRateUsage
		}
		key, ok := str()
		if !ok {
			return node, errRateUsage
		}
		n, k := binary.Uvarint(b)
		if k <= 0 || n > 1<<32-1 {
			return node, errRateUsage
		}
		b = b[k:]
		fn(key, uint32(n))
	}
	return node, nil
}

// PublishRateUsage publishes one report of node.
func PublishRateUsage(nc *nats.Conn, node string, us []RateUsage, buf []byte) ([]byte, error) {
	buf = AppendRateUsage(buf[:0], node, us)
	if err := nc.Publish(RateUsageSubject, buf); err != nil {
		return buf, fmt.Errorf("publish rate usage: %w", err)
	}
	return buf, nil
}

// SubscribeRateUsage calls fn for every entry of every report published by
// a node other than self. Malformed reports are dropped.
func SubscribeRateUsage(nc *nats.Conn, self string, fn func(key string, n uint32)) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(RateUsageSubject, func(m *nats.Msg) {
		if len(m.Data) < 2 {
			return
		}
		// Skip our own reports before decoding entries.
		n, k := binary.Uvarint(m.Data[1:])
		if k > 0 && n == uint64(len(self)) && len(m.Data) >= 1+k+int(n) && string(m.Data[1+k:1+k+int(n)]) == self {
			return
		}
		_, _ = DecodeRateUsage(m.Data, fn)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", RateUsageSubject, err)
	}
	return sub, nil
}
