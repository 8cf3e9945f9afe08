package b24

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/b24kit/b24/internal/dedup"
)

// maxBatchCommands is the most commands one batch request runs.
const maxBatchCommands = 50

// packTimeTarget is the server time a packed request aims at: a third of
// the portal's 60 s cut-off, so a slow moment cannot push it over.
const packTimeTarget = 20.0

// maxPacksInFlight bounds the packed requests in flight. One request at a
// time nearly keeps a packed import at the operating ceiling (the portal
// runs the commands one after another), so two suffice, and each holds up
// to 1000 rows in memory (see BENCHMARKS.md).
const maxPacksInFlight = 2

// maxReconcileRounds bounds how often the engine looks up and resends the
// missing rows of a call whose outcome was unknown. Each round costs a
// lookup and is caused by a failure of the portal's own (a 5xx, a dropped
// connection, a partial save); eight is as many as a call's retries of
// refusals, and rows still unsettled after them end unknown.
const maxReconcileRounds = 8

// pendingItem is an item with its input index and dedup key.
type pendingItem struct {
	index int
	item  *Item // in the feeder's slab: one copy per row, shared by every step
	key   dedup.Key
	keyed bool       // key is complete: the row can be looked up
	upd   *updateJob // set when the row updates an existing item
}

// chunk is the items of one call, or the updates of one request.
type chunk struct {
	cmdID   string // command id when packed into a batch request
	items   []pendingItem
	history bool // some item carries CreatedTime: send alone, in order
	update  bool // the items update existing ones (crm.item.update)
}

// engine runs one import. Its steps call downward: the feed reads,
// validates, looks up and chunks the input (batchimport_feed.go), the
// dispatch runs units within the concurrency limits
// (batchimport_engine.go), and each unit's rows are sent and settled as
// one call, one packed request or updates (batchimport_call.go,
// batchimport_pack.go, batchimport_update.go). This file holds what they
// all share: the state, the stop, and the emission of results.
type engine struct {
	c   *Client
	et  EntityTypeID
	cfg importConfig
	// flight outlives the import's ctx by one attempt: HTTP exchanges and
	// the lookups that settle them run on it (see ImportSeq).
	flight   context.Context
	start    time.Time
	mu       sync.Mutex // guards counts and serialises progress calls
	counts   Progress
	fatal    error // the cause that stopped the import
	fatalMu  sync.Mutex
	slots    chan struct{}
	packs    chan struct{} // packed requests in flight: few, each holds up to 1000 rows
	inflight sync.WaitGroup
	costMu   sync.Mutex
	cmdCost  float64      // moving average of server seconds per full call
	bodyHint atomic.Int64 // bytes of the last packed request's body
	// firstDone is closed when the first unit has been settled. Until a
	// call has told what calls cost, automatic packing sends one plain
	// call and waits for it, instead of spending a request per chunk on
	// calls it would have packed.
	firstDone chan struct{}
	firstOnce sync.Once
	probeSent bool // run's own: the first unit has been dispatched
	// classes tells which key classes the portal held nothing of when the
	// import met them: their rows are not looked up.
	classes classProbes
	// board collects the waits of the import's requests; nil when no one
	// watches progress, which keeps the request loop from reporting them.
	board   *waitBoard
	samples []rateSample // recent (time, done) pairs for the ETA, under mu
	updCost float64      // moving average of server seconds per update

	updating bool        // the input updates items by id (UpdateSeq)
	refs     map[int]any // Item.Ref of rows without a result yet; guarded by mu
}

// rateSample is the count of finished items at a moment.
type rateSample struct {
	at   time.Time
	done int
}

// etaWindow is the span of the recent rate the ETA is computed from: long
// enough to smooth the gaps between calls, short enough to follow a change
// of pace (a limit that starts to bind, a resumed run).
const etaWindow = 30 * time.Second

// observer is what the import's requests report their waits to.
func (e *engine) observer() waitObserver {
	if e.board == nil {
		return nil
	}
	return e.board
}

func newEngine(c *Client, et EntityTypeID, cfg importConfig, flight context.Context) *engine {
	e := &engine{c: c, et: et, cfg: cfg, flight: flight, start: cfg.now(),
		slots:     make(chan struct{}, cfg.concurrency),
		packs:     make(chan struct{}, min(maxPacksInFlight, cfg.concurrency)),
		firstDone: make(chan struct{})}
	e.counts.Total = cfg.total
	if cfg.progress != nil {
		e.board = &waitBoard{}
	}
	return e
}

