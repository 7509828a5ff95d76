package compile

import (
	"math"

	"github.com/avapmesh/avap/vm/syntax"
)

// maxFoldString bounds strings built by constant folding.
const maxFoldString = 4096

// fold evaluates a constant expression at compile time. It only folds
// cases whose result is certain and error-free; anything else (overflow,
// division by zero, mixed types) is left for the machine, which reports
// the error at the right position.
func fold(e syntax.Expr) (Const, bool) {
	switch x := e.(type) {
	case *syntax.BasicLit:
		k, err := literal(x)
		return k, err == nil
	case *syntax.ParenExpr:
		return fold(x.X)
	case *syntax.UnaryExpr:
		v, ok := fold(x.X)
		if !ok {
			return Const{}, false
		}
		switch x.Op {
		case syntax.SUB:
			switch v.Kind {
			case ConstInt:
				if v.Int == math.MinInt64 {
					return Const{}, false
				}
				return Const{Kind: ConstInt, Int: -v.Int}, true
			case ConstFloat:
				return Const{Kind: ConstFloat, Float: -v.Float}, true
			}
		case syntax.ADD:
			if v.Kind == ConstInt || v.Kind == ConstFloat {
				return v, true
			}
		case syntax.NOT:
			return Const{Kind: ConstBool, Int: b2i(!constTruth(v))}, true
		}
	case *syntax.BinaryExpr:
		var buf [8]*syntax.BinaryExpr
		spine := append(buf[:0], x)
		for l, ok := x.X.(*syntax.BinaryExpr); ok; l, ok = l.X.(*syntax.BinaryExpr) {
			spine = append(spine, l)
		}
		k, i := foldSpine(spine, spine[len(spine)-1].X, false)
		return k, i == -1
	}
	return Const{}, false
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func constTruth(v Const) bool {
	switch v.Kind {
	case ConstNone:
		return false
	case ConstBool, ConstInt:
		return v.Int != 0
	case ConstFloat:
		return v.Float != 0
	case ConstString:
		return v.Str != ""
	}
	return true
}

func foldBinary(op syntax.Token, a, b Const) (Const, bool) {
	if a.Kind == ConstInt && b.Kind == ConstInt {
		x, y := a.Int, b.Int
		switch op {
		case syntax.ADD:
			r := x + y
			if (r^x)&(r^y) < 0 {
				return Const{}, false
			}
			return Const{Kind: ConstInt, Int: r}, true
		case syntax.SUB:
			r := x - y
			if (x^y)&(r^x) < 0 {
				return Const{}, false
			}
			return Const{Kind: ConstInt, Int: r}, true
		case syntax.MUL:
			if x == 0 || y == 0 {
				return Const{Kind: ConstInt}, true
			}
			r := x * y
			if r/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
				return Const{}, false
			}
			return Const{Kind: ConstInt, Int: r}, true
		case syntax.QUO:
			if y == 0 {
				return Const{}, false
			}
			return Const{Kind: ConstFloat, Float: float64(x) / float64(y)}, true
		case syntax.REM:
			if y == 0 || (x == math.MinInt64 && y == -1) {
				return Const{}, false
			}
			r := x % y
			if r != 0 && (r^y) < 0 {
				r += y
			}
			return Const{Kind: ConstInt, Int: r}, true
		case syntax.EQL:
			return Const{Kind: ConstBool, Int: b2i(x == y)}, true
		case syntax.NEQ:
			return Const{Kind: ConstBool, Int: b2i(x != y)}, true
		case syntax.LSS:
			return Const{Kind: ConstBool, Int: b2i(x < y)}, true
		case syntax.LEQ:
			return Const{Kind: ConstBool, Int: b2i(x <= y)}, true
		case syntax.GTR:
			return Const{Kind: ConstBool, Int: b2i(x > y)}, true
		case syntax.GEQ:
			return Const{Kind: ConstBool, Int: b2i(x >= y)}, true
		}
		return Const{}, false
	}
	num := func(c Const) (float64, bool) {
		switch c.Kind {
		case ConstInt:
			return float64(c.Int), true
		case ConstFloat:
			return c.Float, true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		if y, ok := num(b); ok {
			switch op {
			case syntax.ADD:
				return Const{Kind: ConstFloat, Float: x + y}, true
			case syntax.SUB:
				return Const{Kind: ConstFloat, Float: x - y}, true
			case syntax.MUL:
				return Const{Kind: ConstFloat, Float: x * y}, true
			case syntax.QUO:
				if y == 0 {
					return Const{}, false
				}
				return Const{Kind: ConstFloat, Float: x / y}, true
			}
			return Const{}, false
		}
	}
	if a.Kind == ConstString && b.Kind == ConstString && op == syntax.ADD && len(a.Str)+len(b.Str) <= maxFoldString {
		return Const{Kind: ConstString, Str: a.Str + b.Str}, true
	}
	return Const{}, false
}
