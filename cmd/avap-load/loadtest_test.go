//go:build loadtest

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The integration test starts real processes and generates real load for a
// few seconds, so it only builds with -tags loadtest:
//
//	go test -tags loadtest -run TestLoad -v ./cmd/avap-load
//
// TestLoadStub needs nothing else; TestLoadAvap builds ./cmd/avap (or takes
// $AVAP_LOAD_BIN) and skips when the module has no ./cmd/avap yet.

func TestMain(m *testing.M) {
	// The harness re-executes itself as the baseline server; under test,
	// "itself" is this test binary.
	if len(os.Args) > 1 && os.Args[1] == baselineCommand {
		if err := runBaselineServer(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHarness(t *testing.T, args ...string) *runReport {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	cfg, err := parseFlags(append(args, "--json", out), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = run(cfg, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep runReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "p99.9 ms") {
		t.Error("no table on stdout")
	}
	return &rep
}

func TestLoadStub(t *testing.T) {
	rep := runHarness(t, "--stub", "--scenarios", "baseline,trivial,batch10,overload",
		"--duration", "1s", "--warmup", "200ms", "--connections", "8")
	if len(rep.Scenarios) != 4 {
		t.Fatalf("%d scenarios", len(rep.Scenarios))
	}
	for _, s := range rep.Scenarios {
		if s.Failed != "" || s.Requests == 0 || s.Errors != 0 || s.Non2xx != 0 {
			t.Errorf("%s: %+v", s.Name, s)
		}
		if s.Server.PeakRSSMB <= 0 || s.Server.CPUSeconds <= 0 || s.RatioToBaseline <= 0 {
			t.Errorf("%s: server stats %+v ratio %v", s.Name, s.Server, s.RatioToBaseline)
		}
		if s.Server.StopError != "" {
			t.Errorf("%s: %s", s.Name, s.Server.StopError)
		}
	}
	if o := rep.Scenarios[3].Overload; o == nil || o.OfferedRPS < 1.9*o.SaturationRPS || o.Admitted == 0 {
		t.Errorf("overload: %+v", o)
	}
}

func TestLoadAvap(t *testing.T) {
	args := []string{"--scenarios", "trivial,split", "--duration", "2s", "--warmup", "500ms", "--connections", "16"}
	if bin := os.Getenv("AVAP_LOAD_BIN"); bin != "" {
		args = append(args, "--bin", bin)
	} else if _, err := os.Stat("../avap/main.go"); err != nil {
		t.Skip("no ./cmd/avap in this tree yet and AVAP_LOAD_BIN unset")
	}
	rep := runHarness(t, args...)
	for _, s := range rep.Scenarios {
		if s.Failed != "" {
			t.Errorf("%s failed: %s", s.Name, s.Failed)
			continue
		}
		if s.Requests == 0 || s.Errors != 0 || s.Non2xx != 0 {
			t.Errorf("%s: %d requests, %d errors, %d non-2xx %v", s.Name, s.Requests, s.Errors, s.Non2xx, s.Status)
		}
	}
}
