package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// roles are the server roles a config file may be used with.
var roles = []string{"serve", "edge", "executor", "registry", "nats"}

// TestAvapConfig checks that the shipped config files are accepted by the
// server for every role (unknown keys and bad values are errors there).
func TestAvapConfig(t *testing.T) {
	for _, f := range []string{"kubernetes/base/avap.yaml", "systemd/avap.yaml"} {
		for _, role := range roles {
			t.Run(f+"/"+role, func(t *testing.T) {
				t.Parallel()
				checkConfig(t, nil, role, "--config", f)
			})
		}
	}
}

const avapImage = "ghcr.io/avapmesh/avap"

// checkAvapContainers runs `avap <args> --check-config` for every avap
// container of the build, with the config file and Secret files it would
// mount and the environment it would get, and checks that the pod's
// termination grace outlasts the process's own stop timeout.
func checkAvapContainers(t *testing.T, b *build) {
	n := 0
	for _, w := range b.workloads() {
		spec := &w.template.Spec
		for _, c := range spec.Containers {
			if !strings.HasPrefix(c.Image, avapImage+":") && !strings.HasPrefix(c.Image, avapImage+"@") {
				continue
			}
			n++
			id := w.name + "/" + c.Name
			if len(c.Args) == 0 || !slices.Contains(roles, c.Args[0]) {
				t.Errorf("%s: args %v do not start with a role", id, c.Args)
				continue
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("%s: readiness probe must be GET /readyz", id)
			}
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: liveness probe must be GET /healthz", id)
			}
			root := materialize(t, b, spec, c)
			args := slices.Clone(c.Args)
			for i, a := range args {
				if strings.HasPrefix(a, "/") {
					args[i] = filepath.Join(root, a)
					if _, err := os.Stat(args[i]); err != nil {
						t.Errorf("%s: argument %s is not in a mounted ConfigMap or Secret", id, a)
					}
				}
			}
			var env []string
			for _, e := range c.Env {
				if e.ValueFrom != nil {
					continue
				}
				v := e.Value
				if strings.HasPrefix(v, "/") && isMounted(c, v) {
					v = filepath.Join(root, v)
				}
				env = append(env, e.Name+"="+v)
			}
			if !slices.Contains(args, "--config") {
				t.Errorf("%s: no --config", id)
				continue
			}
			digest := checkConfig(t, env, args...)
			grace := time.Duration(deref(spec.TerminationGracePeriodSeconds, 30)) * time.Second
			if budget := stopBudget(t, digest); grace <= budget {
				t.Errorf("%s: terminationGracePeriodSeconds %s <= stop timeout %s (shutdown_delay + grace + executor.grace + lame_duck + 10s)",
					id, grace, budget)
			}
			if digest["http.addr"] != "0.0.0.0:8080" || !hasPort([]corev1.Container{c}, "8080") {
				t.Errorf("%s: http.addr %s, want 0.0.0.0:8080 matching the container port", id, digest["http.addr"])
			}
			if c.Args[0] == "registry" && digest["postgres.dsn"] == "" {
				t.Errorf("%s: registry without a Postgres DSN", id)
			}
		}
	}
	if n != 3 {
		t.Errorf("checked %d avap containers, want 3 (edge, executor, registry)", n)
	}
}

func isMounted(c corev1.Container, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
	})
}

// materialize writes the ConfigMap and Secret volumes a container mounts
// under a temporary root, at their mount paths. External Secrets get a
// placeholder value.
func materialize(t *testing.T, b *build, spec *corev1.PodSpec, c corev1.Container) string {
	t.Helper()
	root := t.TempDir()
	for _, m := range c.VolumeMounts {
		idx := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if idx < 0 {
			continue
		}
		v := spec.Volumes[idx]
		files := map[string]string{}
		var items []corev1.KeyToPath
		switch {
		case v.ConfigMap != nil:
			for k, val := range b.configMaps[v.ConfigMap.Name].Data {
				files[k] = val
			}
			items = v.ConfigMap.Items
		case v.Secret != nil:
			if s, ok := b.secrets[v.Secret.SecretName]; ok {
				for k, val := range s.Data {
					files[k] = string(val)
				}
				for k, val := range s.StringData {
					files[k] = val
				}
			} else {
				for _, k := range externalSecrets[b.name][v.Secret.SecretName] {
					files[k] = "postgres://avap:placeholder@postgres.invalid:5432/avap?sslmode=verify-full"
				}
			}
			items = v.Secret.Items
		default:
			continue
		}
		if len(items) > 0 {
			sel := map[string]string{}
			for _, it := range items {
				sel[it.Path] = files[it.Key]
			}
			files = sel
		}
		for p, val := range files {
			full := filepath.Join(root, m.MountPath, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(val), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// natsDuration reads a duration setting ("name: 30s") from a nats.conf.
func natsDuration(t *testing.T, conf, name string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*[:=]\s*"?([0-9a-z.]+)"?\s*$`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("nats.conf has no %s", name)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("nats.conf %s: %v", name, err)
	}
	return d
}
