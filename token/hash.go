package token

// FNV-1a 64 constants. A stable, unkeyed hash is what scope and subject need:
// every instance (and every restart) must derive the same value, and the
// binding's strength comes from the HMAC over it, not from the hash.
const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

// Hash returns a stable 64-bit hash of b for Claims.Scope and Claims.Subject.
// It is FNV-1a, identical across processes and versions. 0 allocs.
func Hash(b []byte) uint64 {
	h := uint64(offset64)
	for _, c := range b {
		h = (h ^ uint64(c)) * prime64
	}
	return h
}

// HashString is Hash for a string.
func HashString(s string) uint64 {
	h := uint64(offset64)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * prime64
	}
	return h
}

// Mix folds v into h (e.g. a scope hash and an item id) so that Mix(h, a) and
// Mix(h, b) differ for a != b. It is the same FNV-1a step over v's 8 bytes.
func Mix(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (v & 0xff)) * prime64
		v >>= 8
	}
	return h
}
