package b24_test

import (
	"fmt"
	"iter"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchImportAllImportedReturnsNilError(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(45, false))
	require.NoError(t, err)
	imp, rej, unk, ns := res.Counts()
	assert.Equal(t, [4]int{45, 0, 0, 0}, [4]int{imp, rej, unk, ns})
	assert.Equal(t, 45, srv.ItemCount(b24.EntityDeal))
}

func TestImportSeqStreamsResults(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	const n = 5000
	gen := func(yield func(b24.Item) bool) {
		for i := range n {
			if !yield(b24.Item{Title: fmt.Sprintf("s-%d", i)}) {
				return
			}
		}
	}
	seen := make([]bool, n)
	count := 0
	for r := range c.CRMItem.ImportSeq(t.Context(), b24.EntityDeal, gen) {
		require.Equal(t, b24.ItemImported, r.Status, "%v", r.Err)
		require.False(t, seen[r.Index], "index %d twice", r.Index)
		seen[r.Index] = true
		count++
	}
	assert.Equal(t, n, count)
	assert.Equal(t, n, srv.ItemCount(b24.EntityDeal))
}

// TestImportSeqBreakStopsTheImport checks what a break promises (see
// ImportSeq): no input is read and no request sent after it, so what the
// portal creates past the results seen is bounded by what was in flight or
// settled but not yet yielded: at most 2×concurrency+2 units of one call
// (plain) or of one packed request (50 calls) each. The bound holds
// whatever the scheduling, so the test is deterministic.
func TestImportSeqBreakStopsTheImport(t *testing.T) {
	const conc, seen = 2, 30
	for _, tc := range []struct {
		name    string
		packing int
		unit    int // the most rows one unit (a call or a packed request) carries
	}{
		{"plain calls", 1, b24.MaxBatchImportSize},
		{"automatic packing", 0, 50 * b24.MaxBatchImportSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakePortal(t)
			c := fastClient(t, srv)
			var pulled int
			gen := iter.Seq[b24.Item](func(yield func(b24.Item) bool) {
				for i := range 100000 {
					pulled++
					if !yield(b24.Item{Title: fmt.Sprintf("b-%d", i)}) {
						return
					}
				}
			})
			got := 0
			for range c.CRMItem.ImportSeq(t.Context(), b24.EntityDeal, gen, b24.WithConcurrency(conc), b24.WithPacking(tc.packing)) {
				if got++; got == seen {
					break
				}
			}
			// ImportSeq has returned: nothing is in flight any more.
			created := srv.ItemCount(b24.EntityDeal)
			bound := seen + (2*conc+2)*tc.unit
			assert.LessOrEqual(t, created, bound, "rows created after the break")
			// Rows read but never sent: the chunk being filled and the
			// requests being packed.
			assert.LessOrEqual(t, pulled, bound+tc.unit+b24.MaxBatchImportSize+1, "the input stops being read after break")
			assert.Less(t, pulled, 100000)
		})
	}
}

func TestWithPackingValidates(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(2, false), b24.WithPacking(51))
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
	_, err = c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(2, false), b24.WithPacking(-1))
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
}