// stopCause is why the import stopped sending.
func (e *engine) stopCause(ctx context.Context) error {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	if e.fatal != nil {
		return e.fatal
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrImportStopped
}

func (e *engine) stopped() bool {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	return e.fatal != nil
}

// stop records err as the reason the import stops: no call is sent after
// it, and the rows not settled end not sent with an error that matches
// [ErrImportStopped].
func (e *engine) stop(err error) error {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	if e.fatal == nil {
		e.fatal = stopped(err)
	}
	return e.fatal
}

func notSent(items []pendingItem, cause error) []ItemResult {
	rs := make([]ItemResult, len(items))
	for i, p := range items {
		rs[i] = ItemResult{Index: p.index, Status: ItemNotSent, Err: cause}
	}
	return rs
}

// remember keeps a row's Item.Ref until its result is emitted.
func (e *engine) remember(index int, ref any) {
	if ref == nil {
		return
	}
	e.mu.Lock()
	if e.refs == nil {
		e.refs = make(map[int]any)
	}
	e.refs[index] = ref
	e.mu.Unlock()
}

// emit counts results, reports progress and hands them to the consumer.
// It gives each its row's Ref and an imported row its action (created,
// unless the result says otherwise).
func (e *engine) emit(out chan<- []ItemResult, rs []ItemResult) {
	if len(rs) == 0 {
		return
	}
	e.mu.Lock()
	for i := range rs {
		r := &rs[i]
		if ref, ok := e.refs[r.Index]; ok {
			r.Ref = ref
			delete(e.refs, r.Index)
		}
		switch {
		case r.Status != ItemImported:
			r.Action = 0
		case r.Action == 0 && e.updating:
			r.Action = ActionUpdated
		case r.Action == 0:
			r.Action = ActionCreated
		}
	}
	for _, r := range rs {
		e.counts.Done++
		switch r.Status {
		case ItemImported:
			e.counts.Imported++
		case ItemRejected:
			e.counts.Rejected++
		case ItemUnknown:
			e.counts.Unknown++
		default:
			e.counts.NotSent++
		}
	}
	if e.cfg.progress != nil {
		e.reportLocked()
	}
	e.mu.Unlock()
	out <- rs
}

// reportLocked calls the progress function with a snapshot; e.mu is held.
// The ETA divides the items left by the rate over the last etaWindow, so a
// change of pace shows within seconds, not after the average catches up.
func (e *engine) reportLocked() {
	p := e.counts
	now := e.cfg.now()
	p.Elapsed = now.Sub(e.start)
	if secs := p.Elapsed.Seconds(); secs > 0 {
		p.ItemsPerSecond = float64(p.Done) / secs
	}
	if n := len(e.samples); n == 0 || e.samples[n-1].done != p.Done {
		e.samples = append(e.samples, rateSample{at: now, done: p.Done})
	}
	cut := 0
	for cut < len(e.samples)-2 && now.Sub(e.samples[cut].at) > etaWindow {
		cut++
	}
	e.samples = e.samples[cut:]
	rate := p.ItemsPerSecond
	if first := e.samples[0]; len(e.samples) >= 2 && now.Sub(first.at) > 0 {
		rate = float64(p.Done-first.done) / now.Sub(first.at).Seconds()
	}
	if p.Total > 0 && rate > 0 && p.Total > p.Done {
		p.ETA = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second))
	}
	e.cfg.progress(p)
}

// observeCost folds the server time of a call of n rows into the average
// cost of a full call.
func (e *engine) observeCost(seconds float64, n int) {
	if seconds <= 0 || n <= 0 {
		return
	}
	full := seconds * float64(e.cfg.chunkSize) / float64(n)
	e.costMu.Lock()
	foldCost(&e.cmdCost, full)
	e.costMu.Unlock()
}

// foldCost folds a reading into a moving average of costs (the first
// reading starts it); e.costMu is held.
func foldCost(avg *float64, x float64) {
	if *avg == 0 {
		*avg = x
	} else {
		*avg = 0.8**avg + 0.2*x
	}
}

func (e *engine) callCost() float64 {
	e.costMu.Lock()
	defer e.costMu.Unlock()
	return e.cmdCost
}
