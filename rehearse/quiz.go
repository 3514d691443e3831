package rehearse

import (
	"crypto/sha256"
	"math/bits"
	"regexp"
	"strconv"
)

// solvePow finds the decimal counter n for which SHA-256(challenge ":" n)
// starts with difficulty zero bits, as the gateway's page script does. It
// gives up after 64× the expected work (a puzzle that unlucky is rarer
// than one in 10^27), so a rehearsal never spins.
func solvePow(challenge string, difficulty int) (string, bool) {
	buf := make([]byte, 0, len(challenge)+24)
	buf = append(append(buf, challenge...), ':')
	base := len(buf)
	limit := uint64(64) << difficulty
	for n := uint64(0); n < limit; n++ {
		buf = strconv.AppendUint(buf[:base], n, 10)
		sum := sha256.Sum256(buf)
		if leadingZeros(sum[:]) >= difficulty {
			return string(buf[base:]), true
		}
	}
	return "", false
}

func leadingZeros(b []byte) int {
	n := 0
	for _, c := range b {
		if c != 0 {
			return n + bits.LeadingZeros8(c)
		}
		n += 8
	}
	return n
}

// arithmetic matches the gateway's default text question, "What is 7 + 5?".
var arithmetic = regexp.MustCompile(`(-?\d+)\s*([+\-−×x*])\s*(-?\d+)`)

// solveText answers an arithmetic question as a person would; any other
// question (an operator's own bank) is one a crowd cannot answer.
func solveText(q string) (string, bool) {
	m := arithmetic.FindStringSubmatch(q)
	if m == nil {
		return "", false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[3])
	switch m[2] {
	case "+":
		return strconv.Itoa(a + b), true
	case "-", "−":
		return strconv.Itoa(a - b), true
	default:
		return strconv.Itoa(a * b), true
	}
}
