//go:build ignore

// gen_examples copies the conformance corpus's scripts into the embedded
// assets (assets/examples/*.avap) with an index (assets/examples/index.json)
// holding each case's description, query and params, for the console's
// Examples menu. Run it with `go generate ./edge/console` when the corpus
// changes; its output is committed (the corpus is not shipped).
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type example struct {
	File        string          `json:"file"`
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Query       json.RawMessage `json:"query,omitempty"`
	Params      json.RawMessage `json:"params,omitempty"`
	Status      int             `json:"status,omitempty"`
}

func main() {
	src := flag.String("src", "../../../shared/avap/corpus", "corpus directory")
	dst := flag.String("dst", "assets/examples", "output directory")
	flag.Parse()
	scripts, err := filepath.Glob(filepath.Join(*src, "*.avap"))
	if err != nil || len(scripts) == 0 {
		log.Fatalf("no corpus scripts in %s (%v)", *src, err)
	}
	sort.Strings(scripts)
	if err := os.MkdirAll(*dst, 0o755); err != nil {
		log.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(*dst, "*.avap"))
	for _, f := range old {
		os.Remove(f)
	}
	var index []example
	for _, s := range scripts {
		base := strings.TrimSuffix(filepath.Base(s), ".avap")
		body, err := os.ReadFile(s)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*dst, base+".avap"), body, 0o644); err != nil {
			log.Fatal(err)
		}
		ex := example{File: base + ".avap", Title: title(base)}
		if b, err := os.ReadFile(filepath.Join(*src, base+".expected.json")); err == nil {
			var c struct {
				Description string `json:"description"`
				Request     struct {
					Query json.RawMessage `json:"query"`
					Body  json.RawMessage `json:"body"`
				} `json:"request"`
				Expected struct {
					Status int `json:"status_code"`
				} `json:"expected"`
			}
			if err := json.Unmarshal(b, &c); err != nil {
				log.Fatalf("%s: %v", base, err)
			}
			ex.Description, ex.Status = c.Description, c.Expected.Status
			if q := c.Request.Query; len(q) > 0 && string(q) != "{}" && string(q) != "null" {
				ex.Query = q
			}
			if p := c.Request.Body; len(p) > 0 && string(p) != "null" && string(p) != "{}" {
				ex.Params = p
			}
		}
		index = append(index, ex)
	}
	out, err := json.MarshalIndent(index, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*dst, "index.json"), append(out, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d examples to %s", len(index), *dst)
}

// title turns "11_loop_sum" into "11 loop sum".
func title(base string) string { return strings.ReplaceAll(base, "_", " ") }
