package b24

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// maxBatchCommands is the most commands one batch request runs.
const maxBatchCommands = 50

// packTimeTarget is the server time a packed request aims at: a third of
// the portal's 60 s cut-off, so a slow moment cannot push it over.
const packTimeTarget = 20.0

// WithPacking sets how many crm.item.batchImport calls may travel inside
// one batch request, which costs a single unit of the portal's request
// bucket. 0 (the default) packs automatically, and only when the request
// rate is the binding limit; 1 never packs; 2..50 packs up to n calls. The
// pack shrinks as measured server time grows, so a request stays well
// under the portal's 60 s cut-off. Inside a batch the values travel form
// encoded: booleans in Fields become Y/N and empty lists are left out; a
// call whose values contain batch placeholder text ("$result[") or that
// would need more than 900 form variables is sent on its own instead.
func WithPacking(n int) ImportOption {
	return func(c *importConfig) error {
		if n < 0 || n > maxBatchCommands {
			return invalidInput("WithPacking: %d is outside 0..%d", n, maxBatchCommands)
		}
		c.packing = n
		return nil
	}
}

// observeCost folds the server time of a call of n rows into the average
// cost of a full call.
func (e *engine) observeCost(seconds float64, n int) {
	if seconds <= 0 || n <= 0 {
		return
	}
	full := seconds * float64(e.cfg.chunkSize) / float64(n)
	e.costMu.Lock()
	if e.cmdCost == 0 {
		e.cmdCost = full
	} else {
		e.cmdCost = 0.8*e.cmdCost + 0.2*full
	}
	e.costMu.Unlock()
}

func (e *engine) callCost() float64 {
	e.costMu.Lock()
	defer e.costMu.Unlock()
	return e.cmdCost
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
	if cost <= 0 || e.c.rate <= 0 || e.c.opRate <= 0 {
		return 1 // measure a few plain calls first
	}
	reqCeiling := e.c.rate * float64(e.cfg.chunkSize)         // items/s
	opCeiling := e.c.opRate * float64(e.cfg.chunkSize) / cost // items/s
	if opCeiling <= reqCeiling*1.05 {
		return 1 // operating time binds: packing would not help
	}
	return min(n, max(2, int(math.Ceil(opCeiling/reqCeiling*1.25))))
}

// importUnit imports one dispatched unit.
func (e *engine) importUnit(ctx, flight context.Context, unit []chunk) []ItemResult {
	if len(unit) == 1 {
		return e.importChunk(ctx, flight, unit[0].items)
	}
	return e.importPack(ctx, flight, unit)
}

// batchAnswer is the result member of a batch answer. Sections the portal
// leaves empty arrive as [] and are read as empty.
type batchAnswer struct {
	Result      map[string]json.RawMessage
	ResultError map[string]struct {
		Error            flexString `json:"error"`
		ErrorDescription flexString `json:"error_description"`
	}
	ResultTime map[string]*ResponseTime
}

func decodeBatchAnswer(raw json.RawMessage) (*batchAnswer, error) {
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sections); err != nil {
		return nil, err
	}
	var a batchAnswer
	for name, dst := range map[string]any{"result": &a.Result, "result_error": &a.ResultError, "result_time": &a.ResultTime} {
		sec := sections[name]
		if len(sec) == 0 || isEmptyPHPArray(sec) || string(sec) == "null" {
			continue
		}
		if err := json.Unmarshal(sec, dst); err != nil {
			return nil, err
		}
	}
	return &a, nil
}

// batchTime reports a packed request to the operating budget: the reading
// of the latest window position and, within it, the largest (commands run
// one after another and their finish stamps can tie), and the commands'
// total server time as the cost.
func batchTime(env *envelope) *ResponseTime {
	a, err := decodeBatchAnswer(env.Result)
	if err != nil || len(a.ResultTime) == 0 {
		return env.Time
	}
	var t ResponseTime
	total := 0.0
	for _, rt := range a.ResultTime {
		if rt == nil {
			continue
		}
		total += rt.Processing
		if !rt.HasOperating {
			continue
		}
		newer := rt.OperatingResetAt.After(t.OperatingResetAt)
		same := rt.OperatingResetAt.Equal(t.OperatingResetAt)
		if !t.HasOperating || newer || same && (rt.Operating > t.Operating || rt.Operating == t.Operating && rt.Finish > t.Finish) {
			t = *rt
		}
	}
	t.Processing = total
	return &t
}

// batchBlocked reports whether the portal refused a command of a packed
// request with OPERATION_TIME_LIMIT, so the budget holds the method.
func batchBlocked(env *envelope) bool {
	a, err := decodeBatchAnswer(env.Result)
	if err != nil {
		return false
	}
	for _, ce := range a.ResultError {
		if strings.EqualFold(string(ce.Error), CodeOperationTimeLimit) {
			return true
		}
	}
	return false
}

