package b24

import "slices"

// Sizes of a keySet's parts: hashes gather in a map of up to recentKeys,
// then go to a sorted run; runs merge pairwise up to maxRunKeys.
const (
	recentKeys = 4096
	maxRunKeys = 1 << 16
)

// keySet is a set of 64-bit key hashes that stays compact for millions of
// rows: sorted runs of at most maxRunKeys hashes (8 bytes a key; a Go map
// takes about 38) and a small map of the latest ones. Runs are never
// reallocated whole, so the set grows without making garbage of its own
// size; a lookup is a binary search per run (about twenty for a million
// rows).
type keySet struct {
	runs   [][]uint64
	recent map[uint64]struct{}
}

// add puts h in the set and reports whether it was new.
func (s *keySet) add(h uint64) bool {
	if _, ok := s.recent[h]; ok {
		return false
	}
	for _, r := range s.runs {
		if runHas(r, h) {
			return false
		}
	}
	if s.recent == nil {
		s.recent = make(map[uint64]struct{}, recentKeys)
	}
	s.recent[h] = struct{}{}
	if len(s.recent) >= recentKeys {
		s.flush()
	}
	return true
}

// runHas reports whether the sorted run r holds h. The hashes are seeded
// and spread evenly over 64 bits, so the place of h is guessed from its
// value (an interpolation search: one or two probes instead of the
// sixteen cache misses of a binary search in a full run); after a few
// guesses, as on a run that is not spread evenly, a binary search ends it.
func runHas(r []uint64, h uint64) bool {
	lo, hi := 0, len(r) // h, if present, is in r[lo:hi]
	for range 4 {
		if hi-lo <= 16 {
			break
		}
		a, b := r[lo], r[hi-1]
		if h < a || h > b {
			return false
		}
		pos := lo + int(float64(h-a)/float64(b-a)*float64(hi-1-lo))
		pos = min(max(pos, lo), hi-1)
		switch v := r[pos]; {
		case v == h:
			return true
		case v < h:
			lo = pos + 1
		default:
			hi = pos
		}
	}
	_, ok := slices.BinarySearch(r[lo:hi], h)
	return ok
}

// flush turns the recent hashes into a run and merges the last runs while
// they are of about one size and fit one run, as a binary counter carries.
func (s *keySet) flush() {
	run := make([]uint64, 0, len(s.recent))
	for h := range s.recent {
		run = append(run, h)
	}
	slices.Sort(run)
	clear(s.recent)
	s.runs = append(s.runs, run)
	for n := len(s.runs); n >= 2; n = len(s.runs) {
		a, b := s.runs[n-2], s.runs[n-1]
		if len(b) < len(a) || len(a)+len(b) > maxRunKeys {
			return
		}
		s.runs = append(s.runs[:n-2], mergeRuns(a, b))
	}
}

// mergeRuns merges two sorted runs into a new one.
func mergeRuns(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] <= b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
