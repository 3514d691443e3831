package proxy

import "bytes"

// hostList returns server.hosts as the byte slices checkHost compares.
func hostList(hosts []string) [][]byte {
	out := make([][]byte, len(hosts))
	for i, h := range hosts {
		out[i] = []byte(h)
	}
	return out
}

// checkHost returns the edge answer for a request whose Host is missing, or
// not among allowed (compared without port and trailing dot, ignoring
// case); nil when the request may go on. It allocates nothing.
func checkHost(host []byte, allowed [][]byte) *answer {
	if len(host) == 0 {
		return ansNoHost
	}
	if len(allowed) == 0 {
		return nil
	}
	name := hostName(host)
	for _, a := range allowed {
		if bytes.EqualFold(name, a) {
			return nil
		}
	}
	return ansWrongHost
}

// hostName strips the port and a trailing dot from a Host header value:
// "Shop.Example.:8080" → "Shop.Example", "[::1]:8080" → "[::1]".
func hostName(host []byte) []byte {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && !bytes.HasSuffix(host, []byte("]")) {
		if host[0] != '[' || bytes.LastIndexByte(host, ']') < i {
			host = host[:i]
		}
	}
	return bytes.TrimSuffix(host, []byte("."))
}
