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
	// filter is a blocked Bloom filter of the hashes in runs: four bits in
	// one 64-bit word per hash, about 16 bits a hash. A new key, nearly
	// every row of an import, then costs one word read instead of a search
	// in every run; a filter hit (about 1 in 400 for a new key) searches.
	filter []uint64
	inRuns int // hashes in runs
}

// keysPerFilterWord is the load at which the filter doubles: 4 hashes a
// word keep a new key's false hits near a quarter of a percent.
const keysPerFilterWord = 4

// add puts h in the set and reports whether it was new.
func (s *keySet) add(h uint64) bool {
	if _, ok := s.recent[h]; ok {
		return false
	}
	if s.filterHas(h) {
		for _, r := range s.runs {
			if runHas(r, h) {
				return false
			}
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
	s.inRuns += len(run)
	if s.inRuns > keysPerFilterWord*len(s.filter) {
		s.rebuildFilter()
	} else {
		for _, h := range run {
			s.filterAdd(h)
		}
	}
	for n := len(s.runs); n >= 2; n = len(s.runs) {
		a, b := s.runs[n-2], s.runs[n-1]
		if len(b) < len(a) || len(a)+len(b) > maxRunKeys {
			return
		}
		s.runs = append(s.runs[:n-2], mergeRuns(a, b))
	}
}

// filterWord is the word of the filter that holds h's bits, and the bits.
func (s *keySet) filterWord(h uint64) (*uint64, uint64) {
	i := (h >> 32) * uint64(len(s.filter)) >> 32 // the top half picks the word
	bits := uint64(1)<<(h&63) | uint64(1)<<(h>>6&63) | uint64(1)<<(h>>12&63) | uint64(1)<<(h>>18&63)
	return &s.filter[i], bits
}

func (s *keySet) filterAdd(h uint64) {
	w, bits := s.filterWord(h)
	*w |= bits
}

// filterHas reports whether h may be in runs; false means it is not.
func (s *keySet) filterHas(h uint64) bool {
	if len(s.filter) == 0 {
		return len(s.runs) > 0
	}
	w, bits := s.filterWord(h)
	return *w&bits == bits
}

// rebuildFilter sizes the filter for twice the hashes in runs and fills it
// again: the doublings cost about two insertions a hash in all.
func (s *keySet) rebuildFilter() {
	words := 1024
	for words*keysPerFilterWord < 2*s.inRuns {
		words *= 2
	}
	s.filter = make([]uint64, words)
	for _, r := range s.runs {
		for _, h := range r {
			s.filterAdd(h)
		}
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
