package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/avapmesh/avap/registry"
	"github.com/avapmesh/avap/vm"
)

// keysCommand is `avap keys gen`.
func (a *app) keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage registry signing keys (gen) and API keys (create, list, revoke)"}
	var out string
	gen := &cobra.Command{
		Use:   "gen NAME",
		Short: "Generate a package signing key pair",
		Long: `gen writes a new ed25519 key pair: NAME.key (private, PRIVATE+KEY+...,
mode 0600) and NAME.pub (public). Publish with --key NAME.key; add the
contents of NAME.pub to registry.trusted_keys on registries and executors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			file := out
			if file == "" {
				file = name + ".key"
			}
			if _, err := os.Stat(file); err == nil {
				return fmt.Errorf("%s exists; not overwriting a key", file)
			}
			if err := writeKeyPair(file, name); err != nil {
				return err
			}
			pub, err := os.ReadFile(pubFile(file))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s and %s\npublic key: %s", file, pubFile(file), pub)
			return nil
		},
	}
	gen.Flags().StringVarP(&out, "out", "o", "", "private key file (default NAME.key; the public key goes next to it as .pub)")
	keys.AddCommand(gen)
	a.addAPIKeyCommands(keys) // create, list, revoke (keys_cmd.go)
	return keys
}

// connectMesh connects to nats.url for a CLI command.
func (a *app) connectMesh() (*nats.Conn, *Config, error) {
	res, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(res.Config.NATS.URL, nats.Name("avap-cli"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", res.Config.NATS.URL, err)
	}
	return nc, res.Config, nil
}

// commandsCommand is `avap commands publish|list|deprecate|revoke`.
func (a *app) commandsCommand() *cobra.Command {
	cmds := &cobra.Command{Use: "commands", Short: "Publish and list command packages in the registry"}
	var keyFile, name, version, kind string
	publish := &cobra.Command{
		Use:   "publish DIR|FILE",
		Short: "Compile, sign and publish a package",
		Long: `publish compiles an AVAP file (or DIR/main.avap, whose include()s resolve
inside DIR), resolves its import()s through the registry, signs the package
with --key and publishes it over NATS (nats.url).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			signer, err := registry.NewSigner(string(b))
			if err != nil {
				return fmt.Errorf("--key %s: %w", keyFile, err)
			}
			entry, root, err := publishTarget(args[0])
			if err != nil {
				return err
			}
			if name == "" {
				name = strings.TrimSuffix(filepath.Base(args[0]), ".avap")
			}
			src, err := os.ReadFile(entry)
			if err != nil {
				return err
			}
			nc, _, err := a.connectMesh()
			if err != nil {
				return err
			}
			defer nc.Close()
			client := registry.NewClient(nc, 10*time.Second)
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			p, err := registry.Build(ctx, src, registry.BuildOptions{Name: name, Version: version, Kind: kind,
				Importer: &cliImporter{client: client, root: root}})
			if err != nil {
				return err
			}
			env, _, err := registry.Seal(p, signer)
			if err != nil {
				return err
			}
			e, err := client.Publish(ctx, env)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "published %s@%s (%s, revision %d, hash %s)\n", e.Name, e.Version, e.Kind, e.Revision, e.Hash[:12])
			return nil
		},
	}
	publish.Flags().StringVarP(&keyFile, "key", "k", "", "signing key file (from avap keys gen)")
	publish.Flags().StringVar(&name, "name", "", "package name (default: file or directory name)")
	publish.Flags().StringVar(&version, "version", "", "semantic version, e.g. 1.2.0")
	publish.Flags().StringVar(&kind, "kind", registry.KindLibrary, "library (functions for import) or script (run by name)")
	_ = publish.MarkFlagRequired("key")
	_ = publish.MarkFlagRequired("version")

	list := &cobra.Command{
		Use:   "list [NAME]",
		Short: "List published packages",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, _, err := a.connectMesh()
			if err != nil {
				return err
			}
			defer nc.Close()
			n := ""
			if len(args) == 1 {
				n = args[0]
			}
			l, err := registry.NewClient(nc, 10*time.Second).List(cmd.Context(), n)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tKIND\tSTATUS\tREVISION\tHASH\tKEY")
			for _, e := range l.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Name, e.Version, e.Kind, e.Status, e.Revision, e.Hash[:12], e.KeyID)
			}
			return tw.Flush()
		},
	}
	var reason string
	status := func(use, status, short string) *cobra.Command {
		c := &cobra.Command{
			Use: use + " NAME VERSION", Short: short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				nc, _, err := a.connectMesh()
				if err != nil {
					return err
				}
				defer nc.Close()
				e, err := registry.NewClient(nc, 10*time.Second).SetStatus(cmd.Context(), args[0], args[1], status, reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s@%s is %s (revision %d)\n", e.Name, e.Version, e.Status, e.Revision)
				return nil
			},
		}
		c.Flags().StringVar(&reason, "reason", "", "why (shown in warnings and audit)")
		return c
	}
	cmds.AddCommand(publish, list,
		status("deprecate", registry.StatusDeprecated, "Deprecate a version (runs log a warning)"),
		status("revoke", registry.StatusRevoked, "Revoke a version (refused on every executor)"))
	return cmds
}

