package b24

import (
	"context"
	"iter"
	"strconv"
	"sync/atomic"
	"time"
)

// MaxBatchImportSize is the most items one crm.item.batchImport call takes;
// the portal refuses more with MAX_IMPORT_BATCH_SIZE_EXCEEDED.
const MaxBatchImportSize = 20

// DefaultConcurrency is how many import calls are in flight at once unless
// [WithConcurrency] says otherwise. The portal's bucket stays busy only
// with rate × latency calls in flight (measured: the ratio follows
// concurrency ÷ (rate × latency) to within 0.5%); a cloud portal drains 2
// requests a second and a 20-item call takes it 1-3 s. With a 25% margin,
// 8 covers calls of up to 3.2 s at 2 requests/s and 1.3 s at 5 (Enterprise).
// Packed requests need about one in flight and are capped at two. See
// BENCHMARKS.md for the measurements.
const DefaultConcurrency = 8

// ItemStatus is the outcome of one item of an import.
type ItemStatus int

// Item outcomes.
const (
	ItemImported ItemStatus = iota + 1 // created; ItemResult.ID holds its id
	ItemRejected                       // refused by the portal or the local validator; Err is an *ItemError
	ItemUnknown                        // sent, but whether it was created cannot be known (no dedup key)
	ItemNotSent                        // never executed by the portal (cancelled, or the import stopped)
)

