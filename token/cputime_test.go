package token

import (
	"syscall"
	"testing"
)

// reportCPU adds a "cpu-ns/op" metric: process CPU time per operation.
// On a shared machine wall-clock ns/op counts the time other processes
// held the core; CPU time does not. Call it after the timed loop with the
// CPU time taken before it (cpuNow).
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
}

func cpuNow() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
