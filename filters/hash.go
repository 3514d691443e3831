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

// Mix folds v into h; Mix(h, a) != Mix(h, b) for a != b barring collisions.
func Mix(h, v uint64) uint64 { return token.Mix(h, v) }
