package edge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/avapmesh/avap/bus"
)

// Session affinity. A client that sends Avap-Session on POST
// /api/v1/execute has its requests served by the same executor while that
// executor lives: the edge remembers which executor answered a session
// (from bus.Reply.ExecutorID) and sends the session's next request to that
// executor's node subject (bus.ExecNodeSubject). When the executor is gone
// (no responders, or it answers AVAP_SHUTTING_DOWN: the request did not
// run) the request takes the normal path (zone, then common subject) and
// the session moves to the executor that answers. The memory is per edge,
// bounded and expiring; affinity is a preference, never a guarantee.
const (
	// HeaderSession names the session of a request; echoed in the response.
	HeaderSession = "Avap-Session"
	// HeaderExecutor carries the id of the executor that answered.
	HeaderExecutor = "Avap-Executor"

	maxSessionLen = 128
	maxSessions   = 100_000          // sessions remembered per edge (LRU)
	sessionTTL    = 30 * time.Minute // a session is forgotten after this idle time
)

var errBadSession = errors.New(HeaderSession + " must be 1-128 characters of A-Z a-z 0-9 . _ -")

// sessionTable maps session -> executor id; created on first use so that
// edges whose clients send no sessions run no expiry goroutine.
type sessionTable struct {
	once sync.Once
	lru  *expirable.LRU[string, string]
}

func (t *sessionTable) get() *expirable.LRU[string, string] {
	t.once.Do(func() { t.lru = expirable.NewLRU[string, string](maxSessions, nil, sessionTTL) })
	return t.lru
}

// validSession reports whether s is a usable session id.
func validSession(s []byte) bool {
	if len(s) == 0 || len(s) > maxSessionLen {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// readSession takes the Avap-Session header into st.session (copied: it
// outlives the request in the session table). A header that is present but
// invalid is an error.
func (x *executeAPI) readSession(c *fiber.Ctx, st *execState) error {
	h := c.Request().Header.Peek(HeaderSession)
	if h == nil {
		return nil
	}
	if !validSession(h) {
		return errBadSession
	}
	st.session = string(h)
	return nil
}

// callSession makes one attempt like callZoned, first on the node subject
// of the executor that served st.session before, if any.
func (x *executeAPI) callSession(parent context.Context, st *execState, subject string, wait time.Duration) (retry bool) {
	if st.session == "" {
		return x.callZoned(parent, st, subject, wait)
	}
	sessions := x.sessions.get()
	if id, ok := sessions.Get(st.session); ok {
		if ns, err := bus.ExecNodeSubject(id, st.req.Lane); err == nil {
			retry = x.call(parent, st, ns, wait)
			if st.rep.Code != bus.CodeNoExecutor && st.rep.Code != bus.CodeShuttingDown {
				x.rememberSession(st)
				return retry
			}
		}
		sessions.Remove(st.session) // that executor is gone: take the normal path
	}
	retry = x.callZoned(parent, st, subject, wait)
	x.rememberSession(st)
	return retry
}

// rememberSession records the executor that answered st.session.
func (x *executeAPI) rememberSession(st *execState) {
	if st.rep.ExecutorID == "" || st.rep.Code == bus.CodeShuttingDown {
		return
	}
	x.sessions.get().Add(st.session, st.rep.ExecutorID) // also restarts its TTL
}

// setSessionHeaders echoes the session and names the executor that answered.
func setSessionHeaders(c *fiber.Ctx, st *execState) {
	if st.session != "" {
		c.Set(HeaderSession, st.session)
	}
	if st.rep.ExecutorID != "" {
		c.Set(HeaderExecutor, st.rep.ExecutorID)
	}
}
