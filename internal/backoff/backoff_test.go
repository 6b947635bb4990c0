package backoff

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// bound is min(limit, base·2ⁿ), computed without the code under test.
func bound(base, limit time.Duration, n int) time.Duration {
	d := base
	for range n {
		if d >= limit {
			break
		}
		d *= 2
	}
	return min(d, limit)
}

func TestDelaysStayWithinTheCappedDoublingCeiling(t *testing.T) {
	for seed := range uint64(20) {
		b := Backoff{Base: 100 * time.Millisecond, Cap: 5 * time.Second, Rand: seeded(seed)}
		for n := range 40 {
			want := bound(b.Base, b.Cap, n)
			if d := b.Next(); d < 0 || d > want {
				t.Fatalf("seed %d, failure %d: delay %s outside [0, %s]", seed, n, d, want)
			}
		}
	}
}

func TestDelaysGrowUntilTheCap(t *testing.T) {
	const rounds = 2000
	base, limit := 100*time.Millisecond, 5*time.Second
	// The mean delay of failure n over many loops is half its ceiling: it doubles, then stays.
	var means []time.Duration
	for n := range 9 {
		var sum time.Duration
		for seed := range uint64(rounds) {
			b := Backoff{Base: base, Cap: limit, Rand: seeded(seed)}
			var d time.Duration
			for range n + 1 {
				d = b.Next()
			}
			sum += d
		}
		means = append(means, sum/rounds)
	}
	for n, m := range means {
		half := bound(base, limit, n) / 2
		if m < half*8/10 || m > half*12/10 {
			t.Errorf("failure %d: mean delay %s, want about %s", n, m, half)
		}
	}
	if means[0] >= means[3] || means[3] >= means[5] {
		t.Errorf("mean delays do not grow: %v", means)
	}
	if last := means[len(means)-1]; last > limit/2*12/10 {
		t.Errorf("mean delay %s past the cap's %s", last, limit/2)
	}
}

func TestCapHoldsAfterManyFailures(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: time.Minute, Rand: seeded(1)}
	var biggest time.Duration
	for range 10000 {
		biggest = max(biggest, b.Next())
	}
	if biggest > time.Minute || biggest < 50*time.Second {
		t.Fatalf("largest of 10000 capped delays %s, want just under %s", biggest, time.Minute)
	}
}

func TestResetStartsOver(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Cap: 5 * time.Second, Rand: seeded(7)}
	for range 10 {
		b.Next()
	}
	b.Reset()
	for range 100 {
		if d := b.Next(); d > b.Base {
			t.Fatalf("first delay after Reset %s, past Base %s", d, b.Base)
		}
		b.Reset()
	}
}

func TestSeedsGiveDifferentSequences(t *testing.T) {
	seq := func(seed uint64) []time.Duration {
		b := Backoff{Base: 100 * time.Millisecond, Cap: 5 * time.Second, Rand: seeded(seed)}
		var ds []time.Duration
		for range 10 {
			ds = append(ds, b.Next())
		}
		return ds
	}
	if a, b := seq(1), seq(2); slices.Equal(a, b) {
		t.Fatalf("seeds 1 and 2 drew the same delays %v", a)
	}
	if a, b := seq(3), seq(3); !slices.Equal(a, b) {
		t.Fatalf("seed 3 drew %v, then %v", a, b)
	}
	// Without a Rand, two loops draw from the process's source: not in lockstep either.
	x, y := Backoff{Base: time.Second, Cap: time.Minute}, Backoff{Base: time.Second, Cap: time.Minute}
	same := 0
	for range 10 {
		if x.Next() == y.Next() {
			same++
		}
	}
	if same == 10 {
		t.Fatal("two Backoffs without a Rand retried in lockstep")
	}
}

func TestEdgeCases(t *testing.T) {
	var zero Backoff
	if d := zero.Next(); d != 0 {
		t.Fatalf("zero Backoff waits %s", d)
	}
	constant := Backoff{Base: time.Second, Rand: seeded(1)} // Cap 0: the ceiling stays at Base
	for range 50 {
		if d := constant.Next(); d > time.Second {
			t.Fatalf("Cap 0 delay %s past Base", d)
		}
	}
	huge := Backoff{Base: time.Hour, Cap: time.Duration(1<<63 - 1), Rand: seeded(1)}
	for range 100 {
		if d := huge.Next(); d < 0 {
			t.Fatalf("delay overflowed: %s", d)
		}
	}
}

func TestSpreadKeepsTheStepOnAverage(t *testing.T) {
	r := seeded(1)
	const step, rounds = time.Minute, 10000
	var sum time.Duration
	lo, hi := step, step
	for range rounds {
		d := Spread(r, step)
		lo, hi = min(lo, d), max(hi, d)
		sum += d
	}
	if lo < step*3/4 || hi > step*5/4 {
		t.Fatalf("spread of %s drew from [%s, %s], want within [%s, %s]", step, lo, hi, step*3/4, step*5/4)
	}
	if hi-lo < step*4/10 {
		t.Fatalf("spread of %s drew only from [%s, %s]", step, lo, hi)
	}
	if mean := sum / rounds; mean < step*99/100 || mean > step*101/100 {
		t.Fatalf("mean %s, want about %s", mean, step)
	}
	if d := Spread(r, 0); d != 0 {
		t.Fatalf("spread of 0 is %s", d)
	}
}
