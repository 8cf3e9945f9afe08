package b24_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchImportMapsEveryRow(t *testing.T) {
	srv := fakePortal(t)
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
			srv := fakePortal(t)
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
			srv := fakePortal(t)
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

func TestItemErrorsAreTyped(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityContact, []b24.Item{{Name: "Ann"}, {Post: "CEO"}})
	var ie *b24.ImportError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 1, ie.Rejected)
	var itemErr *b24.ItemError
	require.True(t, errors.As(res.Items[1].Err, &itemErr))
	assert.Equal(t, 1, itemErr.Index)
}

// retime replaces the time block of every answer to method with the one
// tb returns, given the portal's own.
func retime(method string, tb func(own map[string]any) map[string]any) answerEdit {
	return func(m string, status int, body []byte) (int, []byte) {
		if m != method {
			return status, body
		}
		var env map[string]any
		if json.Unmarshal(body, &env) != nil {
			return status, body
		}
		own, _ := env["time"].(map[string]any)
		env["time"] = tb(own)
		out, _ := json.Marshal(env)
		return status, out
	}
}

// TestBatchImportAbsurdTimeBlocksDoNotStall: a portal whose time blocks
// read 1e308 seconds (or stamps of the year 10^300) must not hold the
// import: such readings are not believed.
func TestBatchImportAbsurdTimeBlocksDoNotStall(t *testing.T) {
	now := func() float64 { return float64(time.Now().UnixNano()) / 1e9 }
	for name, tb := range map[string]func(map[string]any) map[string]any{
		"huge": func(map[string]any) map[string]any {
			return map[string]any{"start": 1e308, "finish": 1e308, "duration": 1e308, "processing": 1e308, "operating": 1e308, "operating_reset_at": 1e308}
		},
		"negative": func(map[string]any) map[string]any {
			return map[string]any{"start": -1e308, "finish": -1e308, "duration": -1e308, "processing": -1e308, "operating": -1e308, "operating_reset_at": -1e308}
		},
		"huge costs at sane times": func(map[string]any) map[string]any {
			n := now()
			return map[string]any{"start": n - 0.01, "finish": n, "duration": 0.01, "processing": 1e308, "operating": 1e308, "operating_reset_at": n + 60}
		},
		"huge costs without a reset": func(map[string]any) map[string]any {
			n := now()
			return map[string]any{"start": n - 0.01, "finish": n, "duration": 1e308, "processing": 1e308, "operating": 1e308}
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := fakePortal(t, b24test.WithWebhookSecret(proxySecret))
			c := tamperedClient(t, srv, retime("crm.item.batchImport", tb), b24.WithOperatingLimit(480*time.Second, 10*time.Minute))
			// The deadline only turns a stall into a failure; the import
			// itself takes milliseconds.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			items := deals(400, true)
			res, err := c.CRMItem.BatchImport(ctx, b24.EntityDeal, items, b24.WithConcurrency(4))
			require.NoError(t, err)
			assertExactlyOnce(t, srv, items, res)
		})
	}
}

// sameIDs makes every item answer of crm.item.batchImport name id 7.
func sameIDs(method string, status int, body []byte) (int, []byte) {
	if method != "crm.item.batchImport" {
		return status, body
	}
	var env map[string]any
	if json.Unmarshal(body, &env) != nil {
		return status, body
	}
	res, _ := env["result"].(map[string]any)
	items, _ := res["items"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["item"] != nil {
			m["item"] = map[string]any{"id": 7}
		}
	}
	out, _ := json.Marshal(env)
	return status, out
}

