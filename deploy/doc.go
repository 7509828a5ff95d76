// Package deploy holds no code: it is the home of the deployment files
// (docker/, kubernetes/, systemd/, the workflows in ../.github) and of the
// tests that check them. It is its own module so that the Kubernetes and
// kustomize libraries the tests use stay out of the server's go.mod.
//
// The tests decode every Kubernetes manifest strictly into the official API
// types, build the kustomize overlays, validate the avap config files with
// the real binary (`avap <role> --check-config`), parse and verify the
// systemd units, check the Dockerfile statically and check that the
// workflows call only Taskfile targets that exist. Run them with
//
//	cd deploy && go test ./...
//
// Set AVAP_BIN to a built avap binary to skip building one.
package deploy
