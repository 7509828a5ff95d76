package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/avapmesh/avap/edge"
	"github.com/avapmesh/avap/edge/console"
	"github.com/avapmesh/avap/executor"
	"github.com/avapmesh/avap/nats/natstest"
)

// stack starts the full path edge (with the console) -> NATS (in-process)
// -> executor -> VM, as edge/execute_stack_test.go does.
func stack(t testing.TB, withConsole bool) *edge.Server {
	t.Helper()
	s := natstest.RunInProcess(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ex, err := executor.New(executor.Options{Conn: nc, Version: "0.0.1-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Shutdown(context.Background()) })
	mesh := edge.MeshInfo(nc, 100*time.Millisecond)
	reg := prometheus.NewRegistry()
	o := edge.Options{
		Addr: "127.0.0.1:0", Conn: nc, Metrics: reg, Gatherer: reg,
		Info: edge.Info{Name: "avap", Version: "test", NodeID: "edge-under-test", Roles: []string{"edge", "executor"}, StartTime: time.Now()},
		Jobs: edge.JobsOptions{Memory: true},
		InfoExtra: func(ctx context.Context) map[string]any {
			m := mesh(ctx)
			m["limits"] = map[string]any{
				"default": map[string]int64{"max_steps": 10_000_000, "timeout_ms": 5000, "max_memory_bytes": 64 << 20, "max_call_depth": 200, "max_output_bytes": 4 << 20},
				"max":     map[string]int64{"max_steps": 1_000_000_000, "timeout_ms": 60000, "max_memory_bytes": 512 << 20, "max_call_depth": 1000, "max_output_bytes": 32 << 20},
			}
			return m
		},
	}
	if withConsole {
		o.Routes = []func(fiber.Router){func(r fiber.Router) {
			if err := console.Mount(r, console.Options{}); err != nil {
				t.Fatal(err)
			}
		}}
	}
	srv, err := edge.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// chromium finds Debian's chromium (or another Chrome) on PATH;
// AVAP_CHROMIUM overrides.
func chromium() string {
	if p := os.Getenv("AVAP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir is where the browser test leaves its screenshots:
// $AVAP_TEST_OUTPUT/console, or <tmp>/avap-console-screenshots.
func screenshotDir(t *testing.T) string {
	dir := filepath.Join(os.TempDir(), "avap-console-screenshots")
	if o := os.Getenv("AVAP_TEST_OUTPUT"); o != "" {
		dir = filepath.Join(o, "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowser drives the console in headless Chromium against the full
// stack: a syntax error marks the right line, a fixed script runs and
// shows its result, _status = 404 shows the status, and the mesh view
// lists the executor. It takes a screenshot of each view, checks that
// every request stays on the edge's origin and that the CSP blocks
// nothing.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	exe := chromium()
	if exe == "" {
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	srv := stack(t, true)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	origin := "http://" + srv.Addr().String()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	var mu sync.Mutex
	var urls, problems, keyHeaders []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			if u := e.Request.URL; strings.HasSuffix(u, "/api/v1/execute") || strings.Contains(u, "/api/v1/execute?") {
				k, _ := e.Request.Headers["X-API-Key"].(string)
				a, _ := e.Request.Headers["Authorization"].(string)
				keyHeaders = append(keyHeaders, k+"|"+a)
			}
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			low := strings.ToLower(m.Text)
			if m.Type == chromedp.ConsoleException || strings.Contains(low, "content security policy") || strings.Contains(low, "uncaught") {
				mu.Lock()
				problems = append(problems, string(m.Type)+": "+m.Text)
				mu.Unlock()
			}
		}
	}()

	dir := screenshotDir(t)
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot("failed")
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitJS := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			shot("failed")
			txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('outcome').textContent + ' | ' + document.getElementById('editor-status').textContent + ' | ' + document.getElementById('error-box').textContent`))
			t.Fatalf("%s: %v (page: %s)", what, err, txt)
		}
	}
	// typeScript clears the editor and types src as a user would.
	typeScript := func(src string) {
		t.Helper()
		step("type script",
			chromedp.Evaluate[chromedp.Void](`(() => { const c = document.getElementById('code'); c.value = ''; c.dispatchEvent(new Event('input')); })()`),
			chromedp.Click(chromedp.ID("code")),
			chromedp.SendKeys(chromedp.ID("code"), src),
		)
	}

	step("load the page",
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	waitJS("console ready", `document.body.dataset.ready === 'true'`)

	// A syntax error on line 2: the gutter and the line are marked.
	typeScript("addVar(a, 1)\naddVar(b, 2\naddResult(a)")
	step("check", chromedp.Click(chromedp.ID("check")))
	waitJS("error marker on line 2", `!!document.querySelector('#gutter div.error[data-line="2"]') && !!document.querySelector('#hl .line.error[data-line="2"]')`)
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#gutter div.error').length`)); n != 1 {
		t.Errorf("%d lines marked, want 1", n)
	}
	shot("playground-syntax-error")

	// Fixed, run with Ctrl+Enter: the result JSON appears.
	typeScript("addVar(a, 1)\naddVar(b, \"two\")\naddResult(a)\naddResult(b)")
	step("run with Ctrl+Enter", chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitJS("result shown", `document.getElementById('result').textContent.includes('"a": 1') && document.getElementById('result').textContent.includes('"b": "two"')`)
	waitJS("no error marker", `!document.querySelector('#gutter div.error')`)
	badge, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status-badge")))
	steps, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("stat-steps")))
	if !strings.HasPrefix(badge, "200") || steps == "" || steps == "–" {
		t.Errorf("after run: badge %q, steps %q", badge, steps)
	}
	shot("playground-result")

	// A script's _status becomes the HTTP status.
	typeScript("_status = 404\naddVar(x, 1)\naddResult(x)")
	step("run", chromedp.Click(chromedp.ID("run")))
	waitJS("status 404 shown", `document.getElementById('status-badge').textContent.startsWith('404')`)

	// A corpus example loads with its query string and runs under a limit
	// picked within the server's maxima.
	step("pick an example",
		chromedp.SetValue(chromedp.ID("examples"), "13_loop_param_bound.avap"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('examples').dispatchEvent(new Event('change'))`),
	)
	waitJS("example loaded", `document.getElementById('code').value.includes('startLoop') && document.getElementById('query').value === 'limit=4'`)
	step("set a limit",
		chromedp.Click(chromedp.CSS("#limits summary")),
		chromedp.SendKeys(chromedp.ID("lim-steps"), "5000"),
	)
	if max, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('lim-steps').max`)); max != "1000000000" {
		t.Errorf("max steps picker bound %q, want the server maximum", max)
	}
	step("run", chromedp.Click(chromedp.ID("run")))
	waitJS("example ran", `document.getElementById('status-badge').textContent.startsWith('200') && document.getElementById('result').textContent.length > 2`)
	shot("playground-example")

	// A runtime error marks its line.
	typeScript("addVar(a, 1)\nnoSuchCommand(a)")
	step("run", chromedp.Click(chromedp.ID("run")))
	waitJS("runtime error shown", `!document.getElementById('error-box').hidden && !!document.querySelector('#gutter div.error[data-line="2"]')`)

	// The mesh view lists the executor, and its charts fill (with some
	// traffic from a client, so there is a rate and a latency to show).
	traffic, stopTraffic := context.WithCancel(ctx)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-traffic.Done():
				return
			case <-tick.C:
			}
			req, _ := http.NewRequestWithContext(traffic, http.MethodPost, origin+"/api/v1/execute", strings.NewReader(`{"script":"addVar(x, 5)\naddResult(x)"}`))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	step("open the mesh view", chromedp.Click(chromedp.ID("tab-mesh")))
	waitJS("an executor listed", `document.querySelectorAll('#executors tbody tr').length >= 1`)
	waitJS("charts drawn", `!!document.querySelector('#chart-rps path.stroke') && !!document.querySelector('#chart-p99 path.stroke')`)
	// No registry runs in this stack: the packages section says so.
	waitJS("registry section shown", `!document.getElementById('registry-panel').hidden && document.getElementById('registry-count').textContent.includes('unavailable')`)
	rows, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#executors tbody")))
	if !strings.Contains(rows, "0.0.1-test") {
		t.Errorf("executor row %q lacks its version", rows)
	}
	shot("mesh")
	stopTraffic()

	// Sharing puts the script in the fragment; a fresh load restores it.
	step("back to the playground, share", chromedp.Click(chromedp.ID("tab-play")), chromedp.Click(chromedp.ID("share")))
	loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if !strings.Contains(loc, "#x=") {
		t.Fatalf("share link %q", loc)
	}
	step("open the shared link", chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`), chromedp.Navigate("about:blank"), chromedp.Navigate(loc))
	waitJS("shared script restored", `document.getElementById('code').value.includes('noSuchCommand(a)')`)

	// An API key is asked for, kept in sessionStorage only and sent.
	step("enter an API key",
		chromedp.Click(chromedp.ID("key-button")),
		chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), "avap_test_secret"),
		chromedp.Click(chromedp.ID("key-save")),
	)
	waitJS("key kept for the session", `sessionStorage.getItem('avap.apiKey') === 'avap_test_secret' && localStorage.length === 0 && document.getElementById('key-button').textContent.endsWith('set')`)
	step("run with the key", chromedp.Click(chromedp.ID("run")))
	waitJS("run answered", `!document.getElementById('run').disabled && document.getElementById('status-badge').textContent !== 'Running…'`)
	mu.Lock()
	defer mu.Unlock()
	if n := len(keyHeaders); n == 0 || keyHeaders[n-1] != "avap_test_secret|Bearer avap_test_secret" || keyHeaders[0] != "|" {
		t.Errorf("key headers of execute requests: %q", keyHeaders)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, origin+"/") && u != "about:blank" && !strings.HasPrefix(u, "data:") {
			t.Errorf("request outside the edge: %s", u)
		}
	}
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
	if len(urls) == 0 {
		t.Error("no requests seen")
	}
	b, _ := json.Marshal(len(urls))
	t.Logf("%s requests, all to %s; screenshots in %s", b, origin, dir)
}
