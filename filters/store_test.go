package filters

// newTestStore returns the Store the tests run against.
func newTestStore() Store { return newFakeStore() }
