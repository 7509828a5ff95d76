package vm_test

import (
	"flag"
	"os"
	"testing"

	"github.com/avapmesh/avap/vm/vmtest"
)

var update = flag.Bool("update", false, "rewrite the golden outputs of the conformance archives")

func TestConformance(t *testing.T) {
	const dir = "testdata/conformance"
	vmtest.Run(t, os.DirFS(dir), vmtest.Local, vmtest.Options{Update: *update, UpdateDir: dir, Parallel: true})
}
