package edge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// The PROXY protocol (haproxy.org/download/2.9/doc/proxy-protocol.txt): a
// balancer that forwards a TCP connection first sends one header naming
// the client's address. Version 1 is a text line, version 2 binary.

// Header is a parsed PROXY protocol header.
type Header struct {
	Version int // 1 or 2
	// Local is true for a v2 LOCAL command (the balancer's own health
	// check) and v1 "UNKNOWN" or a v2 family we do not route (unspecified,
	// unix): the connection's own addresses stand.
	Local bool
	// Source is the client, Dest the address it connected to; both
	// invalid when Local.
	Source, Dest netip.AddrPort
}

// Bounds of a header. A v1 line is at most 107 bytes with its CRLF (the
// spec's own bound); a v2 header is 16 bytes and a body of addresses and
// TLVs, which the spec lets reach 64 KiB: we accept at most maxV2Body, far
// above what balancers send (addresses plus a few TLVs such as a VPC
// endpoint id), so a peer cannot make a connection hold 64 KiB.
const (
	maxV1     = 107
	v2Fixed   = 16
	maxV2Body = 2048
	// MaxHeader is the most a header may take.
	MaxHeader = v2Fixed + maxV2Body
)

var (
	v1Prefix = []byte("PROXY ")
	v2Sig    = []byte("\r\n\r\n\x00\r\nQUIT\n")

	// ErrIncomplete means b holds the start of a header: read more.
	ErrIncomplete = errors.New("proxy protocol: incomplete header")
	// ErrNoHeader means b does not start with a PROXY protocol header.
	ErrNoHeader = errors.New("proxy protocol: no header (the connection did not start with PROXY or the v2 signature)")
)

// ParseHeader parses the header at the start of b and returns it with the
// number of bytes it took; what follows belongs to the connection. It
// returns ErrIncomplete when b is a proper prefix of a header, and
// ErrNoHeader or another error, naming the problem, when b cannot start
// one. It never reads past MaxHeader bytes. It runs once a connection, so
// plain code wins over zero allocations (a v1 address is parsed from a
// string).
func ParseHeader(b []byte) (Header, int, error) {
	switch {
	case len(b) == 0:
		return Header{}, 0, ErrIncomplete
	case b[0] == v1Prefix[0]:
		if !startsWith(b, v1Prefix) {
			return Header{}, 0, ErrNoHeader
		}
		return parseV1(b)
	case b[0] == v2Sig[0]:
		if !startsWith(b, v2Sig) {
			return Header{}, 0, ErrNoHeader
		}
		return parseV2(b)
	}
	return Header{}, 0, ErrNoHeader
}

// startsWith reports whether b begins with p, or is too short to tell and
// matches as far as it goes (then the caller sees ErrIncomplete later).
func startsWith(b, p []byte) bool {
	n := min(len(b), len(p))
	return bytes.Equal(b[:n], p[:n])
}

var errV1 = errors.New(`proxy protocol v1: malformed line (want "PROXY TCP4|TCP6 src dst sport dport\r\n")`)