// importPack sends several chunks as commands of one batch request and
// settles every row with the same rules as a plain call. History packs run
// with halt=1, so a failed command stops the ones after it and the rows
// keep their order.
func (e *engine) importPack(ctx, flight context.Context, unit []chunk) []ItemResult {
	history := unit[0].history
	cmds := make(map[string]string, len(unit))
	var packed, plain []chunk
	for i, ch := range unit {
		cmd, err := encodeImportCommand(e.et, ch.items, e.cfg.originalUFNames)
		if err != nil {
			plain = append(plain, ch)
			continue
		}
		ch.cmdID = "c" + strconv.Itoa(i) // never numeric: PHP would turn the sections into lists
		cmds[ch.cmdID] = cmd
		packed = append(packed, ch)
	}
	var results []ItemResult
	if len(packed) < 2 || (history && len(plain) > 0) {
		for _, ch := range unit {
			results = append(results, e.importChunk(ctx, flight, ch.items)...)
		}
		return results
	}
	if ctx.Err() != nil || e.stopped() {
		for _, ch := range unit {
			results = append(results, notSent(ch.items, e.stopCause(ctx))...)
		}
		return results
	}
	halt := 0
	if history {
		halt = 1
	}
	params := map[string]any{"halt": halt, "cmd": cmds}
	// The request weighs as many calls on the budget as it carries.
	env, err := e.c.doFlight(withCallWeight(ctx, len(packed)), flight, "batch", params,
		callOpts{budgetMethod: "crm.item.batchImport", timeOf: batchTime, blockedOf: batchBlocked})
	if err != nil {
		results = e.settleFailedPack(ctx, flight, packed, err, results)
	} else {
		results = e.settlePack(ctx, flight, env, packed, history, results)
	}
	for _, ch := range plain {
		results = append(results, e.importChunk(ctx, flight, ch.items)...)
	}
	return results
}

// settleFailedPack handles a batch request that failed as a whole.
func (e *engine) settleFailedPack(ctx, flight context.Context, packed []chunk, err error, results []ItemResult) []ItemResult {
	switch classifyCallError(err) {
	case failStop:
		e.stop(err)
		for _, ch := range packed {
			results = append(results, notSent(ch.items, err)...)
		}
	case failUnknown:
		for _, ch := range packed {
			var again []pendingItem
			results, again = e.reconcile(ctx, flight, ch.items, err, results, 0)
			results = e.continueChunk(ctx, flight, again, results, 1)
		}
	default:
		// Not executed (or refused as a whole): each call on its own.
		for _, ch := range packed {
			results = append(results, e.importChunk(ctx, flight, ch.items)...)
		}
	}
	return results
}

// settlePack maps a batch answer back to the rows of each command.
func (e *engine) settlePack(ctx, flight context.Context, env *envelope, packed []chunk, history bool, results []ItemResult) []ItemResult {
	a, err := decodeBatchAnswer(env.Result)
	if err != nil {
		cause := &OutcomeUnknownError{Method: "batch", Err: errors.New("b24: unreadable batch answer")}
		return e.settleFailedPack(ctx, flight, packed, cause, results)
	}
	halted := false
	for _, ch := range packed {
		id := ch.cmdID
		if rt := a.ResultTime[id]; rt != nil {
			e.observeCost(rt.Processing, len(ch.items))
		}
		if raw, ok := a.Result[id]; ok {
			var again []pendingItem
			results, again = e.mapAnswer(flight, &envelope{Result: raw}, ch.items, results, 0)
			results = e.continueChunk(ctx, flight, again, results, 1)
			continue
		}
		if ce, ok := a.ResultError[id]; ok {
			halted = halted || history
			apiErr := &APIError{StatusCode: 200, Code: string(ce.Error), Description: string(ce.ErrorDescription), Method: "crm.item.batchImport"}
			results = e.settleFailedCommand(ctx, flight, ch, apiErr, results)
			continue
		}
		if halted {
			// Stopped by halt=1 after an earlier command failed: never run.
			results = append(results, e.importChunk(ctx, flight, ch.items)...)
			continue
		}
		cause := &OutcomeUnknownError{Method: "batch", Err: errors.New("b24: the batch answer has no result for a command")}
		var again []pendingItem
		results, again = e.reconcile(ctx, flight, ch.items, cause, results, 0)
		results = e.continueChunk(ctx, flight, again, results, 1)
	}
	return results
}

// settleFailedCommand applies the plain-call rules to one failed command.
func (e *engine) settleFailedCommand(ctx, flight context.Context, ch chunk, apiErr *APIError, results []ItemResult) []ItemResult {
	switch classifyCallError(apiErr) {
	case failStop:
		e.stop(apiErr)
		return append(results, notSent(ch.items, apiErr)...)
	case failNotSent:
		// Refused before running (operation time limit): send it again on
		// its own, through the retries and the budget.
		return append(results, e.importChunk(ctx, flight, ch.items)...)
	case failRejectAll:
		for _, p := range ch.items {
			results = append(results, ItemResult{Index: p.index, Status: ItemRejected,
				Err: &ItemError{Index: p.index, Code: apiErr.Code, Description: apiErr.Description}})
		}
		return results
	}
	var again []pendingItem
	results, again = e.reconcile(ctx, flight, ch.items, &OutcomeUnknownError{Method: apiErr.Method, Err: apiErr}, results, 0)
	return e.continueChunk(ctx, flight, again, results, 1)
}
