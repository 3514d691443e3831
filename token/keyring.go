package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// MinKeyLen is the shortest secret accepted: HMAC-SHA-256 is as strong as
// its key up to 32 bytes (RFC 2104 §3).
const MinKeyLen = 32

// DefaultLeeway is the clock leeway used when Keyring.Leeway is zero: the
// instances of a cluster and the CDN in front may disagree by a few seconds.
const DefaultLeeway = 5 * time.Second

// Construction errors. NewKeyring wraps them with the offending key id.
var (
	ErrNoKeys       = errors.New("token: no keys")
	ErrShortKey     = errors.New("token: key shorter than 32 bytes")
	ErrDuplicateKey = errors.New("token: duplicate key id")
)

// Key is one signing secret and the id that names it inside tokens.
type Key struct {
	ID     uint8
	Secret []byte // at least MinKeyLen bytes; copied by NewKeyring
}

// Keyring signs with its first key and verifies with any of its keys.
//
// Rotation: publish [new, old] (new signs, both verify), wait for the longest
// token lifetime, then publish [new]. A Keyring is immutable after
// NewKeyring and safe for concurrent use; Sign and Verify allocate nothing in
// steady state (HMAC states are pooled per key).
type Keyring struct {
	keys   [256]*macKey // indexed by key id; nil = unknown
	signer *macKey
	leeway int64 // nanoseconds
}

// macKey pools HMAC states of one key: hmac.New costs allocations and two
// hash blocks, a Reset of a pooled state costs neither.
type macKey struct {
	id     uint8
	secret []byte
	pool   sync.Pool // of *macState
}

// macState is one pooled HMAC state with its own buffers: bytes handed to
// hash.Hash.Write escape (an interface call), so the payload is copied here
// rather than passed from the caller's stack.
type macState struct {
	h   hash.Hash
	in  [payloadLen]byte
	sum [sha256.Size]byte
}

// NewKeyring returns a Keyring over keys (the first signs) with the given
// clock leeway (DefaultLeeway when 0; negative is an error).
func NewKeyring(keys []Key, leeway time.Duration) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	if leeway < 0 {
		return nil, fmt.Errorf("token: leeway %v is negative", leeway)
	}
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	kr := &Keyring{leeway: int64(leeway)}
	for _, k := range keys {
		if len(k.Secret) < MinKeyLen {
			return nil, fmt.Errorf("key id %d has %d bytes, need at least %d: %w", k.ID, len(k.Secret), MinKeyLen, ErrShortKey)
		}
		if kr.keys[k.ID] != nil {
			return nil, fmt.Errorf("key id %d: %w", k.ID, ErrDuplicateKey)
		}
		mk := &macKey{id: k.ID, secret: append([]byte(nil), k.Secret...)}
		mk.pool.New = func() any { return &macState{h: hmac.New(sha256.New, mk.secret)} }
		kr.keys[k.ID] = mk
	}
	kr.signer = kr.keys[keys[0].ID]
	return kr, nil
}

// Leeway returns the clock leeway Verify applies, in nanoseconds.
func (kr *Keyring) Leeway() int64 { return kr.leeway }

// SignerID returns the id of the key that signs new tokens.
func (kr *Keyring) SignerID() uint8 { return kr.signer.id }

// mac computes the tag of payload under k into *tag.
func (k *macKey) mac(tag *[tagLen]byte, payload *[payloadLen]byte) {
	st := k.pool.Get().(*macState)
	st.in = *payload
	st.h.Reset()
	st.h.Write(st.in[:])
	st.h.Sum(st.sum[:0])
	*tag = st.sum
	k.pool.Put(st)
}
