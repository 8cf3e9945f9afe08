package b24

import (
	"context"
	"hash/maphash"
	"iter"
	"strconv"

	"github.com/b24kit/b24/internal/dedup"
)

// Window sizes of the lookup that finds rows already in the portal: it
// starts small, so the first results come soon, and doubles up to what
// one batch request of list commands asks (50 filters of 50 keys).
const (
	firstLookupWindow = 100
	maxLookupWindow   = dedup.MaxQueriesPerRound * dedup.KeysPerFilter
)

// inputRow is one row of an engine's input: an item and, for an update,
// the id of the item it updates.
type inputRow struct {
	item   *Item
	target int64
	// stable says item stays as it is, and the engine may keep pointing to
	// it, until the run has ended (BatchImport's slice); otherwise the
	// engine copies it before asking for the next row.
	stable bool
}

// feeder reads an engine's input in order and routes each row: rejected
// by validation, looked up first (its dedup key may be in the portal),
// created in calls of chunkSize packed as packSize says, or updated. It
// belongs to the engine's run goroutine.
type feeder struct {
	e   *engine
	ctx context.Context
	out chan<- []ItemResult

	cur  chunk   // creations being gathered into one call
	pack []chunk // calls waiting to travel together in one batch request
	upd  []pendingItem

	// window holds the rows read since the first one still to be looked
	// up, in input order (rows without a key wait behind it too, so that
	// history stays in order).
	window    []pendingItem
	windowCap int
	lookups   int           // keyed rows in the window
	inflight  *lookup       // the lookup of the window before, running
	spare     []pendingItem // a window buffer to reuse

	// emptyClass is the last originatorId, as the rows spell it, whose
	// class the portal held nothing of (see inEmptyClass).
	emptyClass struct {
		orig string
		ok   bool
	}

	seenKeys keySet // hashed folded dedup keys of the rows read
	seed     maphash.Seed

	// slab holds the rows read, each copied once from the input; the
	// pending rows point into it. A full slab is left to the rows in it
	// (the garbage collector frees it when they are settled) and a new one
	// begins, so no row ever moves.
	slab []Item

	stopped bool
}

func newFeeder(ctx context.Context, e *engine, out chan<- []ItemResult) *feeder {
	return &feeder{e: e, ctx: ctx, out: out, windowCap: firstLookupWindow,
		seed: maphash.MakeSeed()}
}

// run validates and routes the input, then dispatches what is left and
// closes out when every result has been sent.
func (e *engine) run(ctx context.Context, rows iter.Seq[inputRow], out chan<- []ItemResult) {
	stopWatch := e.watchWaits()
	defer func() {
		e.inflight.Wait()
		stopWatch()
		close(out)
	}()
	v := newItemValidator(e.et, e.cfg.originalUFNames, e.cfg.now)
	v.update = e.updating
	f := newFeeder(ctx, e, out)
	index := 0
	for r := range rows {
		if f.stopped || ctx.Err() != nil {
			break // rows not read are not sent; BatchImport reports them
		}
		i := index
		index++
		e.remember(i, r.item.Ref)
		slot := r.item
		if !r.stable {
			slot = f.slot()
			*slot = *r.item
		}
		if ierr := v.check(slot); ierr != nil {
			if !r.stable {
				f.slab = f.slab[:len(f.slab)-1] // the next row takes the slot
			}
			ierr.Index = i
			e.emit(out, []ItemResult{{Index: i, Status: ItemRejected, Err: ierr}})
			continue
		}
		p := pendingItem{index: i, item: slot}
		if e.updating {
			if r.target <= 0 {
				e.emit(out, []ItemResult{{Index: i, Status: ItemRejected, Err: &ItemError{Index: i,
					Code: CodeInvalidValue, Description: "record id " + strconv.FormatInt(r.target, 10) + " is not an item id"}}})
				continue
			}
			p.upd = &updateJob{target: r.target}
			f.update(p)
			continue
		}
		p.key, p.keyed = dedupKeyOf(e.et, p.item)
		if p.keyed && f.duplicate(p) {
			continue
		}
		f.route(p)
	}
	if !f.stopped && f.finish() {
		return
	}
	e.emit(out, notSent(f.leftovers(), e.stopCause(ctx)))
}

// slabSize is how many rows one slab holds: 200 KiB, a tenth of a packed
// request's rows, so a slab held by one pending row keeps little alive.
const slabSize = 256

