package filters

import (
	"crypto/sha256"
	"math/bits"
)

// Proof of work: find a decimal counter n such that
// SHA-256(challenge ":" n) starts with at least `difficulty` zero bits. A
// browser finds one in about 2^difficulty hashes (difficulty 16: ~65 000,
// well under a second with the pages' solver, templates/solver.html); checking costs one hash. It prices
// each pass in CPU time, which slows a bot farm where a text question may
// not. It needs JavaScript; without it the page asks the fallback question.

// Difficulty bounds: below 8 the work is free, above 26 phones take minutes.
const (
	minPowDifficulty = 8
	maxPowDifficulty = 26
	maxPowAnswerLen  = 20 // decimal digits of a uint64
)

// powSolved reports whether answer (decimal digits) solves challenge at
// difficulty. 0 allocs.
func powSolved(challenge, answer []byte, difficulty int) bool {
	if len(answer) == 0 || len(answer) > maxPowAnswerLen || len(challenge) > 128 {
		return false
	}
	for _, c := range answer {
		if c < '0' || c > '9' {
			return false
		}
	}
	var buf [128 + 1 + maxPowAnswerLen]byte
	n := copy(buf[:], challenge)
	buf[n] = ':'
	n++
	n += copy(buf[n:], answer)
	sum := sha256.Sum256(buf[:n])
	return leadingZeroBits(sum[:]) >= difficulty
}

func leadingZeroBits(b []byte) int {
	n := 0
	for _, c := range b {
		if c != 0 {
			return n + bits.LeadingZeros8(c)
		}
		n += 8
	}
	return n
}
