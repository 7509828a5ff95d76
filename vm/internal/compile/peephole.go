package compile

// peephole rewrites fs.code in place: jump threading, removal of jumps to
// the next instruction, NOT+conditional jump inversion and the
// superinstructions listed in opcode.go. Labels are remapped. Instructions
// that some label points at never disappear into a fused instruction
// unless they are its first word.
func (fs *fstate) peephole() {
	code := fs.code
	// Jump threading: a jump to an unconditional JUMP goes to its target.
	for i := range code {
		switch code[i].op {
		case JUMP, JUMPF, JUMPT:
			for hops := 0; hops < 8; hops++ {
				t := fs.labels[code[i].b]
				if t < len(code) && code[t].op == JUMP && code[t].b != code[i].b {
					code[i].b = code[t].b
					continue
				}
				break
			}
		}
	}
	// newIndex doubles as the "is a jump target" mark (-1) until it is
	// filled in below; an instruction is only read ahead of being filled.
	newIndex := make([]int, len(code)+1)
	for _, t := range fs.labels {
		if t >= 0 {
			newIndex[t] = -1
		}
	}
	free := func(j int) bool { return j < len(code) && newIndex[j] != -1 }
	out := fs.code[:0] // rewriting in place: out never overtakes the read position
	for i := 0; i < len(code); {
		in := code[i]
		n := 1 // instructions consumed
		switch in.op {
		case LOADL, LOADG:
			if free(i+1) && free(i+2) {
				nx, op := code[i+1], code[i+2]
				switch {
				case free(i+3) && nx.op == CONST && op.op == ADD && code[i+3].a == in.a &&
					(in.op == LOADG && code[i+3].op == STOREG || in.op == LOADL && code[i+3].op == STOREL):
					fused := INCG
					if in.op == LOADL {
						fused = INCL
					}
					in = ins{op: fused, a: in.a, b: nx.a, pos: op.pos}
					n = 4
				case free(i+3) && nx.op == in.op && op.op == ADD && code[i+3].a == in.a &&
					(in.op == LOADG && code[i+3].op == STOREG || in.op == LOADL && code[i+3].op == STOREL):
					fused := INCGG
					if in.op == LOADL {
						fused = INCLL
					}
					in = ins{op: fused, a: in.a, b: nx.a, pos: op.pos}
					n = 4
				case in.op == LOADL && nx.op == CONST && op.op == ADD:
					in = ins{op: ADDLK, a: in.a, b: nx.a, pos: op.pos}
					n = 3
				case in.op == LOADL && nx.op == CONST && op.op == SUB:
					in = ins{op: SUBLK, a: in.a, b: nx.a, pos: op.pos}
					n = 3
				case in.op == LOADG && nx.op == LOADG && op.op == ADD:
					in = ins{op: ADDGG, a: in.a, b: nx.a, pos: op.pos}
					n = 3
				case in.op == LOADL && nx.op == LOADL && op.op == ADD:
					in = ins{op: ADDLL, a: in.a, b: nx.a, pos: op.pos}
					n = 3
				}
			}
		case OPTL, OPTG:
			// if(name, constant, op): the comparison-mode test of a variable.
			if free(i+1) && free(i+2) && free(i+3) && code[i+1].op == ORTEXT &&
				code[i+2].op == CONST && code[i+3].op == CMP && code[i+2].a < 1<<24 {
				fused := CMPLK
				if in.op == OPTG {
					fused = CMPGK
				}
				in = ins{op: fused, a: in.a, b: code[i+2].a | code[i+3].a<<24, pos: code[i+3].pos}
				n = 4
			}
		case ADD:
			if free(i + 1) {
				switch code[i+1].op {
				case STOREG:
					in = ins{op: ADDSTG, a: code[i+1].a, pos: in.pos}
					n = 2
				case STOREL:
					in = ins{op: ADDSTL, a: code[i+1].a, pos: in.pos}
					n = 2
				}
			}
		case NOT:
			if free(i + 1) {
				switch code[i+1].op {
				case JUMPF:
					in = ins{op: JUMPT, b: code[i+1].b, pos: code[i+1].pos}
					n = 2
				case JUMPT:
					in = ins{op: JUMPF, b: code[i+1].b, pos: code[i+1].pos}
					n = 2
				}
			}
		case JUMP:
			if fs.labels[in.b] == i+1 {
				in = ins{op: NOP, pos: in.pos}
			}
		}
		for k := 0; k < n; k++ {
			newIndex[i+k] = len(out)
		}
		if in.op != NOP {
			out = append(out, in)
		}
		i += n
	}
	newIndex[len(code)] = len(out)
	for l, t := range fs.labels {
		if t >= 0 {
			fs.labels[l] = newIndex[t]
		}
	}
	fs.code = out
}
