package orders

// Counts are one queue's outcomes since the process started, as this
// instance finished them (each ticket is finished by one instance).
type Counts struct {
	Delivered uint64 `json:"delivered"`
	SoldOut   uint64 `json:"sold_out"`
	Expired   uint64 `json:"expired"`
	Failed    uint64 `json:"failed"`
}

// Counts returns the outcomes counted so far; zero for a nil *Metrics.
func (m *Metrics) Counts() Counts {
	if m == nil {
		return Counts{}
	}
	return Counts{Delivered: m.outcomes[Delivered].Get(), SoldOut: m.outcomes[SoldOut].Get(),
		Expired: m.outcomes[Expired].Get(), Failed: m.outcomes[Failed].Get()}
}

// InFlight returns the jobs this dispatcher has taken and not finished:
// being delivered, or waiting for a delivery slot.
func (ds *Dispatcher) InFlight() int { return int(ds.busy.Load()) }
