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
