//go:build race || msan || asan

package sockio

import "syscall"

// Under the race detector (and the memory sanitizers) the socket is read
// and written with package syscall's Read and Write, which tell the
// detector what the kernel did: the bytes a read wrote into p, and the
// happens-before edge that data sent by one goroutine and received by
// another makes (the shop's answer written before a test reads what the
// gateway made of it). recvfrom and sendto through syscall.Syscall6 tell
// it nothing, and tests that were race-free through net.Conn reported
// races. For a socket the calls are equivalent: a read is a recv without
// flags, and the runtime turns the SIGPIPE of a write to a closed peer into
// EPIPE.

func recv(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return n, errnoOf(err)
}

func send(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return max(n, 0), errnoOf(err)
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return syscall.EIO
}
