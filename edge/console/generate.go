package console

//go:generate go run gen_examples.go -src ../../../shared/avap/corpus -dst assets/examples
