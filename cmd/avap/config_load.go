package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
)

// envPrefix starts every environment variable avap reads.
const envPrefix = "AVAP_"

// configSource is everything that feeds one configuration load, lowest
// layer first: defaults, File, Env, Flags.
type configSource struct {
	File  string            // YAML file; or "" for none
	Env   []string          // "NAME=value" entries, as os.Environ
	Flags map[string]string // config key -> value of flags the user set
}

// loadResult is a loaded, validated configuration plus notes for the log.
type loadResult struct {
	Config   *Config
	Warnings []string          // e.g. unknown AVAP_ environment variables
	Origin   map[string]string // key -> where its value came from, for keys not defaulted
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// configKey describes one leaf key of the schema.
type configKey struct {
	Key     string // dotted path, e.g. "http.addr"
	Env     string // AVAP_HTTP_ADDR
	Help    string
	Reload  bool
	Secret  bool
	Default string // formatted default
	// Fields are the keys of one entry of a map section (e.g.
	// executor.connectors.<name>.dsn_file); nil for plain keys.
	Fields []string
}

// configKeys lists every leaf key of Config in declaration order.
func configKeys() []configKey {
	var keys []configKey
	def := reflect.ValueOf(defaultConfig()).Elem()
	var walk func(v reflect.Value, prefix string, reload bool)
	walk = func(v reflect.Value, prefix string, reload bool) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("koanf")
			key := prefix + name
			r := reload || f.Tag.Get("reload") == "true"
			fv := v.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(fv, key+".", r)
				continue
			}
			keys = append(keys, configKey{
				Key:     key,
				Env:     envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
				Help:    f.Tag.Get("help"),
				Reload:  r,
				Secret:  f.Type == reflect.TypeFor[Secret](),
				Default: formatValue(fv),
				Fields:  mapFields(f.Type),
			})
		}
	}
	walk(def, "", false)
	return keys
}

func formatValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case Secret:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v.Interface())
}

// loadConfig merges defaults < file < env < flags, decodes strictly and
// validates. Every problem comes back at once in a *ConfigError.
func loadConfig(src configSource) (*loadResult, error) {
	keys := configKeys()
	known := make(map[string]configKey, len(keys))
	byEnv := make(map[string]string, len(keys))
	for _, k := range keys {
		known[k.Key] = k
		byEnv[k.Env] = k.Key
	}
	var problems []string
	res := &loadResult{Origin: map[string]string{}}

	ko := koanf.New(".")
	if err := ko.Load(structs.Provider(defaultConfig(), "koanf"), nil); err != nil {
		return nil, fmt.Errorf("load defaults: %w", err)
	}

	if src.File != "" {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(src.File), yaml.Parser()); err != nil {
			return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v", src.File, err)}}
		}
		for _, k := range fk.Keys() {
			ck, ok := known[k]
			if !ok {
				ck, ok = mapEntryKey(k, keys)
			}
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("file %s: %s", src.File, unknownKey(k, keys)))
				fk.Delete(k)
			case ck.Secret:
				problems = append(problems, fmt.Sprintf("file %s: %s is a secret and may not be set in the config file; use %s or %s_file",
					src.File, k, ck.Env, k))
				fk.Delete(k)
			default:
				res.Origin[k] = "file " + src.File
			}
		}
		if err := ko.Merge(fk); err != nil {
			return nil, fmt.Errorf("merge %s: %w", src.File, err)
		}
	}

	envMap := map[string]any{}
	for _, kv := range src.Env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		key, ok := byEnv[name]
		if !ok {
			key, ok = mapEntryEnv(name, keys)
		}
		if !ok {
			if !strings.HasPrefix(name, envPrefix+"TEST_") {
				res.Warnings = append(res.Warnings, fmt.Sprintf("ignoring unknown environment variable %s", name))
			}
			continue
		}
		envMap[key] = val
		res.Origin[key] = "env " + name
	}
	if err := ko.Load(confmap.Provider(envMap, "."), nil); err != nil {
		return nil, fmt.Errorf("load environment: %w", err)
	}

	flagMap := map[string]any{}
	for k, v := range src.Flags {
		flagMap[k] = v
		res.Origin[k] = "flag --" + strings.ReplaceAll(strings.ReplaceAll(k, ".", "-"), "_", "-")
	}
	if err := ko.Load(confmap.Provider(flagMap, "."), nil); err != nil {
		return nil, fmt.Errorf("load flags: %w", err)
	}

	cfg := new(Config)
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			mapSectionHook,
			mapstructure.TextUnmarshallerHookFunc(),
			listHook,
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		TagName:          "koanf",
		Result:           cfg,
	})
	if err != nil {
		return nil, err
	}
	// Problems are "<origin>: <key>: <msg>", origin being where the bad
	// value came from (file, env variable or flag); a key whose value did
	// not decode is not validated again.
	format := func(p problem) string {
		if o, ok := res.Origin[p.key]; ok {
			return fmt.Sprintf("%s: %s: %s", o, p.key, p.msg)
		}
		return fmt.Sprintf("%s: %s", p.key, p.msg)
	}
	undecoded := map[string]bool{}
	if err := dec.Decode(ko.Raw()); err != nil {
		for _, p := range decodeProblems(err) {
			undecoded[p.key] = true
			problems = append(problems, format(p))
		}
	}
	problems = append(problems, cfg.resolve()...)
	for _, p := range cfg.validate() {
		if !undecoded[p.key] {
			problems = append(problems, format(p))
		}
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	res.Config = cfg
	return res, nil
}

