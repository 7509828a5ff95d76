package deploy_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// exportedMetrics is deploy/prometheus/metrics.txt: every series name the
// server exports (kept in step with the server by cmd/avap's
// TestTelemetryEndToEnd).
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("prometheus/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{"up": true}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}

// externalMetric names series from other exporters the rules may use:
// node_exporter's filesystem gauges for the disk alert.
func externalMetric(name string) bool {
	return strings.HasPrefix(name, "node_filesystem_")
}

// metricNames returns the metric names selected anywhere in expr.
func metricNames(t *testing.T, p parser.Parser, where, expr string) []string {
	t.Helper()
	e, err := p.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == 0 { // MatchEqual
				name = m.Value
			}
		}
		if name == "" {
			t.Errorf("%s: selector %s names no metric", where, vs)
			return nil
		}
		names = append(names, name)
		return nil
	})
	return names
}

func checkKnown(t *testing.T, where string, names []string, known map[string]bool) {
	t.Helper()
	for _, n := range names {
		if !known[n] && !externalMetric(n) {
			t.Errorf("%s: metric %s is not exported by avap (prometheus/metrics.txt)", where, n)
		}
	}
}

// TestAlertRules parses prometheus/alerts.yml with Prometheus's own rule
// loader (rulefmt validates names, durations, label and annotation
// templates and PromQL), checks that every expression names exported
// metrics or recording rules, and that every alert has the annotations an
// operator needs (summary, description, runbook_url) and a severity.
func TestAlertRules(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	rgs, errs := rulefmt.ParseFile("prometheus/alerts.yml", false, model.UTF8Validation, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Error(err)
	}
	if rgs == nil {
		t.FailNow()
	}
	known := exportedMetrics(t)
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true // recording rules may be used by later rules and dashboards
			}
		}
	}
	runbook, err := os.ReadFile("prometheus/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			checkKnown(t, "alerts.yml "+name, metricNames(t, p, "alerts.yml "+name, r.Expr), known)
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			anchor := strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "/deploy/prometheus/runbook.md#"+anchor) ||
				!strings.Contains(string(runbook), "\n## "+r.Alert+"\n") {
				t.Errorf("%s: runbook_url %q must point to a '## %s' section of prometheus/runbook.md", r.Alert, r.Annotations["runbook_url"], r.Alert)
			}
		}
	}
	for _, want := range []string{"AVAPBadConfig", "AVAPErrorRateSpike", "AVAPLatencyP99Spike", "AVAPNoExecutors",
		"AVAPDLQGrowing", "AVAPAuditBacklog", "AVAPPostgresDown", "AVAPHighMemory", "AVAPHighCPU", "AVAPDiskFillingUp"} {
		if !alerts[want] {
			t.Errorf("alerts.yml lacks %s", want)
		}
	}
	// STYLE.md 2.9: AVAPBadConfig exactly as the Prometheus mixin's.
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			if r.Alert == "AVAPBadConfig" {
				if r.Expr != "max_over_time(avap_config_last_reload_successful[5m]) == 0" || r.For.String() != "10m" {
					t.Errorf("AVAPBadConfig = %q for %s", r.Expr, r.For)
				}
			}
		}
	}
}

// grafanaVar matches the dashboard variables substituted before parsing.
var grafanaVar = regexp.MustCompile(`\$\{?(__rate_interval|__interval|__range)\}?|\$\{?[a-z_]+\}?`)

// grafanaQuery substitutes Grafana's variables so the query parses as
// PromQL: intervals become 5m, other variables a regexp value.
func grafanaQuery(q string) string {
	return grafanaVar.ReplaceAllStringFunc(q, func(v string) string {
		if strings.Contains(v, "__") {
			return "5m"
		}
		return ".*"
	})
}

// labelValues matches label_values(<selector>, label) of template variables.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)

