package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) healthCommand() *cobra.Command {
	var (
		url     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Probe a running node's readiness (for container health checks)",
		Long: `health sends GET --url (default: /readyz on the loopback side of http.addr)
and exits 0 when the answer is 200, 1 otherwise. It needs no shell or curl,
so distroless images can use it as their HEALTHCHECK.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				res, err := a.loadConfig()
				if err != nil {
					return err
				}
				host, port, _ := net.SplitHostPort(res.Config.HTTP.Addr)
				if host == "" || host == "0.0.0.0" || host == "::" {
					host = "127.0.0.1"
				}
				url = "http://" + net.JoinHostPort(host, port) + "/readyz"
			}
			c := &http.Client{Timeout: timeout}
			resp, err := c.Get(url)
			if err != nil {
				fmt.Fprintf(a.stderr, "avap health: %v\n", err)
				return exitCodeError{exitError}
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			fmt.Fprintf(a.stdout, "%d %s\n", resp.StatusCode, body)
			if resp.StatusCode != http.StatusOK {
				return exitCodeError{exitError}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "URL to probe (default http://<http.addr>/readyz)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "request timeout")
	return cmd
}