// unknownKey words an unknown-key problem, with a suggestion when a known
// key is close.
func unknownKey(k string, keys []configKey) string {
	for _, ck := range keys {
		if ck.Fields != nil && strings.HasPrefix(k, ck.Key+".") {
			return fmt.Sprintf("unknown key %s (an entry of %s takes %s)", k, ck.Key, strings.Join(ck.Fields, ", "))
		}
	}
	for _, ck := range keys {
		if strings.HasPrefix(ck.Key, k+".") {
			return fmt.Sprintf("%s is a section, not a value", k)
		}
	}
	best, bestD := "", 4
	for _, ck := range keys {
		if d := editDistance(k, ck.Key); d < bestD {
			best, bestD = ck.Key, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %s (did you mean %s?)", k, best)
	}
	return fmt.Sprintf("unknown key %s", k)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeProblems splits a mapstructure error into one problem per field.
func decodeProblems(err error) []problem {
	var out []problem
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		msg := strings.TrimPrefix(e.Error(), "decoding failed due to the following error(s):\n\n")
		for line := range strings.SplitSeq(msg, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			// mapstructure names the field first: "'http.read_timeout' ...".
			if rest, ok := strings.CutPrefix(line, "'"); ok {
				if key, tail, ok := strings.Cut(rest, "'"); ok {
					out = append(out, problem{key, strings.TrimSpace(tail)})
					continue
				}
			}
			out = append(out, problem{"config", line})
		}
	}
	walk(err)
	slices.SortStableFunc(out, func(a, b problem) int { return strings.Compare(a.key, b.key) })
	return slices.Compact(out)
}

// durationHook parses durations from strings and refuses bare numbers
// ("5" would silently mean 5ns).
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() || from == to {
		return data, nil
	}
	if s, ok := data.(string); ok {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q (want e.g. 500ms, 5s, 1m)", s)
		}
		return d, nil
	}
	return nil, fmt.Errorf("duration %v needs a unit (e.g. 5s)", data)
}

// listHook splits comma-separated strings (environment, flags) into lists.
func listHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// resolve fills derived values (secret files, JetStream store, node id)
// and returns problems it met.
func (c *Config) resolve() []string {
	var problems []string
	if c.Postgres.DSNFile != "" {
		if c.Postgres.DSN != "" {
			problems = append(problems, "postgres: set postgres.dsn or postgres.dsn_file, not both")
		} else if b, err := os.ReadFile(c.Postgres.DSNFile); err != nil {
			problems = append(problems, fmt.Sprintf("postgres.dsn_file: %v", errors.Unwrap(err)))
		} else {
			c.Postgres.DSN = Secret(strings.TrimSpace(string(b)))
		}
	}
	problems = append(problems, c.resolveSecretFiles()...) // *_file of the other secrets (secrets_file.go)
	problems = append(problems, c.resolveVault()...)       // *_vault references (secrets_vault.go)
	return problems
}

// digestValues formats every leaf value of c by key; secrets are redacted.
func digestValues(c *Config) map[string]string {
	out := map[string]string{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + f.Tag.Get("koanf")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(v.Field(i), key+".")
				continue
			}
			out[key] = formatValue(v.Field(i))
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}
