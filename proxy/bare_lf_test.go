package proxy

import "testing"

// TestBareLFScanAcrossReads: the scan finds a bare LF, and the end of the
// header block, however the bytes are split over reads.
func TestBareLFScanAcrossReads(t *testing.T) {
	tests := []struct {
		name, in string
		bare     bool
	}{
		{"CRLF", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"CRLF, then a body with LFs", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\na\nb\n", false},
		{"bare LF ending the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", true},
		{"bare LF in a header", "GET / HTTP/1.1\r\nHost: x\nX: 1\r\n\r\n", true},
		{"bare LF ending the block", "GET / HTTP/1.1\r\nHost: x\r\n\n", true},
		{"LF first", "\nGET / HTTP/1.1\r\n\r\n", true},
		{"CR CR LF", "GET / HTTP/1.1\r\r\nHost: x\r\n\r\n", false},
	}
	for _, tt := range tests {
		for size := 1; size <= len(tt.in); size++ {
			c := &lfConn{armed: true}
			got := false
			for i := 0; i < len(tt.in) && c.armed && !got; i += size {
				got = c.scan([]byte(tt.in[i:min(i+size, len(tt.in))]))
			}
			if got != tt.bare {
				t.Errorf("%s in reads of %d bytes: bare LF %v, want %v", tt.name, size, got, tt.bare)
			}
		}
	}
}
