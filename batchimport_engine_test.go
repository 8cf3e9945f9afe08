package b24_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchImportStopsOnFatalErrors(t *testing.T) {
	t.Run("unknown entity type", func(t *testing.T) {
		srv := fakePortal(t)
		c := fastClient(t, srv)
		res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityTypeID(1999), deals(100, false))
		assert.ErrorIs(t, err, b24.ErrNotFound)
		_, _, _, ns := res.Counts()
		assert.Equal(t, 100, ns)
		for _, r := range res.Items {
			assert.ErrorIs(t, r.Err, b24.ErrNotFound)
		}
		assert.LessOrEqual(t, len(srv.Requests()), b24.DefaultConcurrency, "the import stops instead of trying every call")
	})
	t.Run("bad webhook", func(t *testing.T) {
		srv := fakePortal(t)
		w, err := b24.NewWebhook(srv.URL + "/rest/1/wrongsecret/")
		require.NoError(t, err)
		c, err := b24.NewClient(w, b24.WithAllowHTTP())
		require.NoError(t, err)
		res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(30, false))
		assert.ErrorIs(t, err, b24.ErrInvalidCredentials)
		assert.Len(t, res.Items, 30)
	})
	t.Run("invalid entity type id and options", func(t *testing.T) {
		srv := fakePortal(t)
		c := fastClient(t, srv)
		res, err := c.CRMItem.BatchImport(t.Context(), 0, deals(3, false))
		assert.ErrorIs(t, err, b24.ErrInvalidInput)
		assert.Len(t, res.Items, 3)
		_, err = c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(3, false), b24.WithConcurrency(0))
		assert.ErrorIs(t, err, b24.ErrInvalidInput)
		_, err = c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(3, false), b24.WithChunkSize(21))
		assert.ErrorIs(t, err, b24.ErrInvalidInput)
		assert.Empty(t, srv.Requests(), "nothing is sent for bad options")
	})
}

// TestBatchImportCancellation cancels after the second call (or pack of
// two calls) of 20 rows: every stored row is reported imported, the rest
// not sent, none unknown. The packing is fixed, because automatic packing
// may send all 400 rows in the second request, leaving nothing to cancel.
func TestBatchImportCancellation(t *testing.T) {
	for name, packing := range map[string]int{"plain calls": 1, "packed calls": 2} {
		t.Run(name, func(t *testing.T) {
			srv := fakePortal(t)
			c := fastClient(t, srv)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var once sync.Once
			items := deals(400, false)
			res, err := c.CRMItem.BatchImport(ctx, b24.EntityDeal, items, b24.WithConcurrency(1), b24.WithPacking(packing),
				b24.WithProgress(func(p b24.Progress) {
					if p.Done >= 40 {
						once.Do(cancel)
					}
				}))
			assert.ErrorIs(t, err, context.Canceled)
			imp, _, unk, ns := res.Counts()
			assert.Zero(t, unk)
			assert.Positive(t, ns)
			assert.Equal(t, imp, srv.ItemCount(b24.EntityDeal), "every stored item is reported imported")
			assert.Equal(t, len(items), imp+ns)
		})
	}
}

func TestBatchImportParallelCallsOnOneClient(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := deals(150, true)
			for i := range items {
				items[i].Title = fmt.Sprintf("g%d-%s", g, items[i].Title)
				items[i].OriginID = fmt.Sprintf("g%d-%s", g, items[i].OriginID)
			}
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
			assert.NoError(t, err)
			assert.Len(t, res.Items, 150)
		}()
	}
	wg.Wait()
	stored := storedByTitle(srv, b24.EntityDeal)
	assert.Len(t, stored, 600)
}

func TestBatchImportHistoryInOrder(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	items := historyDeals(120)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithConcurrency(8))
	require.NoError(t, err, "history rows must reach the portal oldest first")
	assertExactlyOnce(t, srv, items, res)
	assertIDsAscending(t, res)
}

// TestBatchImportProgress: a report after every finished request, never
// going back, the last one complete. The packing is fixed, because
// automatic packing starts once the first call is measured, so the number
// of requests would depend on timing.
func TestBatchImportProgress(t *testing.T) {
	run := func(t *testing.T, packing int) (calls int, last b24.Progress, requests int) {
		srv := fakePortal(t)
		c := fastClient(t, srv)
		_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(100, false), b24.WithPacking(packing),
			b24.WithProgress(func(p b24.Progress) {
				calls++
				assert.GreaterOrEqual(t, p.Done, last.Done, "progress never goes back")
				last = p
			}))
		require.NoError(t, err)
		return calls, last, len(srv.Requests())
	}
	t.Run("plain calls", func(t *testing.T) {
		calls, last, _ := run(t, 1)
		assert.Equal(t, 5, calls, "one report per call")
		assert.Equal(t, 100, last.Total)
		assert.Equal(t, 100, last.Done)
		assert.Equal(t, 100, last.Imported)
	})
	t.Run("packed calls", func(t *testing.T) {
		// The five calls travel in one batch request, which reports once.
		calls, last, requests := run(t, 5)
		assert.Equal(t, 1, requests)
		assert.Equal(t, requests, calls, "one report per request")
		assert.Equal(t, 100, last.Total)
		assert.Equal(t, 100, last.Done)
		assert.Equal(t, 100, last.Imported)
	})
}