// publishTarget returns the entry file and the root for include().
func publishTarget(arg string) (entry, root string, err error) {
	st, err := os.Stat(arg)
	if err != nil {
		return "", "", err
	}
	if st.IsDir() {
		return filepath.Join(arg, "main.avap"), arg, nil
	}
	return arg, filepath.Dir(arg), nil
}

// cliImporter resolves import() through the registry service and
// include() inside the published directory.
type cliImporter struct {
	client *registry.Client
	root   string
}

func (ci *cliImporter) Import(ctx context.Context, name, constraint string) (*vm.Library, error) {
	rec, err := ci.client.Get(ctx, name, constraint)
	if err != nil {
		return nil, err
	}
	lib := &vm.Library{Name: rec.Name, Version: rec.Version}
	// The registry verifies packages on publish; here only the source is needed.
	v, err := registry.Open(rec.Envelope, anyKey{}, rec.Hash)
	if err != nil {
		return nil, err
	}
	lib.Source = v.Source
	if rec.Status == registry.StatusDeprecated {
		lib.Warning = fmt.Sprintf("warning: package %s@%s is deprecated", rec.Name, rec.Version)
	}
	return lib, nil
}

func (ci *cliImporter) Include(_ context.Context, from, path string) (string, []byte, error) {
	rel := filepath.Join(filepath.Dir(from), filepath.FromSlash(path))
	if filepath.IsAbs(path) || !filepath.IsLocal(rel) {
		return "", nil, fmt.Errorf("path escapes the package directory")
	}
	b, err := os.ReadFile(filepath.Join(ci.root, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("file %s not found", filepath.ToSlash(rel))
	}
	return filepath.ToSlash(rel), b, err
}

// anyKey accepts every signature: the CLI only reads dependency sources
// (the registry verified them, and verifies the new package again).
type anyKey struct{}

func (anyKey) Verifier(name string, hash uint32) (registry.Verifier, error) {
	return trustAll{name, hash}, nil
}

type trustAll struct {
	name string
	hash uint32
}

func (t trustAll) Name() string          { return t.name }
func (t trustAll) KeyHash() uint32       { return t.hash }
func (trustAll) Verify(_, _ []byte) bool { return true }

// cacheCommand is `avap cache backup|restore FILE`.
func (a *app) cacheCommand() *cobra.Command {
	cache := &cobra.Command{Use: "cache", Short: "Back up or restore the executor's local package cache"}
	dir := func() (string, *Config, error) {
		res, err := a.loadConfig()
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(registryDir(res.Config.DataDir), "cache"), res.Config, nil
	}
	backup := &cobra.Command{
		Use: "backup FILE", Short: "Write the local cache of signed packages to FILE (tar.gz)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			d, _, err := dir()
			if err != nil {
				return err
			}
			f, err := os.Create(args[0])
			if err != nil {
				return err
			}
			n, err := registry.Backup(d, f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "backed up %d files from %s\n", n, d)
			return nil
		},
	}
	restore := &cobra.Command{
		Use: "restore FILE", Short: "Restore the local cache from FILE, verifying every package", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			d, cfg, err := dir()
			if err != nil {
				return err
			}
			var keys registry.Verifiers
			trusted := append([]string(nil), cfg.Registry.TrustedKeys...)
			if b, err := os.ReadFile(pubFile(servedKeyFile(cfg.DataDir))); err == nil {
				trusted = append(trusted, strings.TrimSpace(string(b)))
			}
			if len(trusted) > 0 {
				if keys, err = registry.NewKeyring(trusted...); err != nil {
					return err
				}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			n, err := registry.Restore(d, f, keys)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored %d files into %s\n", n, d)
			return nil
		},
	}
	cache.AddCommand(backup, restore)
	return cache
}
