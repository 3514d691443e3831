package demo

import "strconv"

// The cart lives in cookie "cart" as "id:qty|id:qty" (':' and '|' are
// valid cookie octets, RFC 6265 §4.1.1). The shop keeps no per-user state,
// so its memory does not grow with users.
const (
	maxCartLines = 16
	maxLineQty   = 99
)

type cartLine struct {
	id  int
	qty int
}

// parseCart parses a cart cookie, skipping malformed lines, lines of
// unknown items (valid reports false) and duplicates, and keeping at most
// maxCartLines lines with quantities clamped to 1..maxLineQty.
func parseCart(b []byte, valid func(id int) bool) []cartLine {
	var lines []cartLine
	for len(b) > 0 && len(lines) < maxCartLines {
		var part []byte
		part, b = cut(b, '|')
		idb, qtyb := cut(part, ':')
		id, err1 := strconv.Atoi(string(idb))
		qty, err2 := strconv.Atoi(string(qtyb))
		if err1 != nil || err2 != nil || qty < 1 || !valid(id) || hasLine(lines, id) {
			continue
		}
		lines = append(lines, cartLine{id: id, qty: min(qty, maxLineQty)})
	}
	return lines
}

// addToCart adds qty of item id, keeping the bounds of parseCart. When the
// cart is full the oldest line is dropped.
func addToCart(lines []cartLine, id, qty int) []cartLine {
	for i := range lines {
		if lines[i].id == id {
			lines[i].qty = min(lines[i].qty+qty, maxLineQty)
			return lines
		}
	}
	if len(lines) == maxCartLines {
		lines = append(lines[:0], lines[1:]...)
	}
	return append(lines, cartLine{id: id, qty: min(qty, maxLineQty)})
}

// appendCart formats lines in the cookie syntax parseCart reads.
func appendCart(dst []byte, lines []cartLine) []byte {
	for i, l := range lines {
		if i > 0 {
			dst = append(dst, '|')
		}
		dst = strconv.AppendInt(dst, int64(l.id), 10)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(l.qty), 10)
	}
	return dst
}

func hasLine(lines []cartLine, id int) bool {
	for _, l := range lines {
		if l.id == id {
			return true
		}
	}
	return false
}

func cut(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