func parseV1(b []byte) (Header, int, error) {
	end := bytes.Index(b[:min(len(b), maxV1)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= maxV1 {
			return Header{}, 0, errors.New("proxy protocol v1: no CRLF within 107 bytes")
		}
		return Header{}, 0, ErrIncomplete
	}
	line, n := b[len(v1Prefix):end], end+2
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	h := Header{Version: 1}
	switch string(proto) {
	case "UNKNOWN":
		h.Local = true // the rest of the line is to be ignored
		return h, n, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, errV1
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		if f[i], rest, ok = bytes.Cut(rest, []byte(" ")); ok != (i < 3) {
			return Header{}, 0, errV1
		}
	}
	src, err1 := v1Addr(f[0], f[2], proto[3] == '4')
	dst, err2 := v1Addr(f[1], f[3], proto[3] == '4')
	if err := errors.Join(err1, err2); err != nil {
		return Header{}, 0, err
	}
	h.Source, h.Dest = src, dst
	return h, n, nil
}

func v1Addr(ip, port []byte, v4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(string(ip))
	if err != nil || a.Is4() != v4 || a.Zone() != "" {
		return netip.AddrPort{}, errors.New("proxy protocol v1: bad address " + strconv.Quote(string(ip)))
	}
	p, ok := v1Port(port)
	if !ok {
		return netip.AddrPort{}, errors.New("proxy protocol v1: bad port " + strconv.Quote(string(port)))
	}
	return netip.AddrPortFrom(a, p), nil
}

// v1Port parses a decimal port 0-65535 without sign or leading zero.
func v1Port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// v2 header fields.
const (
	v2Version = 0x20
	v2Local   = 0x00
	v2Proxy   = 0x01
	afUnspec  = 0x0
	afInet    = 0x1
	afInet6   = 0x2
	afUnix    = 0x3
	tStream   = 0x1
	inetLen   = 12 // two IPv4 addresses, two ports
	inet6Len  = 36
)

func parseV2(b []byte) (Header, int, error) {
	if len(b) < v2Fixed {
		return Header{}, 0, ErrIncomplete
	}
	verCmd, fam := b[12], b[13]
	size := int(binary.BigEndian.Uint16(b[14:16]))
	switch {
	case verCmd&0xf0 != v2Version:
		return Header{}, 0, errors.New("proxy protocol v2: version " + strconv.Itoa(int(verCmd>>4)) + ", want 2")
	case size > maxV2Body:
		return Header{}, 0, errors.New("proxy protocol v2: header of " + strconv.Itoa(size) + " bytes, more than the 2048 accepted")
	case len(b) < v2Fixed+size:
		return Header{}, 0, ErrIncomplete
	}
	n, body := v2Fixed+size, b[v2Fixed:v2Fixed+size]
	h := Header{Version: 2}
	switch verCmd & 0x0f {
	case v2Local:
		h.Local = true // a balancer's health check; the body is ignored
		return h, n, nil
	case v2Proxy:
	default:
		return Header{}, 0, errors.New("proxy protocol v2: unknown command " + strconv.Itoa(int(verCmd&0x0f)))
	}
	if fam&0x0f != tStream && fam != afUnspec<<4 {
		return Header{}, 0, errors.New("proxy protocol v2: not a stream (TCP) connection")
	}
	switch fam >> 4 {
	case afInet:
		if len(body) < inetLen {
			return Header{}, 0, errors.New("proxy protocol v2: IPv4 addresses truncated")
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:]))
	case afInet6:
		if len(body) < inet6Len {
			return Header{}, 0, errors.New("proxy protocol v2: IPv6 addresses truncated")
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:]))
	case afUnspec, afUnix:
		h.Local = true // the spec: accept, and use the connection's own addresses
	default:
		return Header{}, 0, errors.New("proxy protocol v2: unknown address family " + strconv.Itoa(int(fam>>4)))
	}
	return h, n, nil
}

// AppendV1 appends h as a version 1 line, "PROXY UNKNOWN\r\n" when Local.
// Balancers write headers; the gateway only reads them. This is for tests
// and load generators that play the balancer.
func (h Header) AppendV1(b []byte) []byte {
	if h.Local {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	proto := "PROXY TCP4 "
	if h.Source.Addr().Is6() {
		proto = "PROXY TCP6 "
	}
	b = append(b, proto...)
	b = append(h.Source.Addr().AppendTo(b), ' ')
	b = append(h.Dest.Addr().AppendTo(b), ' ')
	b = append(strconv.AppendUint(b, uint64(h.Source.Port()), 10), ' ')
	return append(strconv.AppendUint(b, uint64(h.Dest.Port()), 10), "\r\n"...)
}

// AppendV2 appends h as a version 2 header with no TLVs (see AppendV1).
func (h Header) AppendV2(b []byte) []byte {
	b = append(b, v2Sig...)
	if h.Local {
		return append(b, v2Version|v2Local, afUnspec, 0, 0)
	}
	src, dst := h.Source.Addr().AsSlice(), h.Dest.Addr().AsSlice()
	fam := byte(afInet<<4 | tStream)
	if len(src) == 16 {
		fam = afInet6<<4 | tStream
	}
	b = append(b, v2Version|v2Proxy, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(2*len(src)+4))
	b = append(append(b, src...), dst...)
	b = binary.BigEndian.AppendUint16(b, h.Source.Port())
	return binary.BigEndian.AppendUint16(b, h.Dest.Port())
}
