package vm

import (
	"context"
	"testing"
)

// A cancel of the root's earlier run that reaches cancelAll late (a Cancel
// or timer racing with the end of that run: cancelRun checked the run
// number, then the run ended and the next one started tasks) must not stop
// the tasks of the later run nor leave it "stopping".
func TestReviewStaleCancelAllIgnored(t *testing.T) {
	p, err := Compile("main.avap", []byte(`function f(n){
  return(n)
}
h = go(f, 1)
v = gather(h, 0)
addResult(v)
`), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine()
	if _, err := m.Run(context.Background(), p, nil, Limits{}); err != nil {
		t.Fatal(err)
	}
	sh, oldGen := m.shared, m.gen.Load()
	if sh == nil {
		t.Fatal("a run with tasks left no runShared")
	}
	sh.cancelAll(oldGen, ErrCanceled) // late: run oldGen is over
	for i := 0; i < 3; i++ {
		res, err := m.Run(context.Background(), p, nil, Limits{})
		if err != nil {
			t.Fatalf("run %d after a late cancel of an earlier run: %v", i, err)
		}
		if string(res.Result) != `{"v":1}` {
			t.Fatalf("result %s", res.Result)
		}
	}
}
