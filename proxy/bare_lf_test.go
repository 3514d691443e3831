package proxy

import (
	"bytes"
	"testing"
)

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

// FuzzBareLFScan checks the scan, fed in reads of any size, against a
// reference written apart from it: a header block (up to its first CR LF
// CR LF) has a bare LF when some LF in it does not follow a CR.
func FuzzBareLFScan(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\nHost: x\n\n", "\r\n\r\n\n", "a\r\r\n\r\n", "\r\n\n"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, size uint8) {
		end := len(in)
		if i := bytes.Index(in, []byte("\r\n\r\n")); i >= 0 {
			end = i + 4
		}
		want := false
		for i := 0; i < end; i++ {
			if in[i] == '\n' && (i == 0 || in[i-1] != '\r') {
				want = true
				break
			}
		}
		step := int(max(size, 1))
		c := &lfConn{armed: true}
		got := false
		for i := 0; i < len(in) && c.armed && !got; i += step {
			got = c.scan(in[i:min(i+step, len(in))])
		}
		if got != want {
			t.Fatalf("scan of %q in reads of %d: bare LF %v, want %v", in, step, got, want)
		}
	})
}
