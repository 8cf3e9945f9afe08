package b24

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/b24kit/b24/internal/dedup"
	"github.com/b24kit/b24/internal/wire"
)

const methodBatchImport = "crm.item.batchImport"

// origin says where a call's outcome comes from, which decides what a
// refusal means for its rows.
type origin uint8

const (
	fromCall    origin = iota // a plain call: the pipeline has retried its refusals already
	fromCommand               // a command of a batch answer: refused ones were not retried
	fromBatch                 // a batch request that failed as a whole
)

// callOutcome is what became of one call of rows: the portal's result for
// it, or the error it failed with.
type callOutcome struct {
	result json.RawMessage
	err    error
	from   origin
	sent   time.Time // when its request was last written; zero: never
}

// importRows imports rows as plain calls until each has a result.
func (e *engine) importRows(ctx context.Context, rows []pendingItem) []ItemResult {
	return e.settle(ctx, rows, nil)
}

// settle is the one place where what became of a call turns into row
// results. Given the call's rows and its outcome (nil: not sent yet), it
// maps the answer or applies the failure's class, looks up the rows in
// doubt by their dedup keys, and sends the rows known to be missing again
// as plain calls, until every row has a result or maxReconcileRounds
// rounds have passed.
func (e *engine) settle(ctx context.Context, rows []pendingItem, first *callOutcome) []ItemResult {
	results := make([]ItemResult, 0, len(rows))
	pending, out := rows, first
	for round := 0; len(pending) > 0; round++ {
		if out == nil {
			if ctx.Err() != nil || e.stopped() {
				return append(results, notSent(pending, e.stopCause(ctx))...)
			}
			var rejected []ItemResult
			out, pending, rejected = e.call(ctx, pending)
			results = append(results, rejected...)
			if len(pending) == 0 {
				return results
			}
		}
		var again []pendingItem
		results, again = e.apply(ctx, pending, out, results, round)
		pending, out = again, nil
	}
	return results
}

// call sends rows as one crm.item.batchImport call. Rows that cannot be
// encoded are rejected locally and left out.
func (e *engine) call(ctx context.Context, rows []pendingItem) (out *callOutcome, sent []pendingItem, rejected []ItemResult) {
	body, sent, rejected := e.encodeCall(rows)
	if len(sent) == 0 {
		return nil, nil, rejected
	}
	req := &request{method: methodBatchImport, body: body, flight: e.flight, budgetMethod: methodBatchImport, weight: 1,
		observe: e.observer(), onSend: e.sendHook(sent)}
	env, err := e.c.do(ctx, req)
	if err != nil {
		return &callOutcome{err: err, from: fromCall, sent: req.sent}, sent, rejected
	}
	if env.Time != nil {
		e.observeCost(env.Time.Processing, len(sent))
	}
	return &callOutcome{result: env.Result, from: fromCall, sent: req.sent}, sent, rejected
}

// apply settles rows by their call's outcome and returns the rows to send
// again.
func (e *engine) apply(ctx context.Context, rows []pendingItem, out *callOutcome, results []ItemResult, round int) ([]ItemResult, []pendingItem) {
	if out.err == nil {
		return e.mapAnswer(ctx, rows, out.result, results, round)
	}
	switch classOf(out.err) {
	case classStop:
		return append(results, notSent(rows, e.stop(out.err))...), nil
	case classRefused:
		if out.from == fromCall {
			return append(results, notSent(rows, out.err)...), nil // refused on every attempt
		}
		return results, rows // not executed: send again as a plain call, through the retries and the budget
	case classRejected:
		if out.from == fromBatch {
			return results, rows // the batch was refused as a whole: each call on its own
		}
		return append(results, rejectAll(rows, out.err)...), nil
	}
	var notBefore time.Time
	if mayStillRun(out.err) && !out.sent.IsZero() {
		notBefore = out.sent.Add(e.c.maxExec)
	}
	return e.reconcile(ctx, rows, out.err, results, round, notBefore)
}

// sendHook is the request's onSend for a call of rows when the import
// has a WithOnSend function, else nil: without one nothing is built.
func (e *engine) sendHook(calls ...[]pendingItem) func() error {
	fn := e.cfg.onSend
	if fn == nil {
		return nil
	}
	n := 0
	for _, rows := range calls {
		n += len(rows)
	}
	indexes := make([]int, 0, n)
	for _, rows := range calls {
		for _, p := range rows {
			indexes = append(indexes, p.index)
		}
	}
	return func() error { return fn(indexes) }
}

