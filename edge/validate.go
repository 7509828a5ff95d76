package edge

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// Request validation in front of the JSON routes. It checks the whole body
// once, before a handler reads it, and names the offending field:
//
//	body: not valid UTF-8 (at byte 17)            400
//	body: NUL character                            400
//	variables.a.b: nesting deeper than 64 levels   400
//	variables: must be an object                   400
//	limits.max_steps: must be a non-negative integer  400
//	items[3].script: must be a string              400
//	script: larger than 1048576 bytes              413
//	items: more than 100 items                     413
//
// The handlers parse the body again (they keep spans, not a tree), so the
// check costs one extra linear pass: well under a microsecond per KiB.

// fieldError is a validation failure at a JSON path.
type fieldError struct {
	path   string
	msg    string
	status int // 400 or 413
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

func badField(path *jsonPath, msg string) *fieldError {
	return &fieldError{path: path.String(), msg: msg, status: fiber.StatusBadRequest}
}

// jsonPath is a JSON location, built only on the error path (parents are
// on the caller's stack).
type jsonPath struct {
	parent *jsonPath
	key    string
	index  int // >= 0: array element
}

func (p *jsonPath) String() string {
	if p == nil {
		return "body"
	}
	var parts []*jsonPath
	for q := p; q != nil; q = q.parent {
		parts = append(parts, q)
	}
	var b []byte
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		if q.index >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(q.index), 10)
			b = append(b, ']')
			continue
		}
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, q.key...)
	}
	return string(b)
}

func member(parent *jsonPath, key string) *jsonPath {
	return &jsonPath{parent: parent, key: key, index: -1}
}

// bodyKind says which member set a body follows.
type bodyKind int

const (
	bodyExecute bodyKind = iota // execute, jobs
	bodyBatch                   // {"items": [execute bodies]}
	bodyCompile                 // {"name", "script"}
)

// validateJSON checks a JSON request body of kind k.
func (g *guard) validateJSON(body []byte, k bodyKind) *fieldError {
	v := &g.opts.Validation
	if len(bytes.TrimSpace(body)) == 0 {
		return badField(nil, "must be a JSON object")
	}
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			r, n := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return badField(nil, "not valid UTF-8 (at byte "+strconv.Itoa(off)+")")
	}
	if bytes.IndexByte(body, 0) >= 0 || bytes.Contains(body, []byte(`\u0000`)) {
		return badField(nil, "NUL characters are not allowed")
	}
	if depthOver(body, v.MaxJSONDepth) {
		p, _ := deepPath(body, v.MaxJSONDepth)
		return badField(p, "nesting deeper than "+strconv.Itoa(v.MaxJSONDepth)+" levels")
	}
	if i := skipWS(body, 0); i >= len(body) || body[i] != '{' {
		return badField(nil, "must be a JSON object")
	}
	var fe *fieldError
	err := scanObject(body, func(key, val []byte) error {
		fe = g.checkMember(nil, k, key, val)
		if fe != nil {
			return fe
		}
		return nil
	})
	if fe != nil {
		return fe
	}
	if err != nil {
		return badField(nil, "not valid JSON")
	}
	return nil
}

// checkMember checks one member of an execute/batch/compile object at
// parent (nil = top level).
func (g *guard) checkMember(parent *jsonPath, k bodyKind, key, val []byte) *fieldError {
	typ := val[0]
	isNull := typ == 'n'
	switch b2s(key) {
	case "script":
		if typ != '"' && !isNull {
			return badField(member(parent, "script"), "must be a string")
		}
		if len(val)-2 > g.opts.Validation.MaxScriptBytes {
			return &fieldError{path: member(parent, "script").String(), status: fiber.StatusRequestEntityTooLarge,
				msg: "larger than " + strconv.Itoa(g.opts.Validation.MaxScriptBytes) + " bytes"}
		}
	case "command", "version", "command_version", "name":
		if typ != '"' && !isNull {
			return badField(member(parent, string(key)), "must be a string")
		}
	case "variables", "params":
		if typ != '{' && !isNull {
			return badField(member(parent, string(key)), "must be an object")
		}
	case "limits":
		if isNull {
			return nil
		}
		p := member(parent, "limits")
		if typ != '{' {
			return badField(p, "must be an object")
		}
		var fe *fieldError
		_ = scanObject(val, func(lk, lv []byte) error {
			switch b2s(lk) {
			case "max_steps", "max_memory_bytes", "max_call_depth", "max_output_bytes":
				if !nonNegInt(lv) {
					fe = badField(member(p, string(lk)), "must be a non-negative integer")
				}
			case "timeout_ms":
				if !nonNegNumber(lv) {
					fe = badField(member(p, string(lk)), "must be a non-negative number")
				}
			default:
				fe = badField(member(p, string(lk)), "unknown limit")
			}
			if fe != nil {
				return fe
			}
			return nil
		})
		return fe
	case "items":
		if k != bodyBatch {
			return nil
		}
		p := member(parent, "items")
		if typ != '[' {
			return badField(p, "must be an array")
		}
		n := 0
		var fe *fieldError
		_ = scanArray(val, func(it []byte) error {
			ip := &jsonPath{parent: p, index: n}
			n++
			if n > g.maxBatchItems {
				fe = &fieldError{path: p.String(), status: fiber.StatusRequestEntityTooLarge,
					msg: "more than " + strconv.Itoa(g.maxBatchItems) + " items"}
				return fe
			}
			if it[0] != '{' {
				fe = badField(ip, "must be an object")
				return fe
			}
			_ = scanObject(it, func(ik, iv []byte) error {
				if b2s(ik) == "items" {
					fe = badField(member(ip, "items"), "batches do not nest")
				} else {
					fe = g.checkMember(ip, bodyExecute, ik, iv)
				}
				if fe != nil {
					return fe
				}
				return nil
			})
			if fe != nil {
				return fe
			}
			return nil
		})
		return fe
	}
	return nil
}

