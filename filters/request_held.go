package filters

// Holds returns the reservations r's Check made (one bit per reserving
// filter, Build.HoldBit), so that a request admitted now and settled later
// (the asynchronous purchase queue, possibly on another instance with the
// same rules) can be settled: see SetHolds.
func (r *Request) Holds() uint8 { return r.held }

// SetHolds restores the reservations of a request rebuilt to be settled
// by Chain.Observe or Chain.Release.
func (r *Request) SetHolds(h uint8) { r.held = h }