// rejectAll rejects every row with the error that refused their call.
func rejectAll(rows []pendingItem, err error) []ItemResult {
	code, desc := "", err.Error()
	var api *APIError
	if errors.As(err, &api) {
		code, desc = api.Code, api.Description
	}
	rs := make([]ItemResult, len(rows))
	for i, p := range rows {
		rs[i] = ItemResult{Index: p.index, Status: ItemRejected, Err: &ItemError{Index: p.index, Code: code, Description: desc}}
	}
	return rs
}

// mapAnswer turns a call's result into row results. Rows without an answer,
// and keyed rows refused with an error that may come after the save, are
// looked up; rows found missing are returned to be sent again.
func (e *engine) mapAnswer(ctx context.Context, rows []pendingItem, result json.RawMessage, results []ItemResult, round int) ([]ItemResult, []pendingItem) {
	answers, err := wire.DecodeImportAnswers(result, len(rows))
	if err != nil {
		cause := &OutcomeUnknownError{Method: methodBatchImport, Err: fmt.Errorf("b24: unreadable answer: %w", err)}
		return e.reconcile(ctx, rows, cause, results, round, time.Time{})
	}
	var (
		unanswered []pendingItem
		verify     []pendingItem
		verifyErr  = map[int]*ItemError{}
	)
	shared := sharedIDs(answers)
	var secrets []string // of the credentials, fetched for the first item error
	for i, p := range rows {
		a := answers[i]
		switch {
		case a == nil || (a.Item == nil && a.Error == ""):
			unanswered = append(unanswered, p)
		case a.Error == "" && a.Item.ID > 0 && !shared[a.Item.ID]:
			results = append(results, ItemResult{Index: p.index, Status: ItemImported, ID: int64(a.Item.ID)})
		case a.Error == "":
			unanswered = append(unanswered, p) // an item answer without a believable id
		default:
			if secrets == nil {
				secrets = e.c.creds.secrets()
			}
			ie := &ItemError{Index: p.index, Code: portalText(string(a.Error), maxCodeLen, secrets),
				Description: portalText(string(a.ErrorDescription), maxDescriptionLen, secrets)}
			if p.keyed && classOf(ie) == classUnknown {
				verify = append(verify, p)
				verifyErr[p.index] = ie
				continue
			}
			results = append(results, ItemResult{Index: p.index, Status: ItemRejected, Err: ie})
		}
	}
	if len(verify) > 0 {
		found, _, lerr := e.lookup(ctx, verify)
		for _, p := range verify {
			if id, ok := found[p.index]; ok && lerr == nil {
				results = append(results, ItemResult{Index: p.index, Status: ItemImported, ID: id})
			} else {
				results = append(results, ItemResult{Index: p.index, Status: ItemRejected, Err: verifyErr[p.index]})
			}
		}
	}
	if len(unanswered) == 0 {
		return results, nil
	}
	cause := &OutcomeUnknownError{Method: methodBatchImport, Err: errors.New("b24: the answer has no result for some rows")}
	return e.reconcile(ctx, unanswered, cause, results, round, time.Time{})
}

// sharedIDs returns the ids that several item answers of one call name:
// each row creates its own item, so such an answer cannot be believed for
// any of them. A call has at most MaxBatchImportSize answers, so comparing
// each pair costs less than a map.
func sharedIDs(answers []*wire.ImportAnswer) map[wire.FlexInt]bool {
	id := func(a *wire.ImportAnswer) wire.FlexInt {
		if a == nil || a.Item == nil || a.Error != "" {
			return 0
		}
		return a.Item.ID
	}
	var shared map[wire.FlexInt]bool
	for i, a := range answers {
		x := id(a)
		if x <= 0 {
			continue
		}
		for _, b := range answers[i+1:] {
			if id(b) == x {
				if shared == nil {
					shared = map[wire.FlexInt]bool{}
				}
				shared[x] = true
				break
			}
		}
	}
	return shared
}

