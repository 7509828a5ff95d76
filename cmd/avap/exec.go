package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// execCommand is `avap exec --server URL FILE`: run a script on a remote
// server through POST /api/v1/execute and print the envelope it answers.
func (a *app) execCommand() *cobra.Command {
	var (
		server  string
		params  []string
		vars    []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "exec FILE",
		Short: "Run a script on a remote avap server and print the envelope",
		Long: `exec sends FILE ("-" reads standard input) to POST /api/v1/execute of the
server at --server and prints the JSON envelope it answers. --param k=v
becomes the query string (request parameters, in order); --var k=JSON
pre-seeds a global variable. The exit status is 1 when the run failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, src, err := a.readScript(args[0])
			if err != nil {
				return err
			}
			body := map[string]any{"script": string(src)}
			if len(vars) > 0 {
				vm := map[string]json.RawMessage{}
				for _, v := range vars {
					k, val, ok := strings.Cut(v, "=")
					if !ok || !json.Valid([]byte(val)) {
						return usageError{fmt.Errorf("--var %q: want name=JSON", v)}
					}
					vm[k] = json.RawMessage(val)
				}
				body["variables"] = vm
			}
			q := make([]string, 0, len(params))
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok {
					return usageError{fmt.Errorf("--param %q: want name=value", p)}
				}
				q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v))
			}
			u := strings.TrimRight(server, "/") + "/api/v1/execute"
			if len(q) > 0 {
				u += "?" + strings.Join(q, "&")
			}
			jb, _ := json.Marshal(body)
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, u, bytes.NewReader(jb))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := (&http.Client{Timeout: timeout}).Do(req)
			if err != nil {
				return fmt.Errorf("exec: %w", err)
			}
			defer resp.Body.Close()
			out, err := io.ReadAll(resp.Body)
			if err != nil {
				return fmt.Errorf("exec: read response: %w", err)
			}
			var env struct {
				Success bool `json:"success"`
			}
			if err := json.Unmarshal(out, &env); err != nil {
				return fmt.Errorf("exec: %s answered %s: %s", server, resp.Status, bytes.TrimSpace(out))
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, out, "", "  ") == nil {
				out = pretty.Bytes()
			}
			fmt.Fprintf(a.stdout, "%s\n", bytes.TrimSpace(out))
			if !env.Success {
				return exitCodeError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "http://127.0.0.1:8080", "base URL of the avap server")
	f.StringArrayVar(&params, "param", nil, "request parameter name=value (repeatable, in order)")
	f.StringArrayVar(&vars, "var", nil, "global variable name=JSON (repeatable)")
	f.DurationVar(&timeout, "timeout", 70*time.Second, "HTTP timeout")
	return cmd
}
