package rules

// demoModes are the demo shop's stock reduction modes (docs/admission.md,
// "Three ways to reduce stock"): when an order takes its units.
var demoModes = []string{"order", "payment", "reserve"}

// buildDemoModes validates demo.mode and demo.hold_window into d.
func (l *loader) buildDemoModes(d *Demo, n Node, s *demoSpec) {
	d.Mode = s.Mode
	if d.Mode == "" {
		d.Mode = "order"
	}
	known := false
	for _, m := range demoModes {
		known = known || m == d.Mode
	}
	if !known {
		l.errs.add(n.Errorf("mode", "unknown %q (known: order, payment, reserve)", s.Mode))
	}
	d.HoldWindow = s.HoldWindow.Duration()
	switch {
	case d.HoldWindow < 0:
		l.errs.add(n.Errorf("hold_window", "must be positive, got %v", d.HoldWindow))
	case d.HoldWindow > 0 && d.Mode != "reserve":
		l.errs.add(n.Errorf("hold_window", "only mode reserve holds units (mode is %s)", d.Mode))
	}
}