// reconcile settles the rows of a call whose outcome is unknown: rows with
// a dedup key are looked up (found: imported; missing: returned to be sent
// again), rows without one end unknown. A call that may still be running
// on the portal is not looked up before notBefore (zero: it is not
// running), so that no row it has yet to save is found missing; an import
// cancelled before then leaves its rows unknown.
func (e *engine) reconcile(ctx context.Context, rows []pendingItem, cause error, results []ItemResult, round int, notBefore time.Time) ([]ItemResult, []pendingItem) {
	if !errors.Is(cause, ErrOutcomeUnknown) {
		cause = &OutcomeUnknownError{Method: methodBatchImport, Err: cause}
	}
	var keyed []pendingItem
	for _, p := range rows {
		if p.keyed {
			keyed = append(keyed, p)
		} else {
			results = append(results, ItemResult{Index: p.index, Status: ItemUnknown, Err: cause})
		}
	}
	if len(keyed) == 0 {
		return results, nil
	}
	if round >= maxReconcileRounds {
		return appendUnknown(results, keyed, fmt.Errorf("b24: still unsettled after %d rounds: %w", round+1, cause)), nil
	}
	if wait := time.Until(notBefore); wait > 0 {
		e.c.log.DebugContext(ctx, "b24: waiting until a call without an answer cannot be running any more before looking its rows up",
			"rows", len(keyed), "wait", wait.Round(time.Millisecond))
		if err := e.c.sleep(ctx, wait); err != nil {
			return appendUnknown(results, keyed, fmt.Errorf("b24: stopped while the call may still be running on the portal (%w): %w", err, cause)), nil
		}
	}
	found, ambiguous, err := e.lookup(ctx, keyed)
	if err != nil {
		return appendUnknown(results, keyed, errors.Join(cause, err)), nil
	}
	var missing []pendingItem
	for _, p := range keyed {
		switch id, ok := found[p.index]; {
		case ambiguous[p.index]:
			results = append(results, ItemResult{Index: p.index, Status: ItemUnknown,
				Err: fmt.Errorf("b24: another row of the same call has the same dedup key: %w", cause)})
		case ok:
			results = append(results, ItemResult{Index: p.index, Status: ItemImported, ID: id})
		default:
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 && (ctx.Err() != nil || e.stopped()) {
		// Looked up and absent: these rows were not created.
		return append(results, notSent(missing, e.stopCause(ctx))...), nil
	}
	if len(missing) > 0 {
		e.c.log.WarnContext(ctx, "b24: resending rows missing after an unknown outcome",
			"rows", len(missing), "round", round+1)
	}
	return results, missing
}

func appendUnknown(results []ItemResult, rows []pendingItem, cause error) []ItemResult {
	for _, p := range rows {
		results = append(results, ItemResult{Index: p.index, Status: ItemUnknown, Err: cause})
	}
	return results
}

// lookup finds the rows that exist in the portal by their dedup keys, on
// the flight context (an answer already received is settled even after a
// cancel; each of its requests then gets one attempt, so the flight's
// grace bounds them). found maps input index to item id; ambiguous marks
// rows that share a key with another row of the lookup, which no lookup
// can tell apart.
func (e *engine) lookup(ctx context.Context, rows []pendingItem) (found map[int]int64, ambiguous map[int]bool, err error) {
	byKey := make(map[dedup.Key][]int, len(rows))
	keys := make([]dedup.Key, 0, len(rows))
	for _, p := range rows {
		k := p.key.Fold()
		if len(byKey[k]) == 0 {
			keys = append(keys, p.key)
		}
		byKey[k] = append(byKey[k], p.index)
	}
	hits, err := dedup.Find(e.flight, e.lookupLister(ctx.Err() != nil), int(e.et), keys, nil)
	if err != nil {
		return nil, nil, err
	}
	found, ambiguous = map[int]int64{}, map[int]bool{}
	for k, idx := range byKey {
		if len(idx) > 1 {
			for _, i := range idx {
				ambiguous[i] = true
			}
			continue
		}
		if hit, ok := hits[k]; ok {
			found[idx[0]] = hit.ID
		}
	}
	return found, ambiguous, nil
}

// encodeCall builds the request body. An item that cannot be encoded is
// rejected locally instead of failing its neighbours.
func (e *engine) encodeCall(items []pendingItem) (body []byte, sendable []pendingItem, rejected []ItemResult) {
	body = make([]byte, 0, 512*len(items))
	body = append(body, `{"entityTypeId":`...)
	body = strconv.AppendInt(body, int64(e.et), 10)
	body = append(body, `,"data":[`...)
	sendable = items[:0:0]
	for _, p := range items {
		mark := len(body)
		if len(sendable) > 0 {
			body = append(body, ',')
		}
		var err error
		body, err = p.item.appendJSON(body)
		if err != nil {
			body = body[:mark]
			rejected = append(rejected, ItemResult{Index: p.index, Status: ItemRejected,
				Err: &ItemError{Index: p.index, Code: CodeInvalidValue, Description: err.Error()}})
			continue
		}
		sendable = append(sendable, p)
	}
	body = append(body, ']')
	if e.cfg.originalUFNames {
		body = append(body, `,"useOriginalUfNames":"Y"`...)
	}
	body = append(body, '}')
	return body, sendable, rejected
}
