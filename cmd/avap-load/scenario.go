package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// topology says which processes a scenario runs against.
type topology string

const (
	topoBaseline topology = "baseline" // a bare Fiber handler in a child process of the harness
	topoServe    topology = "serve"    // one `avap serve` (embedded NATS, edge, executors)
	topoSplit    topology = "split"    // `avap nats` + `avap edge` + 2 `avap executor` over TCP
)

// loadMode says how load is generated.
type loadMode int

const (
	modeClosed   loadMode = iota // N connections, each sending its next request when the last one answered
	modeOverload                 // open loop at twice the saturating rate of `trivial`
)

// request is one HTTP request, sent over and over.
type request struct {
	Method string
	Path   string // path and query string
	Body   []byte // JSON; nil for none
}

// scenario is one named measurement.
type scenario struct {
	Name     string
	Desc     string
	Topology topology
	Mode     loadMode
	Req      request
	Items    int // work items per request (batch size); 1 otherwise
	// Check validates one response before the load starts, so that an error
	// path is never measured by mistake.
	Check func(status int, body []byte) error
}

const (
	scriptTrivial = "addVar(x, 5)\naddResult(x)\n"

	// 100 iterations, arithmetic and an if: total = 2*(1+..+100) - 50 = 10050.
	scriptLoop = `addVar(total, 0)
startLoop(i, 1, 100)
  total = total + i * 2
  if(i, 50, ">")
    total = total - 1
  end()
endLoop()
addResult(total)
`

	// Query-string parameters, JSON building and _status. addParam(name, var)
	// reads parameter name into var; AddvariableToJSON expands a key or value
	// that names a variable, so the keys here name none.
	scriptParams = `addParam(user, u)
addParam(qty, q)
addVar(state, "ok")
AddvariableToJSON(user, u, out)
AddvariableToJSON(quantity, q, out)
AddvariableToJSON(status, state, out)
if(u, None, "=")
  _status = 400
else()
  _status = 201
end()
addResult(out)
`
)

