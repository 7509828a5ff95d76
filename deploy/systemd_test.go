package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// iniFile is a parsed systemd unit or supervisor file: section -> key ->
// values in order (a key may repeat).
type iniFile map[string]map[string][]string

func (f iniFile) get(section, key string) []string { return f[section][key] }

func (f iniFile) last(section, key string) string {
	v := f[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// parseINI parses the subset of the systemd.syntax(7) format the units use:
// [Section] headers, Key=Value lines, # and ; comments, and lines continued
// with a trailing backslash. Anything else is an error.
func parseINI(t *testing.T, path string) iniFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := iniFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	line, n := "", 0
	for sc.Scan() {
		n++
		s := strings.TrimSpace(sc.Text())
		if line == "" && (s == "" || s[0] == '#' || s[0] == ';') {
			continue
		}
		if strings.HasSuffix(s, "\\") {
			line += strings.TrimSuffix(s, "\\") + " "
			continue
		}
		s, line = line+s, ""
		switch {
		case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
			section = s[1 : len(s)-1]
			if f[section] == nil {
				f[section] = map[string][]string{}
			}
		case section == "":
			t.Fatalf("%s:%d: %q outside a section", path, n, s)
		default:
			k, v, ok := strings.Cut(s, "=")
			if !ok || strings.TrimSpace(k) == "" {
				t.Fatalf("%s:%d: not key=value: %q", path, n, s)
			}
			k = strings.TrimSpace(k)
			f[section][k] = append(f[section][k], strings.TrimSpace(v))
		}
	}
	return f
}

// systemdDuration parses a systemd time span: "90", "90s", "1min 30s".
func systemdDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "min", "m")
	return time.ParseDuration(s)
}

func unitFiles(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("systemd/avap-*.service")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range paths {
		role := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "avap-"), ".service")
		m[role] = p
	}
	var got []string
	for r := range m {
		got = append(got, r)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(roles))
	if !slices.Equal(got, want) {
		t.Fatalf("systemd units for roles %v, want %v", got, want)
	}
	return m
}

// TestSystemdUnits checks each role's unit: role, config, hardening,
// reload by SIGHUP and a stop timeout longer than the drain.
func TestSystemdUnits(t *testing.T) {
	hardening := map[string]string{
		"User":                    "avap",
		"Group":                   "avap",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
		"CapabilityBoundingSet":   "",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"KillSignal":              "SIGTERM",
	}
	var mu sync.Mutex
	addrs := map[string]string{} // role -> effective http.addr
	t.Cleanup(func() { checkDistinctAddrs(t, "systemd", addrs) })
	for role, path := range unitFiles(t) {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			u := parseINI(t, path)
			for _, s := range []string{"Unit", "Service", "Install"} {
				if u[s] == nil {
					t.Errorf("no [%s] section", s)
				}
			}
			for k, want := range hardening {
				if got := u.get("Service", k); len(got) == 0 || got[len(got)-1] != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			start := strings.Fields(u.last("Service", "ExecStart"))
			if len(start) < 4 || start[0] != "/usr/local/bin/avap" || start[1] != role ||
				!slices.Equal(start[2:4], []string{"--config", "/etc/avap/avap.yaml"}) {
				t.Errorf("ExecStart=%v, want /usr/local/bin/avap %s --config /etc/avap/avap.yaml", start, role)
			}
			filters := strings.Join(u.get("Service", "SystemCallFilter"), " ")
			if !strings.Contains(filters, "@system-service") {
				t.Errorf("SystemCallFilter=%q lacks @system-service", filters)
			}
			if !strings.Contains(u.last("Service", "RestrictAddressFamilies"), "AF_INET") {
				t.Error("RestrictAddressFamilies missing or without AF_INET")
			}
			dataDir := "/var/lib/avap/" + role
			if !slices.Contains(strings.Fields(strings.Join(u.get("Service", "ReadWritePaths"), " ")), dataDir) {
				t.Errorf("ReadWritePaths does not include %s", dataDir)
			}
			if u.last("Service", "StateDirectory") != "avap/"+role {
				t.Errorf("StateDirectory=%q, want avap/%s", u.last("Service", "StateDirectory"), role)
			}
			if n, err := strconv.Atoi(u.last("Service", "LimitNOFILE")); err != nil || n < 65536 {
				t.Errorf("LimitNOFILE=%q, want >= 65536", u.last("Service", "LimitNOFILE"))
			}
			var env []string
			for _, e := range u.get("Service", "Environment") {
				env = append(env, strings.Fields(e)...)
			}
			if !slices.Contains(env, "AVAP_DATA_DIR="+dataDir) {
				t.Errorf("Environment does not set AVAP_DATA_DIR=%s", dataDir)
			}
			// The config as this unit would load it, checked by the server.
			digest := checkConfig(t, env, role, "--config", "systemd/avap.yaml")
			mu.Lock()
			addrs[role] = digest["http.addr"]
			mu.Unlock()
			stop, err := systemdDuration(u.last("Service", "TimeoutStopSec"))
			if err != nil {
				t.Fatalf("TimeoutStopSec: %v", err)
			}
			if budget := stopBudget(t, digest); stop <= budget {
				t.Errorf("TimeoutStopSec=%s <= stop timeout %s (drain + grace + lame duck + 10s)", stop, budget)
			}
		})
	}
}