// TestBatchImportDuplicateIDsAreNotBelieved: an answer that names one id
// for several rows is not believed for those rows: with keys they are
// looked up and get their real ids, without keys they end unknown.
func TestBatchImportDuplicateIDsAreNotBelieved(t *testing.T) {
	t.Run("keyed", func(t *testing.T) {
		srv := fakePortal(t, b24test.WithWebhookSecret(proxySecret))
		c := tamperedClient(t, srv, sameIDs)
		items := deals(100, true)
		res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
		require.NoError(t, err)
		assertExactlyOnce(t, srv, items, res)
	})
	t.Run("without keys", func(t *testing.T) {
		srv := fakePortal(t, b24test.WithWebhookSecret(proxySecret))
		c := tamperedClient(t, srv, sameIDs)
		res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(40, false))
		var ie *b24.ImportError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, 40, ie.Unknown)
		for _, r := range res.Items {
			assert.Equal(t, b24.ItemUnknown, r.Status)
			assert.ErrorIs(t, r.Err, b24.ErrOutcomeUnknown)
		}
		assert.Equal(t, 40, srv.ItemCount(b24.EntityDeal), "nothing was sent twice")
	})
}

// working returns a proxy step that takes d over every
// crm.item.batchImport call before the portal executes it, as an
// on-premise portal without the cloud's 60 s cut-off takes over a heavy
// call.
func working(d time.Duration) func(method string) {
	return func(method string) {
		if method == "crm.item.batchImport" {
			time.Sleep(d)
		}
	}
}

// TestBatchImportWaitsForACallThatMayStillRun: a call that outlives the
// client's attempt timeout is still running on the portal; its rows are
// looked up only once WithMaxExecutionTime has passed since it was sent,
// so none is found missing while the portal is still saving it and sent
// twice.
func TestBatchImportWaitsForACallThatMayStillRun(t *testing.T) {
	srv := fakePortal(t, b24test.WithWebhookSecret(proxySecret))
	c := slowClient(t, srv, working(300*time.Millisecond),
		b24.WithRetry(b24.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, AttemptTimeout: 50 * time.Millisecond}),
		b24.WithMaxExecutionTime(time.Second))
	items := deals(40, true)
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithConcurrency(2))
	require.NoError(t, err)
	assertExactlyOnce(t, srv, items, res)
}

// TestBatchImportOnSend: the WithOnSend function hears of every attempt
// that goes out, with its rows, and before it does: a failure keeps the
// request from being sent and stops the import.
func TestBatchImportOnSend(t *testing.T) {
	t.Run("every attempt, with its rows", func(t *testing.T) {
		for _, packing := range []int{1, 3} {
			srv := fakePortal(t)
			srv.InjectFault(b24test.Fault{Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "QUERY_LIMIT_EXCEEDED", Times: 2})
			c := fastClient(t, srv)
			var mu sync.Mutex
			var calls [][]int
			onSend := func(rows []int) error {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, slices.Clone(rows))
				return nil
			}
			items := deals(100, true)
			// ExistingCreate: no lookup batches among the requests counted.
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithOnSend(onSend), b24.WithPacking(packing),
				b24.WithExisting(b24.ExistingCreate))
			require.NoError(t, err)
			assertExactlyOnce(t, srv, items, res)
			requests := 0
			for _, r := range srv.Requests() {
				if r.Method == "crm.item.batchImport" || r.Method == "batch" {
					requests++
				}
			}
			assert.Len(t, calls, requests, "one call per request written (packing %d)", packing)
			seen := map[int]bool{}
			for _, rows := range calls {
				assert.LessOrEqual(t, len(rows), packing*b24.MaxBatchImportSize)
				for _, i := range rows {
					seen[i] = true
				}
			}
			assert.Len(t, seen, len(items), "every row was announced")
		}
	})
	t.Run("a failure keeps the request home and stops the import", func(t *testing.T) {
		srv := fakePortal(t)
		c := fastClient(t, srv)
		var n atomic.Int32
		broken := errors.New("journal: disk full")
		onSend := func([]int) error {
			if n.Add(1) >= 3 {
				return broken
			}
			return nil
		}
		res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, deals(100, true), b24.WithOnSend(onSend), b24.WithConcurrency(1), b24.WithPacking(1))
		require.ErrorIs(t, err, b24.ErrImportStopped)
		require.ErrorIs(t, err, broken)
		assert.Equal(t, 40, srv.ItemCount(b24.EntityDeal), "the first two calls went out, no other")
		imported, _, _, notSent := res.Counts()
		assert.Equal(t, 40, imported)
		assert.Equal(t, 60, notSent)
	})
}