// String names the status.
func (s ItemStatus) String() string {
	switch s {
	case ItemImported:
		return "imported"
	case ItemRejected:
		return "rejected"
	case ItemUnknown:
		return "unknown"
	case ItemNotSent:
		return "not sent"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// ItemResult is the outcome of the item at Index of the input.
type ItemResult struct {
	Index  int
	Status ItemStatus
	ID     int64 // set when Status == ItemImported
	Err    error // *ItemError when ItemRejected; the cause when ItemUnknown or ItemNotSent
	// Action says what an imported item took when Status is ItemImported:
	// ActionCreated, ActionFound (its dedup key was already in the portal;
	// ID is the item found) or ActionUpdated (found and updated, see
	// [WithExisting]). Zero for the other statuses.
	Action ItemAction
	// Ref is the input item's Item.Ref, as given.
	Ref any
}

// BatchImportResult holds one result per input item: Items[i] is about items[i].
type BatchImportResult struct {
	Items []ItemResult
}

// Counts returns how many items ended in each status.
func (r *BatchImportResult) Counts() (imported, rejected, unknown, notSent int) {
	for _, it := range r.Items {
		switch it.Status {
		case ItemImported:
			imported++
		case ItemRejected:
			rejected++
		case ItemUnknown:
			unknown++
		default:
			notSent++
		}
	}
	return
}

// Progress is a snapshot of a running import, passed to [WithProgress].
type Progress struct {
	Total    int // items in the input; -1 when unknown (streams)
	Done     int // items with a final status
	Imported int
	Rejected int
	Unknown  int
	NotSent  int
	Elapsed  time.Duration
	// ItemsPerSecond is the rate of finished items since the start.
	ItemsPerSecond float64
	// ETA estimates the time left from the rate of the last 30 seconds;
	// zero when Total is unknown.
	ETA time.Duration
	// Wait is what the import is waiting for, when a wait has lasted
	// [WaitReportAfter]: the rate limiter, a method's operating-time
	// budget (until when), an unreachable portal (retry k of n). Progress
	// is reported when it starts and ends, not only after calls.
	Wait Wait
}

// ImportOption configures one import.
type ImportOption func(*importConfig) error

type importConfig struct {
	existing        Existing // 0: ExistingSkip for rows with a dedup key
	packing         int      // 0 automatic, 1 off, n: at most n calls per batch request
	concurrency     int
	chunkSize       int
	progress        func(Progress)
	originalUFNames bool
	total           int
	now             func() time.Time
	onSend          func(rows []int) error
}

// WithConcurrency sets how many calls may be in flight at once (default
// [DefaultConcurrency]). Calls that carry history (CreatedTime) always go
// one at a time, in input order.
func WithConcurrency(n int) ImportOption {
	return func(c *importConfig) error {
		if n < 1 || n > 256 {
			return invalidInput("WithConcurrency: %d is outside 1..256", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithChunkSize sets the items per call, at most [MaxBatchImportSize] (the
// default). Smaller calls finish sooner, which helps with very heavy items.
func WithChunkSize(n int) ImportOption {
	return func(c *importConfig) error {
		if n < 1 || n > MaxBatchImportSize {
			return invalidInput("WithChunkSize: %d is outside 1..%d", n, MaxBatchImportSize)
		}
		c.chunkSize = n
		return nil
	}
}

// WithProgress calls fn after every finished call with a snapshot of the
// import, and whenever what it waits for changes (Progress.Wait). Calls to
// fn never overlap; fn should return quickly.
func WithProgress(fn func(Progress)) ImportOption {
	return func(c *importConfig) error {
		c.progress = fn
		return nil
	}
}

// WithOnSend calls fn each time a request carrying rows of the import is
// about to be written to the connection: after every wait (the rate
// limiter, the operating budget, a token refresh), once per attempt, with
// the input indexes of the rows it carries (for a packed request, the
// rows of all its calls). The request waits until fn returns, so a caller
// that records the moment durably before returning knows after a crash
// when its last request can have left: no row went out later than its
// last record (b24import times its resume by it). If fn fails, the
// request is not sent: its rows end [ItemNotSent] and the import stops
// with an error that matches [ErrImportStopped] and wraps fn's. fn may be
// called from several goroutines at once and must not modify rows.
// Without it nothing is recorded and nothing is spent.
func WithOnSend(fn func(rows []int) error) ImportOption {
	return func(c *importConfig) error {
		c.onSend = fn
		return nil
	}
}

// WithOriginalUFNames sends useOriginalUfNames=Y, so user fields may be
// named UF_CRM_… instead of ufCrm….
func WithOriginalUFNames() ImportOption {
	return func(c *importConfig) error {
		c.originalUFNames = true
		return nil
	}
}

// WithTotal tells a streaming import how many items to expect, for the ETA.
func WithTotal(n int) ImportOption {
	return func(c *importConfig) error {
		if n < 0 {
			return invalidInput("WithTotal: negative total")
		}
		c.total = n
		return nil
	}
}

// WithPacking sets how many crm.item.batchImport calls may travel inside
// one batch request, which costs a single unit of the portal's request
// bucket. 0 (the default) packs automatically, and only when the request
// rate is the binding limit; 1 never packs; 2..50 packs up to n calls. The
// pack shrinks as measured server time grows, so a request stays well
// under the portal's 60 s cut-off. Inside a batch the values travel form
// encoded: booleans in Fields become Y/N and empty lists are left out; a
// call whose values contain batch placeholder text ("$result[") or that
// would need more than 900 form variables is sent on its own instead.
//
// API docs: https://apidocs.bitrix24.com/settings/how-to-call-rest-api/batch.html
func WithPacking(n int) ImportOption {
	return func(c *importConfig) error {
		if n < 0 || n > maxBatchCommands {
			return invalidInput("WithPacking: %d is outside 0..%d", n, maxBatchCommands)
		}
		c.packing = n
		return nil
	}
}

// BatchImport imports items into the entity type with crm.item.batchImport,
// 20 per call, several calls in flight, paced by the client's limits. It
// reads items in place, without copying them: leave them unchanged until
// it returns.
//
// It always returns a result with one entry per item, also together with an
// error. The error is nil only when every item was imported; otherwise it is
// an [*ImportError] counting the outcomes and wrapping the cause that
// stopped the import, if any (so errors.Is(err, context.Canceled) works).
//
// Set OriginatorID and OriginID on each item (XMLID for invoices and smart
// processes) and no row is created twice. Before sending, the keys are
// looked up with crm.item.list, 2,500 to a batch request: rows already in
// the portal end [ItemImported] with their id and [ActionFound] (or are
// updated, see [WithExisting]), so running the same import again creates
// nothing; a second row of the input with the same key is rejected
// ([CodeDuplicateKey]). When a call's outcome is unknown (timeout, dropped
// connection, 5xx, a partial save) the engine looks the keys up again,
// marks the rows that exist as imported with their real IDs and resends
// only the missing ones. Without keys such rows end [ItemUnknown]; nothing
// is ever resent blindly. A call whose answer never came (a timeout, a
// dropped connection) may still be running on the portal: its rows are
// looked up only once [WithMaxExecutionTime] has passed since it was sent.
//
// Cancelling ctx stops the sending at once; the import then ends within
// twice the attempt timeout ([RetryPolicy].AttemptTimeout, 75 s by
// default): the calls under way get one attempt timeout to finish, the
// lookups that settle the calls whose answer was lost get one attempt each
// within a second one, and a call that may still be running is not looked
// up at all. Rows left unsettled end [ItemUnknown] if they were sent,
// [ItemNotSent] if not.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/import/crm-item-batch-import.html
func (s *CRMItemService) BatchImport(ctx context.Context, entityTypeID EntityTypeID, items []Item, opts ...ImportOption) (*BatchImportResult, error) {
	// The rows are read where they are: items does not change until the
	// import has ended, when BatchImport returns.
	rows := func(yield func(inputRow) bool) {
		for i := range items {
			if !yield(inputRow{item: &items[i], stable: true}) {
				return
			}
		}
	}
	opts = append([]ImportOption{WithTotal(len(items))}, opts...)
	return collect(ctx, len(items), s.runSeq(ctx, entityTypeID, rows, false, opts))
}

// collect gathers the n results of a streaming run into a result by
// input index, with the error that summarises them.
func collect(ctx context.Context, n int, results iter.Seq[ItemResult]) (*BatchImportResult, error) {
	res := &BatchImportResult{Items: make([]ItemResult, n)}
	for i := range res.Items {
		res.Items[i] = ItemResult{Index: i, Status: ItemNotSent}
	}
	var cause error
	for r := range results {
		if r.Index < 0 {
			cause = r.Err // a setup error, reported before any item
			continue
		}
		res.Items[r.Index] = r
		if r.Status == ItemNotSent && r.Err != nil && cause == nil {
			cause = r.Err
		}
	}
	if cause == nil && ctx.Err() != nil {
		cause = ctx.Err()
	}
	for i := range res.Items {
		if res.Items[i].Status == ItemNotSent && res.Items[i].Err == nil {
			res.Items[i].Err = cause // never read: the import stopped before them
		}
	}
	return res, summarize(res, cause)
}

// summarize builds the *ImportError for res, or nil when all were imported.
func summarize(res *BatchImportResult, cause error) error {
	imp, rej, unk, ns := res.Counts()
	if rej == 0 && unk == 0 && ns == 0 && cause == nil {
		return nil
	}
	if cause == nil && unk > 0 {
		for _, it := range res.Items {
			if it.Status == ItemUnknown {
				cause = it.Err
				break
			}
		}
	}
	return &ImportError{Imported: imp, Rejected: rej, Unknown: unk, NotSent: ns, Err: cause}
}

// flightGrace is how long an import goes on after its ctx is cancelled:
// one attempt timeout for the calls under way to end (the portal may
// answer them), and one more for the lookups that settle the calls whose
// answer was lost, each of which gets a single attempt. What is not
// settled by then ends ItemUnknown (sent) or ItemNotSent (not sent).
func flightGrace(p RetryPolicy) time.Duration { return 2 * p.AttemptTimeout }

// ImportSeq is the streaming form of [CRMItemService.BatchImport]: it reads
// items lazily and yields one result per item as calls complete (not in
// input order; use ItemResult.Index). Memory stays bounded by the calls in
// flight, whatever the input's size. When ctx is cancelled or the import
// stops on a fatal error, the input is not read any further: rows without
// a result were not sent.
//
// Breaking out of the loop stops the import: no more input is read, no
// request is sent after the break, the exchanges in flight are cancelled
// and ImportSeq returns once they have ended. Results not yielded by then
// are dropped, but their rows may exist in the portal: rows already
// settled (at most concurrency+2 units of results) and the rows of the
// requests in flight, which the portal may have run before the
// cancellation reached it (at most concurrency units). A unit is one call
// of up to [WithChunkSize] rows, or with packing one batch request of up
// to 50 calls. So at most (2×concurrency+2) units of rows are created
// beyond the results seen. To learn the outcome of every row, cancel ctx
// instead of breaking and keep reading: every row then gets a result.
//
// A problem with the options or the entity type is yielded once as a
// result with Index -1 and Status ItemNotSent before anything is read.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/import/crm-item-batch-import.html
func (s *CRMItemService) ImportSeq(ctx context.Context, entityTypeID EntityTypeID, items iter.Seq[Item], opts ...ImportOption) iter.Seq[ItemResult] {
	var rows iter.Seq[inputRow]
	if items != nil {
		rows = func(yield func(inputRow) bool) {
			var cur Item // the engine copies each row out before the next
			for it := range items {
				cur = it
				if !yield(inputRow{item: &cur}) {
					return
				}
			}
		}
	}
	return s.runSeq(ctx, entityTypeID, rows, false, opts)
}

// runSeq runs an engine over rows (imports, or updates by id) and yields
// its results.
func (s *CRMItemService) runSeq(ctx context.Context, entityTypeID EntityTypeID, rows iter.Seq[inputRow], updating bool, opts []ImportOption) iter.Seq[ItemResult] {
	return func(yield func(ItemResult) bool) {
		cfg := importConfig{concurrency: DefaultConcurrency, chunkSize: MaxBatchImportSize, total: -1, now: time.Now}
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o(&cfg); err != nil {
				yield(ItemResult{Index: -1, Status: ItemNotSent, Err: err})
				return
			}
		}
		if entityTypeID <= 0 {
			yield(ItemResult{Index: -1, Status: ItemNotSent, Err: invalidInput("entity type id %d is not valid", int(entityTypeID))})
			return
		}
		if rows == nil {
			return
		}
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		// flight outlives ctx so that a call that reached the portal is
		// finished and accounted for, but only by the grace (see
		// flightGrace); a consumer's break ends it at once.
		flight, endFlight := context.WithCancel(context.WithoutCancel(ctx))
		defer endFlight()
		grace := flightGrace(s.client.retry)
		var graceTimer atomic.Pointer[time.Timer]
		stopGrace := context.AfterFunc(ctx, func() { graceTimer.Store(time.AfterFunc(grace, endFlight)) })
		defer func() {
			stopGrace()
			if t := graceTimer.Load(); t != nil {
				t.Stop()
			}
		}()
		e := newEngine(s.client, entityTypeID, cfg, flight)
		e.updating = updating
		out := make(chan []ItemResult, cfg.concurrency+1)
		go e.run(ctx, rows, out)
		for results := range out {
			for _, r := range results {
				if !yield(r) {
					stop()
					endFlight()
					for range out { // let the engine wind down
					}
					return
				}
			}
		}
	}
}
