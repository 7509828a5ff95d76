package vm_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/avapmesh/avap/vm"
)

func ExampleCompile() {
	_, err := vm.Compile("bad.avap", []byte("addVar(a, 1\nif(a, 1, \"=\")\n"), vm.CompileOptions{})
	fmt.Println(err)
	// Output:
	// bad.avap:1:12: expected ')' to close '(' at 1:7, found newline
	// bad.avap:2:1: if at 2:1 has no matching end()
}

func ExampleMachine_Run() {
	p, err := vm.Compile("hello.avap", []byte(`addParam(name, who)
if(who, None, "=")
  _status = 400
  addVar(error, "name is required")
  addResult(error)
else()
  greeting = "Hello, " + who + "!"
  addResult(greeting)
end()
`), vm.CompileOptions{})
	if err != nil {
		panic(err)
	}
	m := vm.NewMachine()
	res, err := m.Run(context.Background(), p, &vm.Input{Query: []vm.Param{{Name: "name", Value: "Ann"}}}, vm.Limits{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Result))

	res, _ = m.Run(context.Background(), p, &vm.Input{}, vm.Limits{})
	fmt.Println(res.Status, string(res.Result))
	// Output:
	// 0 {"greeting":"Hello, Ann!"}
	// 400 {"error":"name is required"}
}

func ExampleEvalError() {
	p, _ := vm.Compile("loop.avap", []byte("n = 0\nstartLoop(i, 1, 1000000000)\n  n = n + 1\nendLoop()\n"), vm.CompileOptions{})
	_, err := vm.NewMachine().Run(context.Background(), p, nil, vm.Limits{MaxSteps: 1000})
	var ee *vm.EvalError
	fmt.Println(errors.As(err, &ee), errors.Is(err, vm.ErrStepLimit))
	fmt.Println(err)
	// Output:
	// true true
	// loop.avap:4:1: step limit exceeded
}