// TestGrafanaDashboards parses every dashboard, every panel target and
// template query as PromQL, and checks they name exported metrics only.
func TestGrafanaDashboards(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	known := exportedMetrics(t)
	rgs, _ := rulefmt.ParseFile("prometheus/alerts.yml", false, model.UTF8Validation, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if rgs != nil {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					known[r.Record] = true
				}
			}
		}
	}
	files, _ := filepath.Glob("grafana/*.json")
	var titles []string
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID, Title string
			Panels     []struct {
				ID      int
				Title   string
				Type    string
				GridPos struct{ X, Y, W, H int }
				Targets []struct{ Expr, RefID string }
			}
			Templating struct {
				List []struct {
					Name, Type string
					Query      any
				}
			}
			Annotations struct {
				List []struct{ Name, Expr string }
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) < 4 {
			t.Errorf("%s: want uid, title and at least 4 panels", f)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share uid %s", f, other, d.UID)
		}
		uids[d.UID] = f
		titles = append(titles, d.Title)
		ids := map[int]bool{}
		for _, pn := range d.Panels {
			where := f + " panel " + pn.Title
			if ids[pn.ID] {
				t.Errorf("%s: duplicate panel id %d", where, pn.ID)
			}
			ids[pn.ID] = true
			if len(pn.Targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			if pn.GridPos.W <= 0 || pn.GridPos.H <= 0 || pn.GridPos.X+pn.GridPos.W > 24 {
				t.Errorf("%s: bad gridPos %+v", where, pn.GridPos)
			}
			for _, tg := range pn.Targets {
				checkKnown(t, where, metricNames(t, p, where, grafanaQuery(tg.Expr)), known)
			}
		}
		for _, a := range d.Annotations.List {
			if a.Expr != "" {
				checkKnown(t, f+" annotation "+a.Name, metricNames(t, p, f+" annotation "+a.Name, grafanaQuery(a.Expr)), known)
			}
		}
		for _, v := range d.Templating.List {
			q, _ := v.Query.(string)
			if v.Type != "query" || q == "" {
				continue
			}
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s variable %s: query %q is not label_values(selector, label)", f, v.Name, q)
				continue
			}
			checkKnown(t, f+" variable "+v.Name, metricNames(t, p, f+" variable "+v.Name, grafanaQuery(m[1])), known)
		}
	}
	slices.Sort(titles)
	want := []string{"avap / Edge security", "avap / Executions", "avap / Jobs and DLQ", "avap / Mesh and NATS", "avap / Overview", "avap / PostgreSQL"}
	if !slices.Equal(titles, want) {
		t.Errorf("dashboards %q, want %q", titles, want)
	}
}

// TestAlertmanagerExample checks the routing example: every route names a
// defined receiver, and Slack, email and PagerDuty receivers exist.
func TestAlertmanagerExample(t *testing.T) {
	b, err := os.ReadFile("prometheus/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	type route struct {
		Receiver string   `json:"receiver"`
		Matchers []string `json:"matchers"`
		Routes   []route  `json:"routes"`
	}
	var c struct {
		Route     route `json:"route"`
		Receivers []struct {
			Name      string `json:"name"`
			Slack     []any  `json:"slack_configs"`
			Email     []any  `json:"email_configs"`
			PagerDuty []any  `json:"pagerduty_configs"`
		} `json:"receivers"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	var slack, email, pd bool
	for _, r := range c.Receivers {
		defined[r.Name] = true
		slack = slack || len(r.Slack) > 0
		email = email || len(r.Email) > 0
		pd = pd || len(r.PagerDuty) > 0
	}
	if !slack || !email || !pd {
		t.Errorf("receivers: slack %v email %v pagerduty %v, want all", slack, email, pd)
	}
	var walk func(r route, path string)
	walk = func(r route, path string) {
		if r.Receiver != "" && !defined[r.Receiver] {
			t.Errorf("route %s: receiver %q is not defined", path, r.Receiver)
		}
		for _, m := range r.Matchers {
			if _, err := parseMatcher(m); err != nil {
				t.Errorf("route %s: matcher %q: %v", path, m, err)
			}
		}
		for i, s := range r.Routes {
			walk(s, path+"/"+string(rune('0'+i)))
		}
	}
	if c.Route.Receiver == "" {
		t.Error("no default receiver")
	}
	walk(c.Route, "root")
}

// parseMatcher parses an Alertmanager matcher with the PromQL selector syntax it
// shares ({name="value"}).
func parseMatcher(m string) (any, error) {
	return parser.NewParser(parser.Options{}).ParseMetricSelector("{" + m + "}")
}
