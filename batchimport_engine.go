package b24

import (
	"context"
	"math"
	"time"
)

// waitFirst holds the chunks after the first one while automatic packing
// has not learnt the cost of a call yet: the first goes alone as a plain
// call and the rest wait for its answer, so that they are packed by what
// it tells. It returns false when ctx ends first.
func (e *engine) waitFirst(ctx context.Context) bool {
	if e.cfg.packing != 0 {
		return true
	}
	if !e.probeSent {
		e.probeSent = true
		return true
	}
	select {
	case <-e.firstDone:
		return true
	case <-ctx.Done():
		return false
	}
}

// unitDone records that a unit has been settled.
func (e *engine) unitDone() { e.firstOnce.Do(func() { close(e.firstDone) }) }

// dispatch waits for a slot and runs unit (one chunk, or several packed
// into one batch request) in the background. A history unit takes every
// slot, so it runs alone and after everything before it. It returns false
// (and reports the unit as not sent) when the import is stopping.
func (e *engine) dispatch(ctx context.Context, unit []chunk, out chan<- []ItemResult) bool {
	history := unit[0].history
	need := 1
	if history {
		need = cap(e.slots)
	}
	got, packed := 0, false
	release := func() {
		for range got {
			<-e.slots
		}
		if packed {
			<-e.packs
		}
	}
	unitItems := func() []pendingItem {
		var all []pendingItem
		for _, ch := range unit {
			all = append(all, ch.items...)
		}
		return all
	}
	if len(unit) > 1 && !history || unit[0].update && len(unit[0].items) > 1 {
		select {
		case e.packs <- struct{}{}:
			packed = true
		case <-ctx.Done():
			e.emit(out, notSent(unitItems(), ctx.Err()))
			return false
		}
	}
	for got < need {
		select {
		case e.slots <- struct{}{}:
			got++
		case <-ctx.Done():
			release()
			e.emit(out, notSent(unitItems(), ctx.Err()))
			return false
		}
	}
	if e.stopped() {
		release()
		e.emit(out, notSent(unitItems(), e.stopCause(ctx)))
		return false
	}
	if history {
		// Holding every slot, it runs alone; running it here keeps the next
		// history rows from starting before it ends.
		e.emit(out, e.importUnit(ctx, unit))
		release()
		return !e.stopped() && ctx.Err() == nil
	}
	e.inflight.Add(1)
	go func() {
		defer e.inflight.Done()
		defer release()
		e.emit(out, e.importUnit(ctx, unit))
	}()
	return true
}

// waitTick is how often the import looks at its requests' waits.
const waitTick = 250 * time.Millisecond

// watchWaits reports, through the progress function, each change of what
// the import waits for (a wait that has lasted WaitReportAfter, and its
// end), so a caller learns of a long wait while it lasts, not after. It
// returns the function that stops it.
func (e *engine) watchWaits() (stop func()) {
	if e.board == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(waitTick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			w := e.board.current(time.Now())
			e.mu.Lock()
			if !sameWait(w, e.counts.Wait) {
				e.counts.Wait = w
				e.reportLocked()
			}
			e.mu.Unlock()
		}
	}()
	return func() {
		close(done)
		<-finished
		// Every call has ended: nothing waits any more.
		e.mu.Lock()
		if e.counts.Wait.Reason != WaitNone {
			e.counts.Wait = Wait{}
			e.reportLocked()
		}
		e.mu.Unlock()
	}
}

// packSize is how many chunks the next request should carry.
func (e *engine) packSize() int {
	n := e.cfg.packing
	if n == 1 {
		return 1
	}
	auto := n == 0
	if auto {
		n = maxBatchCommands
	}
	cost := e.callCost()
	if cost > 0 {
		n = min(n, max(1, int(packTimeTarget/cost)))
	}
	if !auto {
		return n
	}
	rate := e.c.requestRate()
	if cost <= 0 || rate <= 0 || e.c.opRate <= 0 {
		return 1 // measure a plain call first
	}
	// The request ceiling is the share of the rate this client really gets:
	// with a limiter shared by several clients or processes it is a
	// fraction of the portal's rate, and the packs must grow to match.
	reqCeiling := rate * float64(e.cfg.chunkSize)             // items/s
	opCeiling := e.c.opRate * float64(e.cfg.chunkSize) / cost // items/s
	if opCeiling <= reqCeiling*1.05 {
		return 1 // operating time binds: packing would not help
	}
	return min(n, max(2, int(math.Ceil(opCeiling/reqCeiling*1.25))))
}

// importUnit imports one dispatched unit: a chunk as a plain call, several
// as one batch request.
func (e *engine) importUnit(ctx context.Context, unit []chunk) []ItemResult {
	defer e.unitDone()
	if unit[0].update {
		return e.updateRows(ctx, unit[0].items)
	}
	if len(unit) == 1 {
		return e.importRows(ctx, unit[0].items)
	}
	return e.importPack(ctx, unit)
}
