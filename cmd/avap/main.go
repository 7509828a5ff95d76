// Command avap is the AVAP execution server: one binary that plays every
// role of the mesh (serve, edge, executor, registry, nats) and runs or
// checks scripts locally (run, check). See README.md.
package main

import (
	"context"
	"os"
	"time"
)

func main() {
	os.Exit(Main())
}

// Main runs the command line of this process and returns its exit code.
func Main() int {
	a := &app{
		start:   time.Now(),
		stdin:   os.Stdin,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		environ: os.Environ,
	}
	return a.main(context.Background(), os.Args[1:])
}
