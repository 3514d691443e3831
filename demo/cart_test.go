package demo

import (
	"reflect"
	"testing"
)

func validUpTo(n int) func(int) bool { return func(id int) bool { return id >= 1 && id <= n } }

func TestParseCart(t *testing.T) {
	tests := []struct {
		in   string
		want []cartLine
	}{
		{"", nil},
		{"3:2", []cartLine{{3, 2}}},
		{"3:2|1:1", []cartLine{{3, 2}, {1, 1}}},
		{"3:2|3:5", []cartLine{{3, 2}}},                     // duplicates: first wins
		{"x:1|2:y|:|2:0|2:-1|99:1|2:3", []cartLine{{2, 3}}}, // malformed and unknown skipped
		{"1:1000", []cartLine{{1, maxLineQty}}},
	}
	for _, tt := range tests {
		if got := parseCart([]byte(tt.in), validUpTo(12)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseCart(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAddToCartDropsOldestWhenFull(t *testing.T) {
	var lines []cartLine
	for id := 1; id <= maxCartLines+1; id++ {
		lines = addToCart(lines, id, 1)
	}
	if len(lines) != maxCartLines || lines[0].id != 2 || lines[len(lines)-1].id != maxCartLines+1 {
		t.Errorf("full cart = %v, want ids 2..%d", lines, maxCartLines+1)
	}
}

// FuzzParseCart: whatever the cookie, the cart is bounded, holds only
// valid items once each, and formats to a cookie that parses back to it.
func FuzzParseCart(f *testing.F) {
	for _, s := range []string{"", "1:1", "3:2|1:1", "1:1|1:2", "+1:+1", "0:0|", "|||", "12:99|11:98"} {
		f.Add(s)
	}
	valid := validUpTo(12)
	f.Fuzz(func(t *testing.T, in string) {
		lines := parseCart([]byte(in), valid)
		if len(lines) > maxCartLines {
			t.Fatalf("%d lines, bound %d", len(lines), maxCartLines)
		}
		seen := map[int]bool{}
		for _, l := range lines {
			if !valid(l.id) || seen[l.id] || l.qty < 1 || l.qty > maxLineQty {
				t.Fatalf("bad line %+v in %v", l, lines)
			}
			seen[l.id] = true
		}
		again := parseCart(appendCart(nil, lines), valid)
		if len(lines) > 0 && !reflect.DeepEqual(again, lines) {
			t.Fatalf("round trip: %v -> %q -> %v", lines, appendCart(nil, lines), again)
		}
	})
}
