package esi

import "testing"

func TestExpr(t *testing.T) {
	vars := &testVars{rawQuery: "n=12&s=b", cookies: map[string]string{"tier": "gold"},
		headers: map[string]string{"accept-language": "de, en;q=0.5"}}
	tests := []struct {
		test     string
		want     bool
		personal bool
	}{
		{"$(HTTP_COOKIE{tier}) == 'gold'", true, true},
		{"$(HTTP_COOKIE{tier}) != 'gold'", false, true},
		{"$(QUERY_STRING{n}) > 9", true, false}, // numeric: 12 > 9
		{"$(QUERY_STRING{s}) > 'a'", true, false},
		{"'12' < '9'", false, false},  // both integers: numeric
		{"'x12' < 'x9'", true, false}, // bytewise
		{"!($(QUERY_STRING{n}) <= 12)", false, false},
		{"1 == 2 || 2 == 2 && !(3 >= 4)", true, false},
		{"$(QUERY_STRING{missing})", false, false},
		{"$(QUERY_STRING{missing}|'x')", true, false},
		{"$(HTTP_ACCEPT_LANGUAGE{en})", true, true},
		{"$(HTTP_ACCEPT_LANGUAGE{fr})", false, true},
		{"-3 < 2", true, false},
		// ESI 1.0 §5.1: & and | (as well as && and ||), ! binds looser
		// than a comparison, & tighter than |.
		{"(1==1)|(2==2)", true, false},
		{"(1==1)&(2==3)", false, false},
		{"(4!=5)&(4==5)", false, false},
		{"1==2 | 2==2 & 3==3", true, false},
		{"(1==2 | 2==2) & 3==4", false, false},
		{"!1==2", true, false},
		{"!(1==1)", false, false},
		{"!('a'<='c')", false, false},
		{"(1==1)|('abc'=='def')", true, false},
		// numbers: decimals compare exactly, with integers alike
		{"$(QUERY_STRING{n}) == 12.0", true, false},
		{"10 == 10.0", true, false},
		{"'10.50' == 10.5", true, false},
		{"0.1 < 0.12", true, false},
		{"-0.5 < -0.25", true, false},
		{"-0 == 0.0", true, false},
		{"99999999999999999999 < 100000000000000000000", true, false},
		{"'1.05a' < '1.1'", true, false}, // not a number: bytewise
		{"'3.01.23' > '3.1'", false, false},
		// an empty or undefined operand makes any comparison false
		{"$(QUERY_STRING{missing}) != 'x'", false, false},
		{"$(QUERY_STRING{missing}) == ''", false, false},
		{"'' == ''", false, false},
		{"!($(QUERY_STRING{missing}) == 'x')", true, false},
		{"$(HTTP_COOKIE{none}) < 1", false, true},
		{"$(QUERY_STRING{missing}|0) < 1", true, false},
	}
	for _, tt := range tests {
		e, err := parseExpr([]byte(tt.test))
		if err != nil {
			t.Errorf("parseExpr(%q): %v", tt.test, err)
			continue
		}
		if got, personal := e.eval(vars); got != tt.want || personal != tt.personal {
			t.Errorf("%q = %v (personal %v), want %v (personal %v)", tt.test, got, personal, tt.want, tt.personal)
		}
	}
}

func TestExprErrors(t *testing.T) {
	tests := []struct{ test, err string }{
		{"", "missing operand"},
		{"1 ==", "missing operand"},
		{"(1 == 1", "missing ')'"},
		{"'abc", "unterminated string"},
		{"1 == 1 garbage", `unexpected "garbage"`},
		{"$(NOPE)", "unknown variable NOPE"},
		{"$(HTTP_HEADER)", "HTTP_HEADER needs a {name}"},
		{"((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))", "nested too deeply"},
		{"1 ==  & 2", "unexpected \"& 2\""},
		{"10. == 10", "unexpected \". == 10\""},
		{"(1==1)|", "missing operand"},
	}
	for _, tt := range tests {
		if _, err := parseExpr([]byte(tt.test)); err == nil || err.Error() != tt.err {
			t.Errorf("parseExpr(%q) error = %v, want %q", tt.test, err, tt.err)
		}
	}
}
