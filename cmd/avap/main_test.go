package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary double as the avap binary, so the
// scripts in testdata/script (and the process tests) can exec "avap".
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"avap": func() { os.Exit(Main()) },
	})
}

// TestScripts runs testdata/script/*.txtar against the real binary.
// Each script gets $HTTP_ADDR (a free port) and AVAP_DATA_DIR in $WORK.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HTTP_ADDR", freeAddr(t))
			env.Setenv("AVAP_DATA_DIR", filepath.Join(env.WorkDir, "data"))
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"httpget": cmdHTTPGet,
		},
	})
}

// cmdHTTPGet implements "httpget [-wait D] URL [STATUS]": GET URL (retrying
// connection errors for up to D), write the body to stdout and check the
// status (default 200).
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	wait := time.Duration(0)
	if len(args) >= 2 && args[0] == "-wait" {
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		wait, args = d, args[2:]
	}
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: httpget [-wait D] URL [STATUS]")
	}
	want := 200
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		want = n
	}
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(args[0])
		if err != nil {
			if time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if neg {
				return
			}
			ts.Fatalf("GET %s: %v", args[0], err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(ts.Stdout(), "%s\n", body)
		ok := resp.StatusCode == want
		if ok == neg {
			ts.Fatalf("GET %s: status %d (want %s%d): %s", args[0], resp.StatusCode, map[bool]string{true: "not ", false: ""}[neg], want, body)
		}
		return
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// envWithout returns os.Environ() minus AVAP_ variables, plus extra.
func envWithout(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AVAP_") {
			env = append(env, e)
		}
	}
	return append(env, extra...)
}