// executeBody is the JSON body of POST /api/v1/execute.
type executeBody struct {
	Script    string         `json:"script"`
	Variables map[string]any `json:"variables"`
	Params    map[string]any `json:"params,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // static data only
	}
	return b
}

func trivialBody() []byte {
	return mustJSON(executeBody{Script: scriptTrivial, Variables: map[string]any{}})
}

func batchBody(n int) []byte {
	items := make([]executeBody, n)
	for i := range items {
		items[i] = executeBody{Script: scriptTrivial, Variables: map[string]any{}}
	}
	return mustJSON(map[string]any{"items": items})
}

// allScenarios returns every scenario in the order a default run uses:
// baseline first (the ratios need it), trivial before overload (the
// overload rate needs it).
func allScenarios() []scenario {
	execPath := "/api/v1/execute"
	return []scenario{
		{
			Name: "baseline", Topology: topoBaseline, Mode: modeClosed,
			Desc:  "bare Fiber handler: parse the trivial body, return a fixed envelope (HTTP+JSON ceiling)",
			Req:   request{Method: "POST", Path: execPath, Body: trivialBody()},
			Check: checkResult(200, "x", 5.0),
		},
		{
			Name: "trivial", Topology: topoServe, Mode: modeClosed,
			Desc:  "addVar(x, 5) / addResult(x) on avap serve",
			Req:   request{Method: "POST", Path: execPath, Body: trivialBody()},
			Check: checkResult(200, "x", 5.0),
		},
		{
			Name: "loop", Topology: topoServe, Mode: modeClosed,
			Desc:  "100-iteration startLoop with arithmetic and an if",
			Req:   request{Method: "POST", Path: execPath, Body: mustJSON(executeBody{Script: scriptLoop, Variables: map[string]any{}})},
			Check: checkResult(200, "total", 10050.0),
		},
		{
			Name: "params", Topology: topoServe, Mode: modeClosed,
			Desc:  "query-string params, AddvariableToJSON, _status = 201",
			Req:   request{Method: "POST", Path: execPath + "?user=alice&qty=3", Body: mustJSON(executeBody{Script: scriptParams, Variables: map[string]any{}, Params: map[string]any{}})},
			Check: checkResultField(201, "out", "user", "alice"),
		},
		{
			Name: "batch10", Topology: topoServe, Mode: modeClosed, Items: 10,
			Desc:  "POST /api/v1/execute/batch with 10 trivial items",
			Req:   request{Method: "POST", Path: execPath + "/batch", Body: batchBody(10)},
			Check: checkBatch(10),
		},
		{
			Name: "split", Topology: topoSplit, Mode: modeClosed,
			Desc:  "trivial on avap nats + avap edge + 2 avap executor over TCP NATS",
			Req:   request{Method: "POST", Path: execPath, Body: trivialBody()},
			Check: checkResult(200, "x", 5.0),
		},
		{
			Name: "overload", Topology: topoServe, Mode: modeOverload,
			Desc:  "trivial, open loop at 2x the saturating rate of the trivial run: shedding",
			Req:   request{Method: "POST", Path: execPath, Body: trivialBody()},
			Check: checkResult(200, "x", 5.0),
		},
	}
}

// selectScenarios returns the named scenarios in catalogue order.
func selectScenarios(names string) ([]scenario, error) {
	all := allScenarios()
	if names == "" || names == "all" {
		return all, nil
	}
	want := map[string]bool{}
	for n := range strings.SplitSeq(names, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		found := false
		for _, s := range all {
			if s.Name == n {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", n, scenarioNames(all))
		}
		want[n] = true
	}
	var out []scenario
	for _, s := range all {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

func scenarioNames(ss []scenario) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}

// envelope is the part of the AVAP response envelope the checks read.
type envelope struct {
	Success bool            `json:"success"`
	Result  map[string]any  `json:"result"`
	Error   string          `json:"error"`
	Items   json.RawMessage `json:"items"`
	Results json.RawMessage `json:"results"`
}

func decodeEnvelope(status, wantStatus int, body []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("status %d, body is not a JSON envelope: %v: %.200s", status, err, body)
	}
	if status != wantStatus {
		return e, fmt.Errorf("status %d, want %d: %.300s", status, wantStatus, body)
	}
	return e, nil
}

// checkResult wants the given status, success:true and result[key] == want
// (compared as decoded JSON).
func checkResult(wantStatus int, key string, want any) func(int, []byte) error {
	return func(status int, body []byte) error {
		e, err := decodeEnvelope(status, wantStatus, body)
		if err != nil {
			return err
		}
		if !e.Success {
			return fmt.Errorf("success is false: %s", e.Error)
		}
		got, ok := e.Result[key]
		if !ok {
			return fmt.Errorf("result has no %q: %.300s", key, body)
		}
		if string(mustJSON(got)) != string(mustJSON(want)) {
			return fmt.Errorf("result[%q] = %s, want %s", key, mustJSON(got), mustJSON(want))
		}
		return nil
	}
}

// checkResultField wants the given status, success:true and
// result[key][field] == want; the other fields of result[key] may vary (a
// numeric query parameter may come back as a number or as text).
func checkResultField(wantStatus int, key, field string, want any) func(int, []byte) error {
	return func(status int, body []byte) error {
		e, err := decodeEnvelope(status, wantStatus, body)
		if err != nil {
			return err
		}
		if !e.Success {
			return fmt.Errorf("success is false: %s", e.Error)
		}
		obj, ok := e.Result[key].(map[string]any)
		if !ok {
			return fmt.Errorf("result[%q] is not an object: %.300s", key, body)
		}
		if got := obj[field]; string(mustJSON(got)) != string(mustJSON(want)) {
			return fmt.Errorf("result[%q][%q] = %s, want %s", key, field, mustJSON(got), mustJSON(want))
		}
		return nil
	}
}

// checkBatch wants HTTP 200 and n per-item envelopes that all succeeded. The
// list may be the body itself or under "items" or "results".
func checkBatch(n int) func(int, []byte) error {
	return func(status int, body []byte) error {
		var list []envelope
		raw := body
		if len(body) > 0 && body[0] == '{' {
			e, err := decodeEnvelope(status, 200, body)
			if err != nil {
				return err
			}
			switch {
			case len(e.Items) > 0:
				raw = e.Items
			case len(e.Results) > 0:
				raw = e.Results
			default:
				return fmt.Errorf("batch reply has no items/results list: %.300s", body)
			}
		} else if status != 200 {
			return fmt.Errorf("status %d, want 200: %.300s", status, body)
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("batch items: %v: %.300s", err, raw)
		}
		if len(list) != n {
			return fmt.Errorf("batch returned %d items, want %d", len(list), n)
		}
		for i, it := range list {
			if !it.Success {
				return fmt.Errorf("batch item %d failed: %s", i, it.Error)
			}
		}
		return nil
	}
}