func nonNegInt(v []byte) bool {
	if len(v) == 0 || v[0] == '-' {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(v) <= 18
}

func nonNegNumber(v []byte) bool {
	if len(v) == 0 || v[0] == '-' || v[0] == '"' || v[0] == '{' || v[0] == '[' || v[0] == 't' || v[0] == 'f' || v[0] == 'n' {
		return false
	}
	_, err := strconv.ParseFloat(b2s(v), 64)
	return err == nil
}

// depthOver reports whether brackets nest deeper than max (outside
// strings). The body is valid UTF-8 here; invalid JSON is found later.
func depthOver(b []byte, max int) bool {
	d := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if d++; d > max {
				return true
			}
		case '}', ']':
			d--
		}
	}
	return false
}

// deepPath returns the path of the first value nested deeper than max.
func deepPath(b []byte, max int) (*jsonPath, bool) {
	type frame struct {
		p   *jsonPath
		arr bool
		n   int
	}
	stack := []frame{}
	var key string
	var cur *jsonPath
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			j := i + 1
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if j >= len(b) {
				return cur, false
			}
			k := skipWS(b, j+1)
			if len(stack) > 0 && !stack[len(stack)-1].arr && k < len(b) && b[k] == ':' {
				key = string(b[i+1 : j])
			}
			i = j
		case '{', '[':
			var p *jsonPath
			if len(stack) > 0 {
				top := &stack[len(stack)-1]
				if top.arr {
					p = &jsonPath{parent: top.p, index: top.n}
				} else {
					p = member(top.p, key)
				}
			}
			stack = append(stack, frame{p: p, arr: b[i] == '['})
			cur = p
			if len(stack) > max {
				return p, true
			}
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].arr {
				stack[len(stack)-1].n++
			}
		}
	}
	return cur, false
}

// checkQuery bounds the query string: parameter count, sizes, UTF-8, NUL.
func (g *guard) checkQuery(c *fiber.Ctx) *fieldError {
	args := c.Request().URI().QueryArgs()
	if args.Len() == 0 {
		return nil
	}
	v := &g.opts.Validation
	if args.Len() > v.MaxQueryParams {
		return &fieldError{path: "query", msg: "more than " + strconv.Itoa(v.MaxQueryParams) + " parameters", status: fiber.StatusBadRequest}
	}
	var fe *fieldError
	args.VisitAll(func(k, val []byte) {
		if fe != nil {
			return
		}
		switch {
		case len(k) > v.MaxParamBytes || len(val) > v.MaxParamBytes:
			fe = &fieldError{path: "query." + safeName(k), msg: "longer than " + strconv.Itoa(v.MaxParamBytes) + " bytes", status: fiber.StatusBadRequest}
		case !utf8.Valid(k) || !utf8.Valid(val):
			fe = &fieldError{path: "query." + safeName(k), msg: "not valid UTF-8", status: fiber.StatusBadRequest}
		case bytes.IndexByte(k, 0) >= 0 || bytes.IndexByte(val, 0) >= 0:
			fe = &fieldError{path: "query." + safeName(k), msg: "NUL characters are not allowed", status: fiber.StatusBadRequest}
		}
	})
	return fe
}

// safeName shortens and sanitizes a client-chosen name for a message.
func safeName(k []byte) string {
	if len(k) > 64 {
		k = k[:64]
	}
	b := make([]byte, 0, len(k))
	for _, c := range k {
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		b = append(b, c)
	}
	return string(b)
}

// codeOf maps a validation status to its wire code.
func (e *fieldError) code() bus.Code {
	if e.status == fiber.StatusRequestEntityTooLarge {
		return bus.CodeTooLarge
	}
	return bus.CodeBadRequest
}
