package flow

import "testing"

func TestSameETag(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{`"0x8D4BCC2E4835CD0"`, `0x8D4BCC2E4835CD0`, true},                               // Azure blob vs Event Grid's data.eTag
		{`"9b2cf535f27731c974343645a3985328"`, `9b2cf535f27731c974343645a3985328`, true}, // S3 vs its notification
		{`W/"abc"`, `"abc"`, true},
		{`"abc"`, `"abd"`, false},
		{`"abc"`, ``, false},
	} {
		if got := sameETag(c.a, c.b); got != c.same {
			t.Errorf("sameETag(%s, %s) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
