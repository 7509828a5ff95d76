package bus

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"time"
)

// Names of the durable job machinery. Like the execution subjects they are
// built only here.
const (
	// JobsSubjectPrefix prefixes every job subject:
	// "avap.jobs.v1.<priority>" (queued jobs, one work-queue stream per
	// priority), "avap.jobs.v1.dlq.<id>" (dead letters),
	// "avap.jobs.v1.callback.<id>" (callbacks to deliver) and the core NATS
	// notice "avap.jobs.v1.cancel.<id>" (cancel a running job).
	JobsSubjectPrefix = "avap.jobs.v1"
	// JobsStreamPrefix prefixes the per-priority work-queue streams:
	// AVAP_JOBS_HIGH, AVAP_JOBS_NORMAL, AVAP_JOBS_LOW.
	JobsStreamPrefix = "AVAP_JOBS_"
	// JobsDLQStream holds dead letters, one subject per job.
	JobsDLQStream = "AVAP_JOBS_DLQ"
	// JobsCallbackStream is the work queue of callbacks to deliver.
	JobsCallbackStream = "AVAP_JOBS_CALLBACKS"
	// JobsConsumer is the durable pull consumer the executors share on
	// every job stream (and on the callback stream).
	JobsConsumer = "avap-executor"
	// JobsBucket is the KV bucket of job records (state, history, result);
	// its TTL is the result retention.
	JobsBucket = "avap_jobs"
	// HeaderJobID carries the job id on queued job messages.
	HeaderJobID = "Avap-Job-Id"
	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"
)

// Priority orders queued jobs. Executors serve the priorities by weighted
// round robin (see JobWeights): high first, low never starved.
type Priority string

// Priorities.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Priorities lists every priority, highest first.
func Priorities() []Priority { return []Priority{PriorityHigh, PriorityNormal, PriorityLow} }

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool {
	return p == PriorityHigh || p == PriorityNormal || p == PriorityLow
}

// JobWeights is the scheduling policy of the executors: out of every 10
// jobs an executor starts while all three queues hold work, 6 are high, 3
// normal and 1 low (smooth weighted round robin). A queue that is empty
// gives its turn to the next one, so one priority alone gets all the
// capacity, and a low job waits at most ~10 starts behind a flood of high
// ones: low is never starved.
func JobWeights() map[Priority]int {
	return map[Priority]int{PriorityHigh: 6, PriorityNormal: 3, PriorityLow: 1}
}

// JobSubject returns "avap.jobs.v1.<priority>".
func JobSubject(p Priority) (string, error) {
	if !p.Valid() {
		return "", fmt.Errorf("%w: priority %q", ErrInvalidToken, string(p))
	}
	return JobsSubjectPrefix + "." + string(p), nil
}

// JobStream returns the stream name of priority p, e.g. AVAP_JOBS_HIGH.
func JobStream(p Priority) (string, error) {
	switch p {
	case PriorityHigh:
		return JobsStreamPrefix + "HIGH", nil
	case PriorityNormal:
		return JobsStreamPrefix + "NORMAL", nil
	case PriorityLow:
		return JobsStreamPrefix + "LOW", nil
	}
	return "", fmt.Errorf("%w: priority %q", ErrInvalidToken, string(p))
}

// JobDLQSubject returns "avap.jobs.v1.dlq.<id>".
func JobDLQSubject(id string) (string, error) { return jobIDSubject("dlq", id) }

// JobCallbackSubject returns "avap.jobs.v1.callback.<id>".
func JobCallbackSubject(id string) (string, error) { return jobIDSubject("callback", id) }

// JobCancelSubject returns "avap.jobs.v1.cancel.<id>"; JobCancelSubject("*")
// is the wildcard executors subscribe to.
func JobCancelSubject(id string) (string, error) {
	if id == "*" {
		return JobsSubjectPrefix + ".cancel.*", nil
	}
	return jobIDSubject("cancel", id)
}

func jobIDSubject(kind, id string) (string, error) {
	if err := ValidJobID(id); err != nil {
		return "", err
	}
	return JobsSubjectPrefix + "." + kind + "." + id, nil
}

// ValidJobID accepts 1..64 characters of [A-Za-z0-9_-]: safe as a subject
// token, a KV key and a URL path segment.
func ValidJobID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: job id must be 1-64 characters", ErrInvalidJobID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q", ErrInvalidJobID, id)
		}
	}
	return nil
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewJobID returns a random job id (26 characters of [0-9a-v]).
func NewJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// JobIDForKey derives the job id of an idempotent submission from the hash
// of its Idempotency-Key, so a retried submission finds the same job.
func JobIDForKey(keyHash string) string {
	h := sha256.Sum256([]byte("job\x00" + keyHash))
	return "i" + idEncoding.EncodeToString(h[:15])
}

