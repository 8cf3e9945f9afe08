package b24_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fastServer is a portal without limits or latency, for behaviour tests.
func fastServer(t *testing.T, opts ...b24test.Option) *b24test.Server {
	t.Helper()
	srv := b24test.NewServer(append([]b24test.Option{b24test.WithoutRateLimit(), b24test.WithoutOperatingLimit()}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// fastClient is a client for srv whose retries do not wait long.
func fastClient(t *testing.T, srv *b24test.Server, opts ...b24.Option) *b24.Client {
	t.Helper()
	base := []b24.Option{
		b24.WithRateLimit(1e6, 10000),
		b24.WithRetry(b24.RetryPolicy{MaxAttempts: 20, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
	}
	return srv.Client(append(base, opts...)...)
}

// deals returns n deals titled "deal-<i>", with dedup keys when keyed.
func deals(n int, keyed bool) []b24.Item {
	items := make([]b24.Item, n)
	for i := range items {
		items[i] = b24.Item{Title: fmt.Sprintf("deal-%d", i), Opportunity: float64(i) + 0.5, CurrencyID: "EUR"}
		if keyed {
			items[i].OriginatorID = "crm-x"
			items[i].OriginID = fmt.Sprintf("o-%d", i)
		}
	}
	return items
}

// storedByTitle indexes the portal's deals by title, counting copies.
func storedByTitle(srv *b24test.Server, et b24.EntityTypeID) (ids map[string][]int64) {
	ids = map[string][]int64{}
	for _, it := range srv.Items(et) {
		title, _ := it.Fields["title"].(string)
		ids[title] = append(ids[title], it.ID)
	}
	return ids
}

func TestBatchImportMapsEveryRow(t *testing.T) {
	srv := fastServer(t)
	c := fastClient(t, srv)
	items := deals(1000, false)
	for i := 0; i < len(items); i += 37 {
		items[i].Title = "" // the portal refuses it: title is required
	}
	for i := 5; i < len(items); i += 101 {
		items[i].Fields = map[string]any{"isReccurring": "Y"} // caught locally: a typo the portal would drop
	}
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
	require.NotNil(t, res)
	require.Len(t, res.Items, len(items))
	var ie *b24.ImportError
	require.ErrorAs(t, err, &ie)

	stored := storedByTitle(srv, b24.EntityDeal)
	wantRejected := 0
	for i, r := range res.Items {
		assert.Equal(t, i, r.Index)
		switch {
		case i%37 == 0:
			wantRejected++
			require.Equal(t, b24.ItemRejected, r.Status, "row %d", i)
			var itemErr *b24.ItemError
			require.ErrorAs(t, r.Err, &itemErr)
			assert.Equal(t, i, itemErr.Index)
			assert.Equal(t, "CRM_FIELD_ERROR_REQUIRED", itemErr.Code)
		case i >= 5 && (i-5)%101 == 0:
			wantRejected++
			require.Equal(t, b24.ItemRejected, r.Status, "row %d", i)
			var itemErr *b24.ItemError
			require.ErrorAs(t, r.Err, &itemErr)
			assert.Equal(t, i, itemErr.Index)
			assert.Contains(t, itemErr.Description, "isRecurring")
		default:
			require.Equal(t, b24.ItemImported, r.Status, "row %d: %v", i, r.Err)
			require.Len(t, stored[items[i].Title], 1)
			assert.Equal(t, stored[items[i].Title][0], r.ID, "row %d has the id of its own item", i)
		}
	}
	assert.Equal(t, wantRejected, ie.Rejected)
	assert.Equal(t, len(items)-wantRejected, ie.Imported)
	assert.Len(t, stored, len(items)-wantRejected, "no extra items stored")
	for _, rec := range srv.Requests() {
		if rec.Method == "crm.item.batchImport" {
			assert.LessOrEqual(t, rec.Items, b24.MaxBatchImportSize)
		}
	}
}

func TestBatchImportAllImportedReturnsNilError(t *testing.T) {
	srv := fastServer(t)
	c := fastClient(t, srv)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(45, false))
	require.NoError(t, err)
	imp, rej, unk, ns := res.Counts()
	assert.Equal(t, [4]int{45, 0, 0, 0}, [4]int{imp, rej, unk, ns})
	assert.Equal(t, 45, srv.ItemCount(b24.EntityDeal))
}

// assertExactlyOnce checks that every keyed row exists once with the id
// its result names.
func assertExactlyOnce(t *testing.T, srv *b24test.Server, items []b24.Item, res *b24.BatchImportResult) {
	t.Helper()
	stored := storedByTitle(srv, b24.EntityDeal)
	assert.Len(t, stored, len(items))
	for i, r := range res.Items {
		copies := stored[items[i].Title]
		if !assert.Len(t, copies, 1, "row %d stored %d times", i, len(copies)) {
			continue
		}
		assert.Equal(t, b24.ItemImported, r.Status, "row %d: %v", i, r.Err)
		assert.Equal(t, copies[0], r.ID, "row %d", i)
	}
}

func TestBatchImportRecoversWithDedupKeys(t *testing.T) {
	faults := map[string]b24test.Fault{
		"dropped connection after execution": {Method: "crm.item.batchImport", Kind: b24test.FaultDropAfterExecute, Times: 3},
		"partial save then 500":              {Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 7, Times: 3},
		"500 before execution":               {Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Times: 3},
		"query limit storm":                  {Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Times: 10},
		"operation time limit":               {Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "OPERATION_TIME_LIMIT", Times: 2},
		"small partial save":                 {Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 3, Times: 1},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			srv := fastServer(t)
			// A 429 without a reset time holds the method for a tenth of the
			// window: keep the window short so the test does not wait a minute.
			c := fastClient(t, srv, b24.WithOperatingLimit(time.Second, time.Second))
			srv.InjectFault(f)
			items := deals(200, true)
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
			require.NoError(t, err)
			assertExactlyOnce(t, srv, items, res)
			assert.Positive(t, srv.Stats().FaultsInjected, "the fault must have fired")
		})
	}
}

func TestBatchImportWithoutKeysNeverDuplicates(t *testing.T) {
	for name, f := range map[string]b24test.Fault{
		"dropped connection": {Method: "crm.item.batchImport", Kind: b24test.FaultDropAfterExecute, Times: 2},
		"partial save":       {Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 5, Times: 2},
	} {
		t.Run(name, func(t *testing.T) {
			srv := fastServer(t)
			c := fastClient(t, srv)
			srv.InjectFault(f)
			items := deals(200, false)
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
			var ie *b24.ImportError
			require.ErrorAs(t, err, &ie)
			assert.ErrorIs(t, err, b24.ErrOutcomeUnknown)
			assert.Equal(t, 40, ie.Unknown, "two calls of 20 rows end unknown")
			stored := storedByTitle(srv, b24.EntityDeal)
			for i, r := range res.Items {
				copies := stored[items[i].Title]
				assert.LessOrEqual(t, len(copies), 1, "row %d duplicated", i)
				switch r.Status {
				case b24.ItemImported:
					require.Len(t, copies, 1)
					assert.Equal(t, copies[0], r.ID)
				case b24.ItemUnknown:
					assert.ErrorIs(t, r.Err, b24.ErrOutcomeUnknown)
				default:
					t.Errorf("row %d: unexpected status %v", i, r.Status)
				}
			}
		})
	}
}

func TestBatchImportStopsOnFatalErrors(t *testing.T) {
	t.Run("unknown entity type", func(t *testing.T) {
		srv := fastServer(t)
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
		srv := fastServer(t)
		w, err := b24.NewWebhook(srv.URL + "/rest/1/wrongsecret/")
		require.NoError(t, err)
		c, err := b24.NewClient(w, b24.WithAllowHTTP())
		require.NoError(t, err)
		res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(30, false))
		assert.ErrorIs(t, err, b24.ErrInvalidCredentials)
		assert.Len(t, res.Items, 30)
	})
	t.Run("invalid entity type id and options", func(t *testing.T) {
		srv := fastServer(t)
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

func TestBatchImportCancellation(t *testing.T) {
	srv := fastServer(t)
	c := fastClient(t, srv)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	items := deals(400, false)
	res, err := c.CRMItem.BatchImport(ctx, b24.EntityDeal, items, b24.WithConcurrency(1), b24.WithPacking(1),
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
}

func TestBatchImportParallelCallsOnOneClient(t *testing.T) {
	srv := fastServer(t)
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

// historyDeals returns n keyed deals created an hour apart, oldest first.
func historyDeals(n int) []b24.Item {
	base := time.Now().Add(-time.Duration(n+10) * time.Hour)
	items := deals(n, true)
	for i := range items {
		items[i].CreatedTime = base.Add(time.Duration(i) * time.Hour)
	}
	return items
}

// assertIDsAscending checks that rows were created in input order.
func assertIDsAscending(t *testing.T, res *b24.BatchImportResult) {
	t.Helper()
	prev := int64(0)
	for _, r := range res.Items {
		assert.Greater(t, r.ID, prev, "row %d: history rows are created in input order", r.Index)
		prev = r.ID
	}
}

func TestBatchImportHistoryInOrder(t *testing.T) {
	srv := fastServer(t)
	c := fastClient(t, srv)
	items := historyDeals(120)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithConcurrency(8))
	require.NoError(t, err, "history rows must reach the portal oldest first")
	assertExactlyOnce(t, srv, items, res)
	assertIDsAscending(t, res)
}

func TestImportSeqStreamsResults(t *testing.T) {
	srv := fastServer(t)
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
			srv := fastServer(t)
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

func TestBatchImportProgress(t *testing.T) {
	srv := fastServer(t)
	c := fastClient(t, srv)
	var last b24.Progress
	calls := 0
	_, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(100, false), b24.WithPacking(1), b24.WithProgress(func(p b24.Progress) {
		calls++
		assert.GreaterOrEqual(t, p.Done, last.Done, "progress never goes back")
		last = p
	}))
	require.NoError(t, err)
	assert.Equal(t, 5, calls, "one report per call")
	assert.Equal(t, 100, last.Total)
	assert.Equal(t, 100, last.Done)
	assert.Equal(t, 100, last.Imported)
}

func TestItemErrorsAreTyped(t *testing.T) {
	srv := fastServer(t)
	c := fastClient(t, srv)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityContact, []b24.Item{{Name: "Ann"}, {Post: "CEO"}})
	var ie *b24.ImportError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 1, ie.Rejected)
	var itemErr *b24.ItemError
	require.True(t, errors.As(res.Items[1].Err, &itemErr))
	assert.Equal(t, 1, itemErr.Index)
}