// slot takes the next place in the slab for a row being read.
func (f *feeder) slot() *Item {
	if len(f.slab) == cap(f.slab) {
		f.slab = make([]Item, 0, slabSize)
	}
	f.slab = f.slab[:len(f.slab)+1]
	return &f.slab[len(f.slab)-1]
}

// duplicate rejects p when an earlier row of the input has its key. Keys
// are kept as 64-bit hashes (seeded per import), 8 bytes a row (see
// keySet), so the set stays small for millions of rows; two keys share a hash with a
// chance of about n²/2⁶⁵ (3·10⁻⁸ for a million rows), and then the later
// row is rejected, visibly, rather than anything sent twice.
func (f *feeder) duplicate(p pendingItem) bool {
	k := p.key.Fold()
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(k.OriginatorID)
	h.WriteByte(0)
	h.WriteString(k.OriginID)
	h.WriteByte(0)
	h.WriteString(k.XMLID)
	if f.seenKeys.add(h.Sum64()) {
		return false
	}
	f.e.emit(f.out, []ItemResult{{Index: p.index, Status: ItemRejected, Err: &ItemError{Index: p.index, Code: CodeDuplicateKey,
		Description: "an earlier row of this input has the same dedup key (" + describeKey(p.key) + ", compared as the portal does: case and trailing spaces ignored); only that one is sent"}}})
	return true
}

func describeKey(k dedup.Key) string {
	if k.XMLID != "" {
		return "xmlId " + quoteName(k.XMLID)
	}
	return "originatorId " + quoteName(k.OriginatorID) + ", originId " + quoteName(k.OriginID)
}

// route sends p on its way: through the lookup window when its key may be
// in the portal (or rows before it still wait for theirs), else to be
// created.
func (f *feeder) route(p pendingItem) {
	lookup := p.keyed && f.e.cfg.existing != ExistingCreate && !f.inEmptyClass(p.key)
	if !lookup && len(f.window) == 0 && f.inflight == nil {
		f.create(p)
		return
	}
	if f.window == nil {
		f.window, f.spare = f.spare, nil
	}
	f.window = append(f.window, p)
	if lookup {
		f.lookups++
	}
	// A keyed row that needs no lookup while the window has none to do
	// either: the probe has spoken, so the rows waiting go on at once.
	drain := !lookup && p.keyed && f.lookups == 0
	if drain || f.lookups >= f.windowCap || len(f.window) >= 2*maxLookupWindow {
		f.launch()
		f.windowCap = min(2*f.windowCap, maxLookupWindow)
	}
}

// inEmptyClass reports whether k's class held nothing in the portal when
// the import met it (see classProbes), remembering the last such
// originatorId as given, which spares folding it row after row.
func (f *feeder) inEmptyClass(k dedup.Key) bool {
	if f.emptyClass.ok && k.OriginatorID == f.emptyClass.orig {
		return true
	}
	if !f.e.classes.knownEmpty(k) {
		return false
	}
	f.emptyClass.orig, f.emptyClass.ok = k.OriginatorID, true
	return true
}

// lookup is a window's lookup running in the background: the next window
// fills (and the one before is dispatched) meanwhile, so the portal's
// answer time does not stall the calls.
type lookup struct {
	rows  []pendingItem
	done  chan struct{}
	found map[dedup.Key]dedup.Found
	err   error
}

// launch starts the window's lookup, then settles the one before: the
// new lookup runs while the rows before it are dispatched.
func (f *feeder) launch() {
	prev := f.inflight
	f.inflight = nil
	if !f.stopped && len(f.window) > 0 && f.lookups == 0 {
		// Nothing to look up: the rows follow the ones before, in order.
		rows := f.window
		f.window = nil
		f.settleLookup(prev)
		for i := range rows {
			f.create(rows[i])
		}
		f.spare = rows[:0]
		return
	}
	if !f.stopped && len(f.window) > 0 {
		l := &lookup{rows: f.window, done: make(chan struct{})}
		f.window, f.lookups = nil, 0
		go func() {
			defer close(l.done)
			l.found, l.err = f.e.findExisting(f.ctx, l.rows)
		}()
		f.inflight = l
	}
	f.settleLookup(prev)
}

// settle waits for the lookup in flight, if any, and routes its rows.
func (f *feeder) settle() {
	l := f.inflight
	f.inflight = nil
	f.settleLookup(l)
}

