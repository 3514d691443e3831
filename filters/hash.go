package filters

import "flashgate/token"

// Hashing for state keys. It is token's FNV-1a, stable across processes and
// restarts, because keys are shared between instances through the cluster
// store. Collisions and spraying are the store's concern (it bounds memory
// by hashed key); strength against forgery comes from HMACs, not from here.

// HashBytes returns the stable hash of b. 0 allocs.
func HashBytes(b []byte) uint64 { return token.Hash(b) }

// HashString returns the stable hash of s. 0 allocs.
func HashString(s string) uint64 { return token.HashString(s) }

// Mix folds v into h. For a fixed h it is a bijection of v (an odd
// multiply and xor-shift-multiply steps), so Mix(h, a) != Mix(h, b) for
// a != b; it costs two multiplies where an FNV step over v's bytes costs
// eight, and it runs several times per request.
func Mix(h, v uint64) uint64 {
	x := h ^ (v * 0x9e3779b97f4a7c15)
	x ^= x >> 32
	x *= 0xd6e8feb86659fd93
	x ^= x >> 32
	return x
}
