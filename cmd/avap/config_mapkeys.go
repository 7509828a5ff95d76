package main

import (
	"errors"
	"reflect"
	"slices"
	"strings"
)

// Map sections (executor.connectors) are keyed by a name the user picks:
// executor.connectors.<name>.<field> in the file and
// AVAP_EXECUTOR_CONNECTORS_<NAME>_<FIELD> in the environment (the name is
// lower-cased there, since environment variables are upper case).

// mapFields lists the fields of one entry of a map-of-struct section, nil
// for any other type.
func mapFields(t reflect.Type) []string {
	if t.Kind() != reflect.Map || t.Key().Kind() != reflect.String || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	fields := []string{}
	for i := range t.Elem().NumField() {
		if name := t.Elem().Field(i).Tag.Get("koanf"); name != "" {
			fields = append(fields, name)
		}
	}
	return fields
}

// mapEntryKey returns the map section of file key k when k is
// "<section>.<name>" or "<section>.<name>.<field>".
func mapEntryKey(k string, keys []configKey) (configKey, bool) {
	for _, ck := range keys {
		rest, ok := strings.CutPrefix(k, ck.Key+".")
		if ck.Fields == nil || !ok {
			continue
		}
		name, field, hasField := strings.Cut(rest, ".")
		if name != "" && (!hasField || slices.Contains(ck.Fields, field)) {
			return ck, true
		}
	}
	return configKey{}, false
}

// mapEntryEnv maps AVAP_<SECTION>_<NAME>_<FIELD> to "<section>.<name>.<field>".
func mapEntryEnv(env string, keys []configKey) (string, bool) {
	for _, ck := range keys {
		rest, ok := strings.CutPrefix(env, ck.Env+"_")
		if ck.Fields == nil || !ok {
			continue
		}
		for _, f := range ck.Fields {
			name, ok := strings.CutSuffix(rest, "_"+strings.ToUpper(f))
			if ok && name != "" {
				return ck.Key + "." + strings.ToLower(name) + "." + f, true
			}
		}
	}
	return "", false
}

// mapSectionHook refuses a list where a map section is expected (the old
// executor.connectors shape, a list of {name, ...}) with a clear message
// instead of mapstructure's.
func mapSectionHook(from, to reflect.Type, data any) (any, error) {
	if mapFields(to) != nil && from.Kind() == reflect.Slice {
		return nil, errors.New("must be a map keyed by name (<name>: {field: value}), not a list")
	}
	return data, nil
}
