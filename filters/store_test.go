package filters

import "flashgate/cluster"

// newTestStore returns the Store the tests run against: the real in-memory
// cluster store, small.
func newTestStore() Store {
	s, err := cluster.NewMemory(cluster.MemoryOptions{Keys: 1 << 12, Flags: 1 << 10})
	if err != nil {
		panic(err)
	}
	return s
}
