//go:build chaos

package main

// Heavy acceptance of durable jobs (issue 7), run with
//
//	AVAP_TEST_POSTGRES_DSN=postgres://... go test -tags chaos -run TestChaos -v ./cmd/avap/
//
// It starts a NATS node, an edge and executor A as separate processes,
// submits 1,000 jobs, kill -9s A half-way, starts executor B, and checks
// every job ends succeeded exactly once and (with PostgreSQL) that the
// audit table holds one final record per job.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func startRole(t *testing.T, bin, role string, env ...string) *proc {
	t.Helper()
	p := &proc{}
	p.cmd = exec.Command(bin, role)
	p.cmd.Env = envWithout(append([]string{"NO_COLOR=1", "AVAP_LOG_LEVEL=warn"}, env...)...)
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

func TestChaosJobsKillExecutor(t *testing.T) {
	bin := avapBin(t)
	dir := t.TempDir()
	natsAddr := freeAddr(t)
	natsURL := "nats://" + natsAddr
	n := startRole(t, bin, "nats", "AVAP_NATS_LISTEN="+natsAddr, "AVAP_HTTP_ADDR="+freeAddr(t), "AVAP_DATA_DIR="+filepath.Join(dir, "nats"))
	time.Sleep(500 * time.Millisecond)
	_ = n

	var dsn, schema string
	if base := os.Getenv("AVAP_TEST_POSTGRES_DSN"); base != "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema = "chaos_" + hex.EncodeToString(b[:])
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			_ = conn.Close(context.Background())
		}()
		u, _ := url.Parse(base)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	common := []string{"AVAP_NATS_URL=" + natsURL, "AVAP_JOBS_ACK_WAIT=2s", "AVAP_JOBS_BACKOFF_BASE=100ms"}
	if dsn != "" {
		common = append(common, "AVAP_POSTGRES_DSN="+dsn)
	}
	edgeAddr := freeAddr(t)
	startRole(t, bin, "edge", append(common, "AVAP_HTTP_ADDR="+edgeAddr, "AVAP_DATA_DIR="+filepath.Join(dir, "edge"))...)
	execA := startRole(t, bin, "executor", append(common, "AVAP_HTTP_ADDR="+freeAddr(t), "AVAP_EXECUTOR_WORKERS=4",
		"AVAP_DATA_DIR="+filepath.Join(dir, "a"))...)
	if !waitHealthy("http://"+edgeAddr+"/healthz", 10*time.Second) {
		t.Fatal("edge not healthy")
	}
	time.Sleep(time.Second)

	const jobs = 1000
	script := "addVar(total, 0)\nstartLoop(i, 1, 100000)\n  total = total + i\nendLoop()\naddResult(total)"
	body, _ := json.Marshal(map[string]any{"script": script})
	ids := make([]string, jobs)
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < jobs; i += 16 {
				resp, err := client.Post("http://"+edgeAddr+"/api/v1/jobs", "application/json", strings.NewReader(string(body)))
				if err != nil {
					errs <- err
					return
				}
				var r struct{ ID string }
				_ = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					errs <- fmt.Errorf("submit %d: status %d", i, resp.StatusCode)
					return
				}
				ids[i] = r.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("submitted %d jobs in %v", jobs, time.Since(start))

	state := func(id string) map[string]any {
		resp, err := client.Get("http://" + edgeAddr + "/api/v1/jobs/" + id)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	// Kill A once about half the jobs are done.
	for {
		if m := state(ids[jobs/2]); m != nil && m["state"] != "queued" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = execA.cmd.Process.Kill() // SIGKILL
	_ = execA.cmd.Wait()
	killedAt := time.Since(start)
	startRole(t, bin, "executor", append(common, "AVAP_HTTP_ADDR="+freeAddr(t), "AVAP_EXECUTOR_WORKERS=4",
		"AVAP_DATA_DIR="+filepath.Join(dir, "b"))...)

	deadline := time.Now().Add(3 * time.Minute)
	lost := 0
	for i, id := range ids {
		for {
			m := state(id)
			if m != nil && m["state"] == "succeeded" {
				succeeded := 0
				for _, h := range m["history"].([]any) {
					switch h.(map[string]any)["outcome"] {
					case "succeeded":
						succeeded++
					case "lost":
						lost++
					}
				}
				if succeeded != 1 {
					t.Fatalf("job %d %s: %d succeeded attempts in history", i, id, succeeded)
				}
				break
			}
			if m != nil && m["state"] != "queued" && m["state"] != "running" {
				t.Fatalf("job %d %s ended %v", i, id, m["state"])
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %d %s still %v", i, id, m["state"])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	total := time.Since(start)
	t.Logf("all %d jobs succeeded exactly once; A killed at %v; %d attempts lost with A and rerun; total %v (%.0f jobs/s incl. the outage)",
		jobs, killedAt.Round(time.Millisecond), lost, total.Round(time.Millisecond), jobs/total.Seconds())

	if dsn == "" {
		t.Log("AVAP_TEST_POSTGRES_DSN not set: audit table not checked")
		return
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var distinct, rows int
	deadline = time.Now().Add(time.Minute)
	for {
		err := conn.QueryRow(context.Background(),
			"SELECT count(DISTINCT job_id), count(*) FROM audit_events WHERE kind = 'job' AND outcome = 'success'").Scan(&distinct, &rows)
		if err == nil && distinct == jobs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit: %d distinct jobs, %d rows (err %v)", distinct, rows, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if rows != jobs {
		t.Fatalf("audit: %d final records for %d jobs", rows, jobs)
	}
	t.Logf("audit table: one final record per job (%d)", rows)
}
