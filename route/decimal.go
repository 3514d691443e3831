package route

// canonicalDecimal returns seg without its leading zeros when seg is made
// only of ASCII digits, keeping one digit ("007" → "7", "000" → "0"), and
// seg unchanged otherwise. The result is a subslice of seg: no copy, so
// matching and binding stay allocation-free.
//
// Why: an origin that parses ids as numbers (strconv.Atoi, a SQL cast)
// reads "/buy/007" as item 7. Comparing decimal segments by number rather
// than by bytes keeps such spellings on the route written for "/buy/7"
// (see Parse, "Decimal segments").
func canonicalDecimal(seg []byte) []byte {
	if len(seg) == 0 {
		return seg
	}
	zeros := 0
	for i, c := range seg {
		if c < '0' || c > '9' {
			return seg
		}
		if c == '0' && zeros == i {
			zeros++
		}
	}
	if zeros == len(seg) {
		zeros-- // all zeros: the number 0
	}
	return seg[zeros:]
}
