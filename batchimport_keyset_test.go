package b24

import (
	"slices"
	"testing"
)

func TestKeySet(t *testing.T) {
	var s keySet
	seen := map[uint64]bool{}
	x := uint64(12345)
	for i := range 300000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		h := x % 200000 // repeats, in no order
		if i%7 == 0 {
			h = uint64(i) // and a run in order
		}
		if got := s.add(h); got != !seen[h] {
			t.Fatalf("add(%d) = %v, seen before: %v", h, got, seen[h])
		}
		seen[h] = true
	}
	kept := len(s.recent)
	for _, r := range s.runs {
		if !slices.IsSorted(r) || len(r) > maxRunKeys {
			t.Fatalf("a run of %d hashes, sorted: %v", len(r), slices.IsSorted(r))
		}
		kept += len(r)
	}
	if kept != len(seen) {
		t.Fatalf("%d hashes kept, %d distinct", kept, len(seen))
	}
	if len(s.runs) > len(seen)/maxRunKeys+20 {
		t.Fatalf("%d runs for %d hashes", len(s.runs), len(seen))
	}
}

// TestRunHasAgreesWithBinarySearch checks the interpolation search on even
// hashes, on clustered ones (where its guesses go wrong and the binary
// search must end it), at both ends of a run and outside it.
func TestRunHasAgreesWithBinarySearch(t *testing.T) {
	next := xorshift(88172645463325252)
	runs := map[string][]uint64{}
	var even, clustered, steps []uint64
	for i := range 5000 {
		even = append(even, next())
		// Most values crowd at the bottom, a few reach the top.
		if i%100 == 0 {
			clustered = append(clustered, next())
		} else {
			clustered = append(clustered, next()%1000)
		}
		steps = append(steps, uint64(i)*uint64(i)*uint64(i))
	}
	runs["even"], runs["clustered"], runs["steps"] = even, clustered, steps
	for name, r := range runs {
		slices.Sort(r)
		r = slices.Compact(r)
		probes := append([]uint64{0, 1, ^uint64(0), r[0], r[len(r)-1], r[0] - 1, r[len(r)-1] + 1}, r[len(r)/2])
		for range 20000 {
			probes = append(probes, next(), next()%1000, r[int(next()%uint64(len(r)))])
		}
		for _, h := range probes {
			_, want := slices.BinarySearch(r, h)
			if got := runHas(r, h); got != want {
				t.Fatalf("%s: runHas(%d) = %v, want %v", name, h, got, want)
			}
		}
	}
}

// TestKeySetFilter checks the filter in front of the runs: it never misses
// a hash that is in them, and it sends few new hashes to search the runs.
func TestKeySetFilter(t *testing.T) {
	next := xorshift(0x9E3779B97F4A7C15)
	var s keySet
	for range 300000 {
		if !s.add(next()) {
			t.Fatal("a new hash was taken for one already in the set")
		}
	}
	for _, r := range s.runs {
		for _, h := range r {
			if !s.filterHas(h) {
				t.Fatalf("the filter misses %d, which is in a run", h)
			}
		}
	}
	hits := 0
	for range 100000 {
		if s.filterHas(next()) {
			hits++
		}
	}
	if hits > 1000 {
		t.Fatalf("%d of 100,000 new hashes passed the filter, want under 1%%", hits)
	}
	t.Logf("%d of 100,000 new hashes passed the filter; %d words for %d hashes in runs", hits, len(s.filter), s.inRuns)
}

// xorshift returns a generator of 64-bit values spread evenly, as the
// seeded hashes of keys are (xorshift64*).
func xorshift(x uint64) func() uint64 {
	return func() uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x * 0x2545F4914F6CDD1D
	}
}