// JobState is the life-cycle state of a job.
type JobState string

// Job states. queued -> running -> succeeded | failed; a retryable failure
// goes back to queued; after the last attempt a job is dead (in the DLQ);
// canceled is set by DELETE.
const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobDead      JobState = "dead"
	JobCanceled  JobState = "canceled"
)

// Terminal reports whether s is a final state.
func (s JobState) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobDead || s == JobCanceled
}

// JobRecord is the stored state of one job (JSON in JobsBucket, key = id).
// Every change is a compare-and-swap on the key's revision, so exactly one
// executor can record the final result.
type JobRecord struct {
	ID          string         `json:"id"`
	State       JobState       `json:"state"`
	Priority    Priority       `json:"priority"`
	RequestID   string         `json:"request_id,omitempty"`
	ClientID    string         `json:"client_id,omitempty"`
	Attempts    int            `json:"attempts"`
	MaxAttempts int            `json:"max_attempts"`
	Seq         uint64         `json:"seq,omitempty"` // stream sequence of the queued message
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
	StartedAt   *time.Time     `json:"started_at,omitempty"`
	FinishedAt  *time.Time     `json:"finished_at,omitempty"`
	NextAttempt *time.Time     `json:"next_attempt_at,omitempty"`
	Executor    string         `json:"executor_id,omitempty"`
	Reply       *JobReply      `json:"reply,omitempty"` // the run's answer once finished
	History     []JobAttempt   `json:"history,omitempty"`
	CallbackURL string         `json:"callback_url,omitempty"`
	Callback    *CallbackState `json:"callback,omitempty"`
	DeadReason  string         `json:"dead_reason,omitempty"`
}

// JobAttempt is one entry of a job's history.
type JobAttempt struct {
	Attempt    int        `json:"attempt"`
	Executor   string     `json:"executor_id,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Outcome    string     `json:"outcome"` // succeeded, failed, retry, lost, interrupted, dead, redriven, canceled
	Code       Code       `json:"code,omitempty"`
	Error      string     `json:"error,omitempty"`
	RetryAt    *time.Time `json:"retry_at,omitempty"` // when the next attempt may start (backoff)
}

// CallbackState tracks delivery of a job's callback.
type CallbackState struct {
	State       string     `json:"state"` // pending, delivered, failed
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"last_status,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// JobReply is the JSON form of a Reply kept in a JobRecord.
type JobReply struct {
	Success    bool            `json:"success"`
	Status     int             `json:"status,omitempty"`
	Code       Code            `json:"code,omitempty"`
	Error      string          `json:"error,omitempty"`
	Line       int             `json:"line,omitempty"`
	Col        int             `json:"col,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Variables  json.RawMessage `json:"variables,omitempty"`
	Logs       []string        `json:"logs,omitempty"`
	Stats      Stats           `json:"stats"`
	ExecutorID string          `json:"executor_id,omitempty"`
}

// NewJobReply copies r (its raw JSON too: r may alias a message buffer).
func NewJobReply(r *Reply) *JobReply {
	return &JobReply{
		Success: r.Success, Status: r.Status, Code: r.Code, Error: r.Error, Line: r.Line, Col: r.Col,
		Result: clone(r.Result), Variables: clone(r.Variables), Logs: append([]string(nil), r.Logs...),
		Stats: r.Stats, ExecutorID: r.ExecutorID,
	}
}

// ToReply returns the Reply form of j.
func (j *JobReply) ToReply() Reply {
	return Reply{
		Success: j.Success, Status: j.Status, Code: j.Code, Error: j.Error, Line: j.Line, Col: j.Col,
		Result: j.Result, Variables: j.Variables, Logs: j.Logs, Stats: j.Stats, ExecutorID: j.ExecutorID,
	}
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// DeadLetter is one entry of the dead-letter stream.
type DeadLetter struct {
	ID        string       `json:"id"`
	Priority  Priority     `json:"priority"`
	Reason    string       `json:"reason"`
	Attempts  int          `json:"attempts"`
	LastCode  Code         `json:"last_code,omitempty"`
	LastError string       `json:"last_error,omitempty"`
	History   []JobAttempt `json:"history,omitempty"`
	DeadAt    time.Time    `json:"dead_at"`
	Request   []byte       `json:"request,omitempty"` // msgpack Request, to redrive
	Seq       uint64       `json:"seq,omitempty"`
}

// JobBackoff is the delay before attempt n+1 after n failed attempts:
// exponential (base·2^(n-1), capped at max) with "equal jitter" — a
// uniformly random value in [d/2, d] — so delays never shrink from one
// attempt to the next while concurrent retries spread out. jitter is a
// number in [0,1).
func JobBackoff(n int, base, max time.Duration, jitter float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + time.Duration(jitter*float64(d/2))
}
