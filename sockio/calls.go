//go:build !race && !msan && !asan

package sockio

import (
	"syscall"
	"unsafe"
)

// recv reads from the socket fd into p (len(p) > 0) with recvfrom(2).
func recv(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	return int(n), e
}

// send writes p (len(p) > 0) to the socket fd with sendto(2). MSG_NOSIGNAL:
// a closed peer is an EPIPE error, not a SIGPIPE.
func send(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.Syscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	return int(n), e
}
