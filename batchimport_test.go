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

// TestImportSeqBreakStopsTheImport: after a break the input is read no
// further than the calls in flight need, whatever its size.
func TestImportSeqBreakStopsTheImport(t *testing.T) {
	run := func(t *testing.T, opts ...b24.ImportOption) (pulled, stored int) {
		srv := fakePortal(t)
		c := fastClient(t, srv)
		gen := iter.Seq[b24.Item](func(yield func(b24.Item) bool) {
			for i := range 100000 {
				pulled++
				if !yield(b24.Item{Title: fmt.Sprintf("b-%d", i)}) {
					return
				}
			}
		})
		got := 0
		for range c.CRMItem.ImportSeq(t.Context(), b24.EntityDeal, gen, append(opts, b24.WithConcurrency(2))...) {
			if got++; got == 30 {
				break
			}
		}
		return pulled, srv.ItemCount(b24.EntityDeal)
	}
	t.Run("plain calls", func(t *testing.T) {
		// A few calls of 20 rows are in flight, done or being filled.
		pulled, stored := run(t, b24.WithPacking(1))
		assert.Less(t, pulled, 1000, "the input stops being read after break")
		assert.Less(t, stored, 1000)
	})
	t.Run("packed calls", func(t *testing.T) {
		// A packed request carries up to 1000 rows, and the engine fills the
		// next while the consumer breaks: at most the pack the consumer
		// reads, three waiting in the results buffer, one waiting to enter
		// it, one in flight and one being filled.
		pulled, stored := run(t, b24.WithPacking(50))
		assert.LessOrEqual(t, pulled, 7*1000+1, "the input stops being read after break")
		assert.LessOrEqual(t, stored, 6*1000)
	})
}

func TestWithPackingValidates(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(2, false), b24.WithPacking(51))
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
	_, err = c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(2, false), b24.WithPacking(-1))
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
}