// settleLookup waits for l and routes its rows in order: found ones end
// imported (or are updated), the others are created.
func (f *feeder) settleLookup(l *lookup) {
	if l == nil {
		return
	}
	<-l.done
	rows, found, err := l.rows, l.found, l.err
	e := f.e
	if f.stopped {
		f.window = append(f.window, rows...) // not sent: leftovers reports them
		return
	}
	if err != nil {
		if f.ctx.Err() != nil || classOf(err) == classStop {
			if f.ctx.Err() == nil {
				e.stop(err)
			}
			f.stopped = true
			f.window = append(f.window, rows...)
			return
		}
		// Not found out: none of these rows is sent, rather than risk a copy.
		e.emit(f.out, notSent(rows, err))
		return
	}
	for i := range rows {
		p := &rows[i] // by index: a copy of the row would escape
		if f.stopped {
			f.window = append(f.window, rows[i:]...)
			return
		}
		hit, ok := found[p.key.Fold()]
		if !p.keyed || !ok {
			f.create(*p)
			continue
		}
		if e.cfg.existing != ExistingUpdate {
			e.emit(f.out, []ItemResult{{Index: p.index, Status: ItemImported, ID: hit.ID, Action: ActionFound}})
			continue
		}
		job, changed, err := e.planExisting(p.item, hit)
		switch {
		case err != nil:
			e.emit(f.out, []ItemResult{{Index: p.index, Status: ItemRejected,
				Err: &ItemError{Index: p.index, Code: CodeInvalidValue, Description: err.Error()}}})
		case !changed:
			e.emit(f.out, []ItemResult{{Index: p.index, Status: ItemImported, ID: hit.ID, Action: ActionFound}})
		default:
			p.upd = job
			f.update(*p)
		}
	}
	f.spare = rows[:0] // the rows were copied out: the next window reuses the buffer
}

// create adds p to the call being gathered.
func (f *feeder) create(p pendingItem) {
	if f.stopped {
		f.cur.items = append(f.cur.items, p)
		return
	}
	hist := !p.item.CreatedTime.IsZero()
	if hist != f.cur.history && len(f.cur.items) > 0 && !f.flush() {
		f.stopped = true
	}
	f.cur.history = hist
	if f.cur.items == nil {
		f.cur.items = make([]pendingItem, 0, f.e.cfg.chunkSize) // a call's rows, without growing
	}
	f.cur.items = append(f.cur.items, p)
	if !f.stopped && len(f.cur.items) == f.e.cfg.chunkSize && !f.flush() {
		f.stopped = true
	}
}

// flush closes the call being gathered and dispatches the pack when full.
func (f *feeder) flush() bool {
	if len(f.cur.items) == 0 {
		return true
	}
	if len(f.pack) > 0 && f.pack[0].history != f.cur.history && !f.sendPack() {
		return false
	}
	f.pack = append(f.pack, f.cur)
	f.cur = chunk{}
	if !f.e.waitFirst(f.ctx) {
		return false
	}
	if len(f.pack) >= f.e.packSize() {
		return f.sendPack()
	}
	return true
}

func (f *feeder) sendPack() bool {
	if len(f.pack) == 0 {
		return true
	}
	u := f.pack
	f.pack = nil
	return f.e.dispatch(f.ctx, u, f.out)
}

// update adds p to the updates waiting to be sent together.
func (f *feeder) update(p pendingItem) {
	f.upd = append(f.upd, p)
	if !f.stopped && len(f.upd) >= f.e.updatePackSize() {
		f.sendUpdates()
	}
}

func (f *feeder) sendUpdates() bool {
	if len(f.upd) == 0 || f.stopped {
		return !f.stopped
	}
	u := f.upd
	f.upd = nil
	if !f.e.dispatch(f.ctx, []chunk{{items: u, update: true}}, f.out) {
		f.stopped = true
	}
	return !f.stopped
}

// finish settles the lookups and dispatches everything gathered; false
// when the import stopped first.
func (f *feeder) finish() bool {
	f.launch()
	f.settle()
	return !f.stopped && f.flush() && f.sendPack() && f.sendUpdates()
}

// leftovers are the rows read but never dispatched.
func (f *feeder) leftovers() []pendingItem {
	f.stopped = true
	f.settle() // its rows join the window
	var left []pendingItem
	for _, ch := range f.pack {
		left = append(left, ch.items...)
	}
	left = append(left, f.cur.items...)
	left = append(left, f.upd...)
	left = append(left, f.window...)
	f.pack, f.cur, f.upd, f.window = nil, chunk{}, nil, nil
	return left
}
