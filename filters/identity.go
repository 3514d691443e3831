package filters

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// IdentitySpec says who "the client" is for a filter's state: the "key:"
// of each stateful filter, a short form or a map with options:
//
//	key: ip                  # the client IP (default); IPv6 grouped by /64, IPv4 per address
//	key: cookie:uid          # a user id cookie the shop sets
//	key: header:X-User-Id    # a user id header set by a trusted front end
//	key: query:u             # a query parameter
//	key: param:id            # a route parameter
//	key: {use: ip, ipv6_prefix: 128, ipv4_prefix: 24}
//	key: {cookie: uid, signed: {keys: [...]}}   # require the shop's HMAC
//	key: {header: X-User-Id}                    # same as "header:X-User-Id" (also query:, param:)
//	key: {use: device, signed: {keys: [...]}}   # a device cookie the gateway sets
//
// A signed value is "<id>.<base64url(HMAC-SHA-256(key, id))>" (43 characters
// of MAC); the first key signs (device cookies), every listed key verifies,
// so keys can rotate.
type IdentitySpec struct {
	Use        string      `yaml:"use"`
	Cookie     string      `yaml:"cookie"`
	Header     string      `yaml:"header"`
	Query      string      `yaml:"query"`
	Param      string      `yaml:"param"`
	IPv6Prefix int         `yaml:"ipv6_prefix"`
	IPv4Prefix int         `yaml:"ipv4_prefix"`
	Signed     *SignedSpec `yaml:"signed"`
}

// SignedSpec lists HMAC keys (at least 32 bytes each) for signed ids.
type SignedSpec struct {
	Keys []string `yaml:"keys"`
}

// Identity is a compiled IdentitySpec. Immutable; safe for concurrent use.
//
// When the configured source is absent (no cookie yet) or its signature is
// wrong, the client is keyed by its grouped IP in a namespace apart from
// user ids, so anonymous clients are still limited, never merged with a
// user, and a forged cookie is no better than none. A device without its
// cookie gets one set on the response and is keyed by IP until it sends
// it back, so dropping cookies never yields a fresh identity.
type Identity struct {
	source   string // ip, cookie, header, device, query, param
	name     string
	seed     uint64
	ipSeed   uint64
	v4Bits   int
	v6Bits   int
	macs     []*macPool // nil = unsigned
	deviceMk bool
}

const deviceCookie = "fg_device"

// strictB64 refuses non-zero padding bits, so each MAC has one spelling
// (found by FuzzSignedValue: "…Qx" and "…Qw" decoded alike).
var strictB64 = base64.RawURLEncoding.Strict()

type macPool struct{ sync.Pool }

