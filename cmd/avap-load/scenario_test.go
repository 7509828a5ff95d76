package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

func TestSelectScenarios(t *testing.T) {
	all, err := selectScenarios("all")
	if err != nil || len(all) != 7 || all[0].Name != "baseline" || all[1].Name != "trivial" || all[6].Name != "overload" {
		t.Fatalf("all: %v %v", scenarioNames(all), err)
	}
	got, err := selectScenarios("overload, trivial,baseline")
	if err != nil || scenarioNames(got) != "baseline,trivial,overload" {
		t.Errorf("catalogue order: %v %v", scenarioNames(got), err)
	}
	if _, err := selectScenarios("trivial,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown scenario: %v", err)
	}
}

func TestScenarioBodies(t *testing.T) {
	for _, s := range allScenarios() {
		var v map[string]any
		if err := json.Unmarshal(s.Req.Body, &v); err != nil {
			t.Errorf("%s: body is not JSON: %v", s.Name, err)
		}
		if s.Items > 1 {
			if n := len(v["items"].([]any)); n != s.Items {
				t.Errorf("%s: %d items", s.Name, n)
			}
		} else if v["script"] == "" {
			t.Errorf("%s: no script", s.Name)
		}
	}
}

func TestChecks(t *testing.T) {
	trivial := checkResult(200, "x", 5.0)
	if err := trivial(200, []byte(baselineEnvelope)); err != nil {
		t.Errorf("the baseline envelope fails the trivial check: %v", err)
	}
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{200, `{"success":true,"result":{"x":6}}`, `result["x"] = 6`},
		{200, `{"success":false,"error":"boom"}`, "boom"},
		{400, `{"success":false,"error":"boom"}`, "status 400"},
		{200, `<html>`, "not a JSON envelope"},
		{200, `{"success":true,"result":{}}`, `no "x"`},
	} {
		err := trivial(tc.status, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d %s: err %v, want %q", tc.status, tc.body, err, tc.want)
		}
	}
	params := checkResultField(201, "out", "user", "alice")
	if err := params(201, []byte(`{"success":true,"result":{"out":{"status":"ok","user":"alice","quantity":3}}}`)); err != nil {
		t.Errorf("params: %v", err)
	}
	for _, bad := range []string{`{"success":true,"result":{"out":{"user":null}}}`, `{"success":true,"result":{"out":1}}`} {
		if err := params(201, []byte(bad)); err == nil {
			t.Errorf("params %s: no error", bad)
		}
	}

	batch := checkBatch(2)
	for _, ok := range []string{
		`{"success":true,"items":[{"success":true},{"success":true}]}`,
		`{"results":[{"success":true},{"success":true}]}`,
		`[{"success":true},{"success":true}]`,
	} {
		if err := batch(200, []byte(ok)); err != nil {
			t.Errorf("batch %s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		`{"items":[{"success":true}]}`,
		`{"items":[{"success":true},{"success":false,"error":"e"}]}`,
		`{"success":true}`,
	} {
		if err := batch(200, []byte(bad)); err == nil {
			t.Errorf("batch %s: no error", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Connections != 64 || c.OverloadConns != 256 || c.Duration != 10*time.Second || c.Engine != "fasthttp" {
		t.Errorf("defaults: %+v", c)
	}
	sc, _ := selectScenarios(c.Scenarios)
	if b := budget(c, len(sc)); b < 3*time.Minute {
		t.Errorf("budget %v", b)
	}
	c, err = parseFlags([]string{"--env", "AVAP_LOG_LEVEL=warn", "--env", "A=b", "--connections", "8"}, io.Discard)
	if err != nil || len(c.Env) != 2 || c.OverloadConns != 32 {
		t.Errorf("env: %+v %v", c, err)
	}
	for _, bad := range [][]string{{"--engine", "wrk"}, {"--env", "NOEQUALS"}, {"--scenarios", "x"}, {"--connections", "0"}, {"extra"}} {
		var stderr bytes.Buffer
		if _, err := parseFlags(bad, &stderr); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestChildEnvDropsAVAP(t *testing.T) {
	t.Setenv("AVAP_NATS_URL", "nats://elsewhere:4222")
	for _, e := range childEnv("AVAP_HTTP_ADDR=127.0.0.1:1") {
		if strings.HasPrefix(e, "AVAP_") && e != "AVAP_HTTP_ADDR=127.0.0.1:1" {
			t.Errorf("leaked %s", e)
		}
	}
}
