package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct {
	cmd, args string
	line      int
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	cur, start := "", 0
	for i, l := range strings.Split(string(b), "\n") {
		s := strings.TrimSpace(l)
		if cur == "" && (s == "" || strings.HasPrefix(s, "#")) {
			continue
		}
		if cur != "" && strings.HasPrefix(s, "#") {
			continue // comment inside a continued instruction
		}
		if cur == "" {
			start = i + 1
		}
		if strings.HasSuffix(s, "\\") {
			cur += strings.TrimSuffix(s, "\\") + " "
			continue
		}
		cur += s
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur = ""
	}
	return out
}

// TestDockerfile checks deploy/docker/Dockerfile statically (the base
// images cannot be pulled where the tests run; CI builds and scans it).
func TestDockerfile(t *testing.T) {
	const path = "docker/Dockerfile"
	ins := parseDockerfile(t, path)
	var stages [][]instruction
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			stages = append(stages, []instruction{in})
		case len(stages) == 0:
			if in.cmd != "ARG" {
				t.Errorf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
			}
		default:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
		known := []string{"FROM", "ARG", "ENV", "WORKDIR", "COPY", "RUN", "LABEL", "USER", "EXPOSE", "VOLUME",
			"ENTRYPOINT", "CMD", "HEALTHCHECK", "STOPSIGNAL"}
		if !slices.Contains(known, in.cmd) {
			t.Errorf("%s:%d: unexpected instruction %s (ADD fetches URLs and unpacks archives; use COPY)", path, in.line, in.cmd)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// Build stage: the Go version of go.mod, static, version stamped.
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(gomod)
	text := ""
	for _, in := range ins {
		text += in.cmd + " " + in.args + "\n"
	}
	if goVersion == nil || !strings.Contains(text, "ARG GO_VERSION="+string(goVersion[1])) {
		t.Errorf("ARG GO_VERSION must equal go.mod's go directive %s", goVersion[1])
	}
	if !strings.Contains(build[0].args, "golang:${GO_VERSION}") || !strings.Contains(build[0].args, " AS build") {
		t.Errorf("first stage %q: want golang:${GO_VERSION} AS build", build[0].args)
	}
	stageText := func(st []instruction) string {
		s := ""
		for _, in := range st {
			s += in.cmd + " " + in.args + "\n"
		}
		return s
	}
	bt := stageText(build)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}",
		"-X main.date=${DATE}", "./cmd/avap"} {
		if !strings.Contains(bt, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	// The -X targets must be the variables cmd/avap declares.
	bi, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "avap", "buildinfo.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"version", "commit", "date"} {
		if !regexp.MustCompile(`(?m)^\s*`+v+`\s*=\s*""`).Match(bi) || !strings.Contains(string(bi), "package main") {
			t.Errorf("cmd/avap/buildinfo.go does not declare main.%s; fix the -ldflags", v)
		}
	}

	// Final stage: distroless (or scratch), non-root, labelled, exec form.
	ft := stageText(final)
	if img := final[0].args; !strings.HasPrefix(img, "gcr.io/distroless/static") && !strings.HasPrefix(img, "scratch") {
		t.Errorf("final image %q: want distroless static or scratch", img)
	}
	var user string
	for _, in := range final {
		if in.cmd == "USER" {
			user = in.args
		}
		if in.cmd == "RUN" {
			t.Errorf("%s:%d: RUN in the final stage (it has no shell)", path, in.line)
		}
		if in.cmd == "COPY" && !strings.Contains(in.args, "--from=") {
			t.Errorf("%s:%d: final stage copies from the context, not from the build stage", path, in.line)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" || !regexp.MustCompile(`^[0-9]+$`).MatchString(uid) {
		t.Errorf("final USER %q: want a numeric non-root uid (Kubernetes runAsNonRoot needs it numeric)", user)
	}
	for _, l := range []string{"org.opencontainers.image.version", "org.opencontainers.image.revision",
		"org.opencontainers.image.created", "org.opencontainers.image.source", "org.opencontainers.image.title"} {
		if !strings.Contains(ft, l+"=") {
			t.Errorf("final stage lacks label %s", l)
		}
	}
	if !strings.Contains(ft, `ENTRYPOINT ["/usr/local/bin/avap"]`) {
		t.Error(`want ENTRYPOINT ["/usr/local/bin/avap"] (exec form, so SIGTERM reaches avap)`)
	}
	if !strings.Contains(ft, "VOLUME") || !strings.Contains(ft, "/var/lib/avap") {
		t.Error("the data directory /var/lib/avap must be a VOLUME (the root filesystem is read-only)")
	}
	// The health check is the binary itself (no shell in the image), in
	// exec form, running a subcommand the binary has.
	var hc []string
	for _, in := range final {
		if in.cmd == "HEALTHCHECK" {
			_, cmd, _ := strings.Cut(in.args, "CMD ")
			if err := json.Unmarshal([]byte(cmd), &hc); err != nil {
				t.Errorf("HEALTHCHECK CMD %q is not in exec form: %v", cmd, err)
			}
		}
	}
	if len(hc) < 2 || hc[0] != "/usr/local/bin/avap" {
		t.Errorf("HEALTHCHECK %v: want CMD [\"/usr/local/bin/avap\", \"health\", ...]", hc)
	} else if out, err := exec.Command(avapBin, append(hc[1:], "--help")...).CombinedOutput(); err != nil {
		t.Errorf("HEALTHCHECK runs `avap %s`, which the binary does not have: %v\n%s", strings.Join(hc[1:], " "), err, out)
	}

	// ENV names must be config keys.
	known := envKeys(checkConfig(t, nil, "serve"))
	for _, in := range final {
		if in.cmd != "ENV" {
			continue
		}
		for _, kv := range strings.Fields(in.args) {
			if k, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AVAP_") && !known[k] {
				t.Errorf("ENV %s is not a config key", k)
			}
		}
	}
	// The image's defaults pass the server's own check.
	var env []string
	for _, in := range final {
		if in.cmd == "ENV" {
			env = append(env, strings.Fields(in.args)...)
		}
	}
	checkConfig(t, env, "serve")
}

// TestDockerignore checks the build context keeps what the build needs and
// drops the rest.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			pats = append(pats, l)
		}
	}
	for _, want := range []string{".git", "deploy"} {
		if !slices.Contains(pats, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, p := range pats {
		for _, keep := range []string{"go.mod", "go.sum", "cmd", "vm", "edge", "executor", "bus", "nats", "*.go"} {
			if m, _ := filepath.Match(p, keep); m || p == keep {
				t.Errorf(".dockerignore pattern %q drops %s, which the build needs", p, keep)
			}
		}
	}
}