func newMacPool(key []byte) *macPool {
	return &macPool{sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// Identity compiles the identity spec in n (the filter's "key:" node; the
// zero Node means ip). Errors are positioned at the key.
func (b *Build) Identity(n rules.Node) (*Identity, error) {
	var spec IdentitySpec
	if err := n.Decode(&spec.Use); err != nil {
		if err := n.Decode(&spec); err != nil {
			return nil, err
		}
	}
	id, msg := compileIdentity(spec)
	if msg != "" {
		return nil, b.Errorf("key", "%s", msg)
	}
	return id, nil
}

// String describes the identity's meaning, for state fingerprints.
func (id *Identity) String() string {
	return id.source + ":" + id.name + "/" + strconv.Itoa(id.v4Bits) + "/" + strconv.Itoa(id.v6Bits)
}

func compileIdentity(spec IdentitySpec) (*Identity, string) {
	use, n := spec.Use, 0
	for _, f := range []struct{ src, name string }{
		{"", spec.Use}, {"cookie:", spec.Cookie}, {"header:", spec.Header}, {"query:", spec.Query}, {"param:", spec.Param},
	} {
		if f.name != "" {
			use, n = f.src+f.name, n+1
		}
	}
	if n > 1 {
		return nil, "give one of use, cookie, header, query, param"
	}
	spec.Use = use
	src, name, _ := strings.Cut(spec.Use, ":")
	if src == "" {
		src = "ip"
	}
	id := &Identity{source: src, name: name, v4Bits: 32, v6Bits: 64}
	switch src {
	case "ip", "device":
		if name != "" {
			return nil, fmt.Sprintf("%q takes no name (want %q)", spec.Use, src)
		}
	case "cookie", "header", "query", "param":
		if name == "" {
			return nil, fmt.Sprintf("%q needs a name, e.g. %q", spec.Use, src+":uid")
		}
	default:
		return nil, fmt.Sprintf("unknown identity %q (known: ip, device, cookie:NAME, header:NAME, query:NAME, param:NAME)", spec.Use)
	}
	if spec.IPv6Prefix != 0 {
		if spec.IPv6Prefix < 32 || spec.IPv6Prefix > 128 {
			return nil, fmt.Sprintf("ipv6_prefix: must be within 32..128, got %d", spec.IPv6Prefix)
		}
		id.v6Bits = spec.IPv6Prefix
	}
	if spec.IPv4Prefix != 0 {
		if spec.IPv4Prefix < 8 || spec.IPv4Prefix > 32 {
			return nil, fmt.Sprintf("ipv4_prefix: must be within 8..32, got %d", spec.IPv4Prefix)
		}
		id.v4Bits = spec.IPv4Prefix
	}
	if spec.Signed != nil {
		if src != "cookie" && src != "header" && src != "device" {
			return nil, "signed: only cookie, header and device ids can be signed"
		}
		if len(spec.Signed.Keys) == 0 {
			return nil, "signed.keys: list at least one key"
		}
		for i, k := range spec.Signed.Keys {
			if len(k) < 32 {
				return nil, fmt.Sprintf("signed.keys: key %d is %d bytes; at least 32 are needed", i, len(k))
			}
			id.macs = append(id.macs, newMacPool([]byte(k)))
		}
	} else if src == "device" {
		return nil, "a device identity needs signed: {keys: [...]} to sign the cookie it sets"
	}
	if src == "device" {
		id.name, id.deviceMk = deviceCookie, true
	}
	id.seed = HashString("id\x00" + src + "\x00" + id.name)
	id.ipSeed = HashString("id\x00ip")
	return id, ""
}

// compute derives the identity hash; Request.Key caches it.
func (id *Identity) compute(r *Request) (uint64, bool) {
	if id.source == "ip" {
		return id.ipKey(r.ClientIP), true
	}
	v := id.value(r)
	if len(v) == 0 {
		if id.deviceMk {
			id.issueDevice(r)
		}
		// A new device is keyed by its IP until it returns the cookie:
		// otherwise a client that drops cookies would get a fresh
		// identity, and a fresh bucket, on every request.
		return id.ipKey(r.ClientIP), false
	}
	return Mix(id.seed, HashBytes(v)), true
}

// value returns the raw id after its signature check; nil when absent or
// forged. It never issues a device cookie.
func (id *Identity) value(r *Request) []byte {
	v := id.raw(r)
	if len(v) > 0 && id.macs != nil {
		v = id.verify(r, v)
	}
	return v
}

func (id *Identity) raw(r *Request) []byte {
	switch id.source {
	case "cookie", "device":
		return r.Ctx.Request.Header.Cookie(id.name)
	case "header":
		return r.Ctx.Request.Header.Peek(id.name)
	case "query":
		return r.Ctx.QueryArgs().Peek(id.name)
	case "param":
		return r.Param(id.name)
	}
	return nil
}

// ipKey hashes the client address grouped by prefix: one IPv6 subscriber
// usually holds a whole /64, so per-address limits would be no limits.
func (id *Identity) ipKey(a netip.Addr) uint64 {
	bits := id.v4Bits
	if a.Is6() && !a.Is4In6() {
		bits = id.v6Bits
	} else {
		a = a.Unmap()
	}
	if p, err := a.Prefix(bits); err == nil {
		a = p.Addr()
	}
	b := a.As16()
	h := Mix(id.ipSeed, uint64(b[0])<<56|uint64(b[1])<<48|uint64(b[2])<<40|uint64(b[3])<<32|
		uint64(b[4])<<24|uint64(b[5])<<16|uint64(b[6])<<8|uint64(b[7]))
	return Mix(h, uint64(b[8])<<56|uint64(b[9])<<48|uint64(b[10])<<40|uint64(b[11])<<32|
		uint64(b[12])<<24|uint64(b[13])<<16|uint64(b[14])<<8|uint64(b[15]))
}

// verify checks "<id>.<mac>" against every key and returns id, or nil.
func (id *Identity) verify(r *Request, v []byte) []byte {
	dot := -1
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == '.' {
			dot = i
			break
		}
	}
	enc := strictB64
	if dot <= 0 || enc.DecodedLen(len(v)-dot-1) != sha256.Size {
		return nil
	}
	val := v[:dot]
	buf := r.scratch(2 * sha256.Size)
	got, want := buf[:sha256.Size], buf[sha256.Size:sha256.Size]
	if _, err := enc.Decode(got, v[dot+1:]); err != nil {
		return nil
	}
	for _, p := range id.macs {
		m := p.Get().(hash.Hash)
		m.Reset()
		m.Write(val)
		want = m.Sum(want[:0])
		p.Put(m)
		if hmac.Equal(got, want) {
			return val
		}
	}
	return nil
}

// issueDevice mints a device id for a client without a valid cookie and
// sets the signed cookie on the response (once per response). It
// allocates; it runs for new devices only.
func (id *Identity) issueDevice(r *Request) {
	if len(r.Ctx.Response.Header.PeekCookie(deviceCookie)) > 0 {
		return
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return
	}
	dev := make([]byte, base64.RawURLEncoding.EncodedLen(len(raw)))
	base64.RawURLEncoding.Encode(dev, raw[:])
	m := id.macs[0].Get().(hash.Hash)
	m.Reset()
	m.Write(dev)
	sum := m.Sum(nil)
	id.macs[0].Put(m)
	val := append(append(append([]byte(nil), dev...), '.'), base64.RawURLEncoding.EncodeToString(sum)...)
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(deviceCookie)
	c.SetValueBytes(val)
	c.SetPath("/")
	c.SetMaxAge(400 * 24 * 3600) // browsers cap cookie lifetime at 400 days
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	c.SetSecure(r.TLS)
	r.Ctx.Response.Header.SetCookie(c)
}

// KeySource returns the identity a filter spec's "key:" names, spelt as
// "cookie:uid", "header:X-User-Id" (canonical case), "query:u",
// "param:id", "ip" or "device", for comparing it with what the origin
// reads (origins.<name>.identity). ok is false when spec has no valid key
// (the filter's own compile reports it).
func KeySource(spec rules.Node) (src string, ok bool) {
	n := spec.Get("key")
	if n.IsZero() {
		return "ip", true
	}
	var s IdentitySpec
	if err := n.Decode(&s.Use); err != nil {
		if err := n.Decode(&s); err != nil {
			return "", false
		}
	}
	id, msg := compileIdentity(s)
	if msg != "" {
		return "", false
	}
	switch id.source {
	case "header":
		return "header:" + textproto.CanonicalMIMEHeaderKey(id.name), true
	case "ip", "device":
		return id.source, true
	}
	return id.source + ":" + id.name, true
}
