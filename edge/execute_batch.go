package edge

import (
	"errors"
	"strconv"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// handleBatch serves POST /api/v1/execute/batch: {"items": [...]}. Items
// run in parallel on the batch lane (spread over the executors by the
// queue group); the answer lists one envelope per item, in request order,
// each with its own "status". A failing item never fails the others.
func (x *executeAPI) handleBatch(c *fiber.Ctx) error {
	if !acceptsJSON(c.Request().Header.ContentType(), c.Body()) {
		return x.sendError(c, nil, bus.CodeUnsupportedMedia, "content type must be application/json")
	}
	body := c.Body()
	if len(body) > x.opts.MaxBatchBytes {
		return x.sendError(c, nil, bus.CodeTooLarge, "batch body exceeds "+strconv.Itoa(x.opts.MaxBatchBytes)+" bytes")
	}
	var items [][]byte
	seen := false
	err := scanObject(body, func(k, v []byte) error {
		if b2s(k) != "items" {
			return nil
		}
		seen = true
		return scanArray(v, func(e []byte) error {
			if len(items) == x.opts.MaxBatchItems {
				return errTooManyItems
			}
			items = append(items, e)
			return nil
		})
	})
	switch {
	case errors.Is(err, errTooManyItems):
		return x.sendError(c, nil, bus.CodeTooLarge, "a batch holds at most "+strconv.Itoa(x.opts.MaxBatchItems)+" items")
	case err != nil:
		return x.sendError(c, nil, bus.CodeBadRequest, bodyError(err).Error())
	case !seen:
		return x.sendError(c, nil, bus.CodeBadRequest, `batch body needs an "items" array`)
	}

	rid := RequestID(c)
	var query []bus.Param
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		query = append(query, bus.Param{Name: b2s(k), Value: b2s(v)})
	})
	ctx := c.UserContext() // read once: Fiber sets it lazily, not safe from the item goroutines
	states := make([]*execState, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		st := x.getState()
		states[i] = st
		if err := x.readBody(st, it, true); err != nil {
			fillError(&st.rep, bus.CodeBadRequest, err.Error())
			continue
		}
		st.req.Query = query
		st.req.ID = rid + "/" + strconv.Itoa(i)
		st.req.Lane = bus.LaneBatch
		wg.Go(func() { x.exec(ctx, st) })
	}
	wg.Wait()

	first := x.getState()
	defer x.putState(first)
	out := append(first.out[:0], `{"success":true,"items":[`...)
	for i, st := range states {
		if i > 0 {
			out = append(out, ',')
		}
		id := st.id
		if id == nil {
			id = []byte(strconv.Itoa(i))
		}
		out = appendEnvelope(out, &st.rep, "", id)
		x.putState(st)
	}
	out = append(out, `],"request_id":`...)
	out = appendJSONString(out, rid)
	out = append(out, '}')
	first.out = out
	return writeJSON(c, fiber.StatusOK, "", out)
}

var errTooManyItems = errors.New("too many items")
