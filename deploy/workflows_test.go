package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// workflow is the part of a GitHub Actions workflow the tests read.
type workflow struct {
	Name string         `json:"name"`
	On   any            `json:"on"`
	Jobs map[string]job `json:"jobs"`
}

type job struct {
	RunsOn   any    `json:"runs-on"`
	Needs    any    `json:"needs"`
	Steps    []step `json:"steps"`
	Timeout  int    `json:"timeout-minutes"`
	Services map[string]struct {
		Image string `json:"image"`
	} `json:"services"`
}

type step struct {
	Name             string            `json:"name"`
	Uses             string            `json:"uses"`
	Run              string            `json:"run"`
	With             map[string]any    `json:"with"`
	WorkingDirectory string            `json:"working-directory"`
	Env              map[string]string `json:"env"`
}

func readWorkflows(t *testing.T) map[string]workflow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 2 {
		t.Fatalf("found %d workflows, want ci.yml and release.yml", len(paths))
	}
	out := map[string]workflow{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := yaml.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// YAML 1.1 reads the key `on` as true.
		if v, ok := raw["true"]; ok {
			raw["on"] = v
			delete(raw, "true")
		}
		js, err := yaml.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(js, &w); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = w
	}
	return out
}

// taskTargets returns the targets of Taskfile.yml; nil if there is none.
func taskTargets(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Taskfile.yml"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tasks map[string]any `json:"tasks"`
	}
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("Taskfile.yml: %v", err)
	}
	m := map[string]bool{}
	for k := range tf.Tasks {
		m[k] = true
	}
	return m
}

var taskCall = regexp.MustCompile(`(?m)(?:^|[;&|(]\s*|\s)task\s+([A-Za-z0-9:_-]+)`)

// TestWorkflows checks that the workflows are valid YAML with the shape
// GitHub expects, call only Taskfile targets that exist, pin their actions
// and refer to files that exist.
func TestWorkflows(t *testing.T) {
	targets := taskTargets(t)
	wfs := readWorkflows(t)
	for _, name := range []string{"ci.yml", "release.yml"} {
		if _, ok := wfs[name]; !ok {
			t.Errorf("no .github/workflows/%s", name)
		}
	}
	calls := 0
	for file, w := range wfs {
		if w.Name == "" || w.On == nil || len(w.Jobs) == 0 {
			t.Errorf("%s: needs name, on and jobs", file)
		}
		for id, j := range w.Jobs {
			where := file + " job " + id
			if j.RunsOn == nil || len(j.Steps) == 0 {
				t.Errorf("%s: needs runs-on and steps", where)
			}
			if j.Timeout <= 0 {
				t.Errorf("%s: no timeout-minutes", where)
			}
			var needs []string
			switch n := j.Needs.(type) {
			case string:
				needs = []string{n}
			case []any:
				for _, x := range n {
					needs = append(needs, x.(string))
				}
			}
			for _, n := range needs {
				if _, ok := w.Jobs[n]; !ok {
					t.Errorf("%s: needs unknown job %s", where, n)
				}
			}
			for i, s := range j.Steps {
				sw := where + " step " + s.Name
				if s.Name == "" {
					sw = where + " step " + string(rune('1'+i))
				}
				if (s.Run == "") == (s.Uses == "") {
					t.Errorf("%s: needs exactly one of run and uses", sw)
				}
				if s.Uses != "" {
					if _, ver, ok := strings.Cut(s.Uses, "@"); !ok || ver == "" || ver == "main" || ver == "master" {
						t.Errorf("%s: uses %q is not pinned to a version", sw, s.Uses)
					}
				}
				for _, m := range taskCall.FindAllStringSubmatch(s.Run, -1) {
					calls++
					if targets == nil {
						t.Errorf("%s: calls `task %s` but there is no Taskfile.yml", sw, m[1])
					} else if !targets[m[1]] {
						t.Errorf("%s: calls `task %s`, which Taskfile.yml does not define", sw, m[1])
					}
				}
				if s.WorkingDirectory != "" {
					if _, err := os.Stat(filepath.Join(repoRoot, s.WorkingDirectory)); err != nil {
						t.Errorf("%s: working-directory: %v", sw, err)
					}
				}
				for _, k := range []string{"file", "go-version-file"} {
					if p, ok := s.With[k].(string); ok {
						if _, err := os.Stat(filepath.Join(repoRoot, p)); err != nil {
							t.Errorf("%s: %s: %v", sw, k, err)
						}
					}
				}
			}
		}
	}
	if calls == 0 {
		t.Error("no workflow calls a Taskfile target; CI and `task` would drift apart")
	}
	ci := wfs["ci.yml"]
	// What the issue asks CI to do.
	all := ""
	for _, j := range ci.Jobs {
		for _, s := range j.Steps {
			all += s.Run + "\n" + s.Uses + "\n"
		}
	}
	for _, want := range []string{"task test", "task lint", "task build", "task fuzz", "govulncheck", "benchstat", "benchgate",
		"docker/build-push-action", "trivy-action", "go test -count=1 ./..."} {
		if !strings.Contains(all, want) {
			t.Errorf("ci.yml does not run %q", want)
		}
	}
	var images []string
	for _, j := range ci.Jobs {
		for _, s := range j.Services {
			images = append(images, s.Image)
		}
	}
	if !slices.ContainsFunc(images, func(s string) bool { return strings.HasPrefix(s, "postgres:") }) ||
		!strings.Contains(all, "nats:") {
		t.Errorf("ci.yml test job needs PostgreSQL and NATS (services %v)", images)
	}
}
