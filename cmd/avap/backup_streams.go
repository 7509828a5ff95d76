package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/avapmesh/avap/bus"
)

// Streams in a backup (format 2): the job queues, dead letters and
// callbacks to deliver, and audit events no sink has written yet. Their
// messages are read without consuming them (STREAM.MSG.GET by sequence)
// and published again on restore, in order, with their headers: the job
// id (Nats-Msg-Id) de-duplicates within the window, and an executor acks
// and drops a redelivered job whose record is already final, so restoring
// over a live mesh does not run a finished job twice.
//
// Archive members: stream/<NAME>/<seq> holding a backupMsg as JSON.

// backupStreams are the JetStream streams that hold state.
func backupStreams() []string {
	var out []string
	for _, p := range bus.Priorities() {
		name, _ := bus.JobStream(p)
		out = append(out, name)
	}
	return append(out, bus.JobsDLQStream, bus.JobsCallbackStream, bus.AuditStream)
}

// backupStream is a stream's settings and message count.
type backupStream struct {
	Config jetstream.StreamConfig `json:"config"`
	Msgs   int                    `json:"msgs"`
}

// backupMsg is one stored message.
type backupMsg struct {
	Subject string      `json:"subject"`
	Header  nats.Header `json:"header,omitempty"`
	Data    []byte      `json:"data"`
	Time    time.Time   `json:"time"` // when it was first stored (reference only)
}

// streamData is one stream's messages in stream order.
type streamData []backupMsg

// readStream returns every message of stream name, oldest first, or nil
// and false when the stream does not exist.
func readStream(ctx context.Context, js jetstream.JetStream, name string) (*backupStream, streamData, bool, error) {
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, nil, false, fmt.Errorf("stream %s: %w", name, err)
	}
	var msgs streamData
	// next_by_subj ">" skips the gaps acked work-queue messages leave.
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break // consumed since the info was read
		}
		if err != nil {
			return nil, nil, false, fmt.Errorf("stream %s: message %d: %w", name, seq, err)
		}
		if m.Sequence > info.State.LastSeq {
			break // published after the backup started
		}
		msgs = append(msgs, backupMsg{Subject: m.Subject, Header: m.Header, Data: m.Data, Time: m.Time.UTC()})
		seq = m.Sequence + 1
	}
	return &backupStream{Config: info.Config, Msgs: len(msgs)}, msgs, true, nil
}

// streamMember is the archive member name of the i-th message of stream.
func streamMember(stream string, i int) string { return fmt.Sprintf("stream/%s/%010d", stream, i) }

// parseStreamMember checks a stream/<NAME>/<n> member against the
// manifest and decodes it.
func parseStreamMember(name string, data []byte, known map[string]bool) (string, backupMsg, error) {
	var m backupMsg
	stream, n, ok := strings.Cut(strings.TrimPrefix(name, "stream/"), "/")
	if _, err := strconv.ParseUint(n, 10, 64); !ok || !known[stream] || err != nil {
		return "", m, fmt.Errorf("member %q: not a message of a stream in the manifest", name)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return "", m, fmt.Errorf("member %q: %w", name, err)
	}
	if m.Subject == "" || strings.ContainsAny(m.Subject, " \t\r\n*>") {
		return "", m, fmt.Errorf("member %q: invalid subject %q", name, m.Subject)
	}
	return stream, m, nil
}

// restoreOptions tune apply.
type restoreOptions struct {
	Replicas int       // replicas of the buckets and streams restore creates; 0 = as saved, capped to the target
	Out      io.Writer // notes on what restore did (replica caps); nil = none
}

// targetReplicas is the largest replica count the JetStream behind nc
// supports: 1 on a server that is not clustered, else the number of
// servers the client knows of.
func targetReplicas(nc *nats.Conn) int {
	if nc.ConnectedClusterName() == "" {
		return 1
	}
	return max(1, len(nc.Servers()))
}

// replicasFor picks the replica count of a bucket or stream that restore
// creates, and says so when it differs from the backup.
func (o restoreOptions) replicasFor(kind, name string, saved, target int) int {
	saved = max(saved, 1)
	switch {
	case o.Replicas > 0:
		if o.Replicas != saved {
			o.note("%s %s: %d replicas (--replicas; the backup had %d)", kind, name, o.Replicas, saved)
		}
		return o.Replicas
	case saved > target:
		o.note("%s %s: %d replicas instead of the backup's %d (the target supports %d; --replicas N to choose)", kind, name, target, saved, target)
		return target
	}
	return saved
}

func (o restoreOptions) note(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format+"\n", args...)
	}
}

// restoreStream creates stream bs when missing (replicas per opts) and
// publishes msgs to it in order. It returns how many were stored (not
// de-duplicated).
func restoreStream(ctx context.Context, js jetstream.JetStream, bs backupStream, msgs streamData, opts restoreOptions, target int) (int, error) {
	name := bs.Config.Name
	if _, err := js.Stream(ctx, name); errors.Is(err, jetstream.ErrStreamNotFound) {
		cfg := bs.Config
		cfg.Replicas = opts.replicasFor("stream", name, cfg.Replicas, target)
		cfg.Metadata = maps.Clone(cfg.Metadata)
		maps.DeleteFunc(cfg.Metadata, func(k, _ string) bool { return strings.HasPrefix(k, "_nats.") }) // set by the server
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			return 0, fmt.Errorf("stream %s: create: %w", name, err)
		}
	} else if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	stored := 0
	for i, m := range msgs {
		msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
		for k, v := range m.Header {
			if !strings.HasPrefix(k, "Nats-Expected-") { // would fail against the new sequences
				msg.Header[k] = v
			}
		}
		ack, err := js.PublishMsg(ctx, msg, jetstream.WithExpectStream(name))
		if err != nil {
			return stored, fmt.Errorf("stream %s: message %d (%s): %w", name, i+1, m.Subject, err)
		}
		if !ack.Duplicate {
			stored++
		}
	}
	return stored, nil
}