// TestSystemdVerify runs systemd-analyze on the units where it exists:
// verify must be silent, and the offline security exposure must stay low.
func TestSystemdVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; TestSystemdUnits parsed the units")
	}
	dir := t.TempDir()
	var names []string
	for _, path := range unitFiles(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// verify checks that ExecStart binaries exist: use the one we built.
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/avap"), []byte(avapBin))
		name := filepath.Base(path)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Join(dir, name))
	}
	cmd := exec.Command(sa, append([]string{"verify", "--man=no"}, names...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	exposure := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for _, n := range names {
		out, err := exec.Command(sa, "security", "--offline=true", n).CombinedOutput()
		if err != nil && bytes.Contains(out, []byte("unrecognized option")) {
			t.Skipf("systemd-analyze has no --offline: %s", out)
		}
		m := exposure.FindSubmatch(out)
		if m == nil {
			t.Errorf("systemd-analyze security %s: no exposure level (%v):\n%s", filepath.Base(n), err, out)
			continue
		}
		if v, _ := strconv.ParseFloat(string(m[1]), 64); v > 2.0 {
			t.Errorf("%s: exposure level %s, want <= 2.0", filepath.Base(n), m[1])
		}
	}
}

// TestEnvExample checks that every variable the env example names is a
// config key the server knows.
func TestEnvExample(t *testing.T) {
	known := envKeys(checkConfig(t, nil, "serve"))
	b, err := os.ReadFile("systemd/avap.env.example")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?m)^#?(AVAP_[A-Z0-9_]+)=`).FindAllSubmatch(b, -1)
	if len(names) < 3 {
		t.Fatalf("env example names only %d variables", len(names))
	}
	for _, m := range names {
		if !known[string(m[1])] {
			t.Errorf("avap.env.example: %s is not a config key", m[1])
		}
	}
}

// TestSupervisor checks the supervisord example: one program per mesh role,
// started in upgrade order, stopped by SIGTERM with enough time to drain.
func TestSupervisor(t *testing.T) {
	f := parseINI(t, "systemd/supervisord.conf")
	known := envKeys(checkConfig(t, nil, "serve"))
	group := strings.Split(f.last("group:avap", "programs"), ",")
	want := []string{"avap-nats", "avap-registry", "avap-executor", "avap-edge"}
	if !slices.Equal(group, want) {
		t.Errorf("group programs %v, want %v", group, want)
	}
	prev := -1
	addrs := map[string]string{}
	defer checkDistinctAddrs(t, "supervisord.conf", addrs)
	for _, p := range want {
		s := "program:" + p
		if f[s] == nil {
			t.Errorf("no [%s]", s)
			continue
		}
		role := strings.TrimPrefix(p, "avap-")
		cmd := strings.Fields(f.last(s, "command"))
		if len(cmd) < 2 || cmd[0] != "/usr/local/bin/avap" || cmd[1] != role {
			t.Errorf("%s: command %v", s, cmd)
		}
		if f.last(s, "user") != "avap" || f.last(s, "stopsignal") != "TERM" {
			t.Errorf("%s: want user=avap and stopsignal=TERM", s)
		}
		prio, _ := strconv.Atoi(f.last(s, "priority"))
		if prio <= prev {
			t.Errorf("%s: priority %d does not follow the upgrade order", s, prio)
		}
		prev = prio
		var env []string
		for _, kv := range strings.Split(f.last(s, "environment"), ",") {
			k, v, _ := strings.Cut(kv, "=")
			if !known[k] {
				t.Errorf("%s: environment %s is not a config key", s, k)
			}
			env = append(env, k+"="+strings.Trim(v, `"`))
		}
		if role == "registry" {
			// The DSN file is the operator's; check the rest of the config.
			env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, "AVAP_POSTGRES_DSN_FILE=") })
		}
		digest := checkConfig(t, env, role, "--config", "systemd/avap.yaml")
		addrs[role] = digest["http.addr"]
		wait, _ := strconv.Atoi(f.last(s, "stopwaitsecs"))
		if budget := stopBudget(t, digest); time.Duration(wait)*time.Second <= budget {
			t.Errorf("%s: stopwaitsecs %d <= stop timeout %s", s, wait, budget)
		}
	}
}

// checkDistinctAddrs fails when two mesh roles (which may share a host)
// would listen on the same http.addr. serve is all-in-one and may share
// the edge's port.
func checkDistinctAddrs(t *testing.T, where string, addrs map[string]string) {
	seen := map[string]string{}
	for _, role := range []string{"nats", "registry", "executor", "edge"} {
		a, ok := addrs[role]
		if !ok {
			continue
		}
		if other, dup := seen[a]; dup {
			t.Errorf("%s: %s and %s both listen on %s", where, other, role, a)
		}
		seen[a] = role
	}
}
