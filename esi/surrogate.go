package esi

import "bytes"

// Surrogate headers (Edge Architecture Specification 1.0): the gateway
// announces ESI support to origins with Surrogate-Capability, and an origin
// asks for processing with Surrogate-Control: content="ESI/1.0".
const (
	CapabilityHeader = "Surrogate-Capability"
	ControlHeader    = "Surrogate-Control"
)

// AppendCapability appends the Surrogate-Capability value for the device
// token (e.g. "flashgate"): `flashgate="ESI/1.0"`.
func AppendCapability(dst []byte, device string) []byte {
	dst = append(dst, device...)
	return append(dst, `="ESI/1.0"`...)
}

// WantsESI reports whether a Surrogate-Control value asks device to
// process ESI: a content directive listing ESI/1.0, untargeted or
// targeted at device (`content="ESI/1.0";flashgate`). Directives aimed at
// other surrogates are ignored. It does not allocate.
func WantsESI(control []byte, device string) bool {
	for len(control) > 0 {
		var d []byte
		d, control = nextDirective(control)
		d = bytes.TrimSpace(d)
		if len(d) < len("content=") || !bytes.EqualFold(d[:len("content=")], []byte("content=")) {
			continue
		}
		val, target := d[len("content="):], []byte(nil)
		if i := bytes.LastIndexByte(val, ';'); i >= 0 && bytes.IndexByte(val[i:], '"') < 0 {
			val, target = val[:i], bytes.TrimSpace(val[i+1:])
		}
		if target != nil && !bytes.EqualFold(target, []byte(device)) {
			continue
		}
		if bytes.Contains(val, []byte("ESI/1.0")) {
			return true
		}
	}
	return false
}

// nextDirective splits at the first comma outside double quotes.
func nextDirective(s []byte) (d, rest []byte) {
	quoted := false
	for i, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}
