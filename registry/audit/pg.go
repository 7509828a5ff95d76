package audit

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/registry/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the audit schema's goose migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

// pgStore writes audit events to the audit_events table.
type pgStore struct {
	db *postgres.DB
}

// insertBatch inserts a whole batch in one statement (arrays unnested
// server-side); a re-delivered event (same id) is skipped.
const insertBatch = `INSERT INTO audit_events
 (id, time, kind, request_id, client_id, script_hash, command, limits, outcome, code, status,
  duration_us, steps, executor_id, node_id, job_id, action, target, detail)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::text[], $8::jsonb[], $9::text[], $10::text[], $11::int[], $12::bigint[], $13::bigint[], $14::text[],
  $15::text[], $16::text[], $17::text[], $18::text[], $19::text[])
ON CONFLICT (id) DO NOTHING`

func (s *pgStore) Write(ctx context.Context, evs []bus.AuditEvent) error {
	n := len(evs)
	var (
		ids, kinds, rids, cids, hashes, cmds, outcomes, codes = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		execs, nodes, jobs, actions, targets, details         = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		times                                                 = make([]time.Time, n)
		limits                                                = make([]*string, n)
		statuses                                              = make([]int32, n)
		durs, steps                                           = make([]int64, n), make([]int64, n)
	)
	for i := range evs {
		e := &evs[i]
		ids[i], times[i], kinds[i], rids[i], cids[i] = e.ID, e.Time, e.Kind, e.RequestID, e.ClientID
		hashes[i], cmds[i], outcomes[i], codes[i] = e.ScriptHash, e.Command, e.Outcome, string(e.Code)
		statuses[i], durs[i], steps[i] = int32(e.Status), e.DurationUS, e.Steps
		execs[i], nodes[i], jobs[i], actions[i], targets[i], details[i] = e.ExecutorID, e.NodeID, e.JobID, e.Action, e.Target, e.Detail
		if e.Limits != nil {
			b, _ := json.Marshal(e.Limits)
			s := string(b)
			limits[i] = &s
		}
	}
	tx, err := s.db.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("audit: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, insertBatch, ids, times, kinds, rids, cids, hashes, cmds, limits, outcomes, codes,
		statuses, durs, steps, execs, nodes, jobs, actions, targets, details); err != nil {
		return fmt.Errorf("audit: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("audit: commit: %w", err)
	}
	return nil
}

func (s *pgStore) Query(ctx context.Context, q bus.AuditQuery) ([]bus.AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if !q.From.IsZero() {
		add("time >= ?", q.From)
	}
	if !q.To.IsZero() {
		add("time < ?", q.To)
	}
	if q.ClientID != "" {
		add("client_id = ?", q.ClientID)
	}
	if q.Outcome != "" {
		add("outcome = ?", q.Outcome)
	}
	if q.Kind != "" {
		add("kind = ?", q.Kind)
	}
	if q.RequestID != "" {
		add("request_id = ?", q.RequestID)
	}
	if q.JobID != "" {
		add("job_id = ?", q.JobID)
	}
	sqlText := `SELECT id, time, kind, request_id, client_id, script_hash, command, limits, outcome, code, status,
 duration_us, steps, executor_id, node_id, job_id, action, target, detail FROM audit_events`
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, queryLimit(q.Limit))
	sqlText += " ORDER BY time DESC, id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.db.Pool().Query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	defer rows.Close()
	var out []bus.AuditEvent
	for rows.Next() {
		var e bus.AuditEvent
		var limits []byte
		var code string
		var status int32
		if err := rows.Scan(&e.ID, &e.Time, &e.Kind, &e.RequestID, &e.ClientID, &e.ScriptHash, &e.Command, &limits,
			&e.Outcome, &code, &status, &e.DurationUS, &e.Steps, &e.ExecutorID, &e.NodeID, &e.JobID, &e.Action,
			&e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("audit: scan: %w", err)
		}
		e.Code, e.Status = bus.Code(code), int(status)
		if len(limits) > 0 {
			e.Limits = &bus.AuditLimits{}
			_ = json.Unmarshal(limits, e.Limits)
		}
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Prune deletes events older than before, in chunks so one run never holds
// a long transaction.
func (s *pgStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Pool().Exec(ctx,
			`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE time < $1 LIMIT 10000)`, before)
		if err != nil {
			return total, fmt.Errorf("audit: prune: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 10000 {
			return total, nil
		}
	}
}

func queryLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}
