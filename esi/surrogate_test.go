package esi

import "testing"

func TestWantsESI(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{`content="ESI/1.0"`, true},
		{`max-age=60, content="ESI/1.0"`, true},
		{`Content="ESI/1.0 ESI-Inline/1.0", no-store`, true},
		{`content="ESI/1.0";flashgate`, true},
		{`content="ESI/1.0";akamai, max-age=10`, false},
		{`content="ESI/1.0";akamai, content="ESI/1.0";flashgate`, true},
		{`content="ESI-Inline/1.0"`, false},
		{`max-age=60`, false},
		{`no-store, x="a,content=\"ESI/1.0\""`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := WantsESI([]byte(tt.header), "flashgate"); got != tt.want {
			t.Errorf("WantsESI(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
	if got := string(AppendCapability(nil, "flashgate")); got != `flashgate="ESI/1.0"` {
		t.Errorf("AppendCapability = %q", got)
	}
}
