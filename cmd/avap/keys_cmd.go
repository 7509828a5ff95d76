package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/avapmesh/avap/bus"
)

// addAPIKeyCommands adds `avap keys create|list|revoke` next to `keys gen`.
// They write the key store (PostgreSQL, or <data_dir>/api_keys.json) and,
// when nats.url answers, the mesh's bucket directly, so running edges see
// the change at once; otherwise the edges' store sync picks it up within
// http.api_keys.sync_interval.
func (a *app) addAPIKeyCommands(keys *cobra.Command) {
	var (
		caps     []string
		rps      float64
		burst    int
		sign     bool
		requireS bool
		maxSteps int64
		maxTime  time.Duration
		maxMem   ByteSize
		maxOut   ByteSize
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API key (printed once; only its hash is stored)",
		Long: `create makes a new API key for http.api_keys.enabled. The key is printed
once and cannot be recovered: only its SHA-256 is stored. Capabilities:
` + strings.Join(bus.KeyCapabilities(), ", ") + ` (default: execute).
With --sign the key also gets an HMAC signing secret (printed once too);
--require-signature makes every request with the key need a signature.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, rec := bus.NewAPIKey(args[0], sign || requireS)
			rec.Capabilities = caps
			rec.RPS, rec.Burst = rps, burst
			rec.RequireSignature = requireS
			rec.MaxLimits = bus.KeyLimits{MaxSteps: maxSteps, TimeoutMS: maxTime.Milliseconds(),
				MaxMemoryBytes: int64(maxMem), MaxOutputBytes: int64(maxOut)}
			if err := rec.Validate(); err != nil {
				return err
			}
			if err := a.putAPIKey(cmd.Context(), rec); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "id:           %s\nname:         %s\ncapabilities: %s\nkey:          %s\n",
				rec.ID, rec.Name, strings.Join(rec.Capabilities, ","), key)
			if rec.SigningSecret != "" {
				fmt.Fprintf(a.stdout, "signing secret: %s\n", rec.SigningSecret)
			}
			fmt.Fprintln(a.stdout, "Store the key now: it is not shown again.")
			return nil
		},
	}
	create.Flags().StringSliceVar(&caps, "cap", []string{bus.KeyCapExecute}, "capabilities ("+strings.Join(bus.KeyCapabilities(), ",")+")")
	create.Flags().Float64Var(&rps, "rps", 0, "requests per second, cluster-wide (0 = http.rate_limit.key_rps)")
	create.Flags().IntVar(&burst, "burst", 0, "burst (0 = ceil(rps))")
	create.Flags().BoolVar(&sign, "sign", false, "give the key a request-signing secret")
	create.Flags().BoolVar(&requireS, "require-signature", false, "refuse unsigned requests with this key (implies --sign)")
	create.Flags().Int64Var(&maxSteps, "max-steps", 0, "cap on max_steps of runs with this key (0 = server limit)")
	create.Flags().DurationVar(&maxTime, "max-timeout", 0, "cap on the time limit of runs with this key")
	create.Flags().Var(byteSizeFlag{&maxMem}, "max-memory", "cap on the memory limit of runs with this key, e.g. 16MiB")
	create.Flags().Var(byteSizeFlag{&maxOut}, "max-output", "cap on the output size of runs with this key")

	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (ids, names, capabilities; never keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			st, err := openKeyStore(cmd.Context(), cfg.Config)
			if err != nil {
				return err
			}
			defer st.Close()
			recs, err := st.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCAPABILITIES\tRPS\tSIGNED\tCREATED\tSTATE")
			for _, r := range recs {
				state := "active"
				if r.Revoked {
					state = "revoked " + r.RevokedAt.Format(time.RFC3339)
				}
				signed := "no"
				if r.RequireSignature {
					signed = "required"
				} else if r.SigningSecret != "" {
					signed = "can"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%g\t%s\t%s\t%s\n", r.ID, r.Name, strings.Join(r.Capabilities, ","), r.RPS, signed,
					r.Created.Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key on every edge",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			st, err := openKeyStore(cmd.Context(), cfg.Config)
			if err != nil {
				return err
			}
			recs, err := st.List(cmd.Context())
			st.Close()
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.ID != args[0] {
					continue
				}
				if !r.Revoked {
					r.Revoked, r.RevokedAt = true, time.Now().UTC()
				}
				r.RequireSignature = false // a revoked key never signs again
				if err := a.putAPIKey(cmd.Context(), r); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "revoked %s (%s)\n", r.ID, r.Name)
				return nil
			}
			return fmt.Errorf("no API key with id %q", args[0])
		},
	}
	keys.AddCommand(create, list, revoke)
}

// putAPIKey writes rec to the store, then to the mesh bucket if NATS
// answers.
func (a *app) putAPIKey(ctx context.Context, rec bus.APIKey) error {
	res, err := a.loadConfig()
	if err != nil {
		return err
	}
	cfg := res.Config
	st, err := openKeyStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Put(ctx, rec); err != nil {
		return fmt.Errorf("store key: %w", err)
	}
	nc, err := nats.Connect(cfg.NATS.URL, nats.Name("avap-cli"), nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err == nil {
		defer nc.Close()
		var js jetstream.JetStream
		var kv jetstream.KeyValue
		if js, err = jetstream.New(nc); err == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if kv, err = bus.OpenKeys(cctx, js); err == nil {
				_, err = bus.PutKey(cctx, kv, &rec)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "note: NATS at %s not reached (%v); running edges pick the change up from the store within http.api_keys.sync_interval\n", cfg.NATS.URL, err)
	}
	return nil
}

// byteSizeFlag makes a ByteSize a pflag.Value.
type byteSizeFlag struct{ p *ByteSize }

func (b byteSizeFlag) String() string {
	if b.p == nil {
		return "0"
	}
	return b.p.String()
}
func (b byteSizeFlag) Set(s string) error { return b.p.UnmarshalText([]byte(s)) }
func (b byteSizeFlag) Type() string       { return "size" }
