package b24

import (
	"context"
	"errors"
	"strconv"

	"github.com/b24kit/b24/internal/phpquery"
	"github.com/b24kit/b24/internal/wire"
)

// importPack sends several chunks as commands of one batch request and
// hands each command's outcome to [engine.settle], which applies the same
// rules as to a plain call. History packs run with halt=1, so a failed
// command stops the ones after it and the rows keep their order.
func (e *engine) importPack(ctx context.Context, unit []chunk) []ItemResult {
	history := unit[0].history
	var packed, plain []chunk
	// The commands are encoded straight into the request's body, sized by
	// the last one's.
	body := appendBatchHead(make([]byte, 0, e.bodyHint.Load()*9/8+512), history)
	for i, ch := range unit {
		ch.cmdID = "c" + strconv.Itoa(i) // never numeric: PHP would turn the sections into lists
		var err error
		body, err = appendBatchCommand(body, len(packed) == 0, ch.cmdID, func(b []byte) ([]byte, error) {
			return appendImportCommand(b, e.et, ch.items, e.cfg.originalUFNames)
		})
		if err != nil {
			plain = append(plain, ch)
			continue
		}
		packed = append(packed, ch)
	}
	body = appendBatchTail(body)
	e.bodyHint.Store(int64(len(body)))
	var results []ItemResult
	if len(packed) < 2 || (history && len(plain) > 0) {
		for _, ch := range unit {
			results = append(results, e.importRows(ctx, ch.items)...)
		}
		return results
	}
	if ctx.Err() != nil || e.stopped() {
		for _, ch := range unit {
			results = append(results, notSent(ch.items, e.stopCause(ctx))...)
		}
		return results
	}
	// The commands run in order (history needs it, with halt=1), and the
	// request weighs as many calls on the budget as it carries.
	req := &request{method: "batch", body: body}
	req.flight, req.budgetMethod, req.weight = e.flight, methodBatchImport, len(packed)
	req.timeOf, req.blockedOf = batchTime, batchBlocked // the answer is decoded once (Envelope.Batch)
	req.observe = e.observer()
	var calls [][]pendingItem
	for _, ch := range packed {
		calls = append(calls, ch.items)
	}
	req.onSend = e.sendHook(calls...)
	env, err := e.c.do(ctx, req)
	var answer *wire.BatchAnswer
	if err == nil {
		if answer, err = env.Batch(); err != nil {
			err = &OutcomeUnknownError{Method: "batch", Err: errors.New("b24: unreadable batch answer")}
		}
	}
	halted := false
	for _, ch := range packed {
		out := &callOutcome{err: err, from: fromBatch, sent: req.sent}
		if err == nil {
			out = e.commandOutcome(answer, ch, history, &halted)
		}
		results = append(results, e.settle(ctx, ch.items, out)...)
	}
	for _, ch := range plain {
		results = append(results, e.importRows(ctx, ch.items)...)
	}
	return results
}

// commandOutcome is what became of one command of a batch answer. With
// halt=1 a failed command stops the ones after it: they did not run.
func (e *engine) commandOutcome(a *wire.BatchAnswer, ch chunk, history bool, halted *bool) *callOutcome {
	id := ch.cmdID
	if rt := a.ResultTime[id]; rt != nil {
		e.observeCost(rt.Processing, len(ch.items))
	}
	if raw, ok := a.Result[id]; ok {
		return &callOutcome{result: raw, from: fromCommand}
	}
	if ce, ok := a.ResultError[id]; ok {
		*halted = *halted || history
		secrets := e.c.creds.secrets()
		return &callOutcome{from: fromCommand, err: &APIError{StatusCode: 200, Code: portalText(string(ce.Error), maxCodeLen, secrets),
			Description: portalText(string(ce.ErrorDescription), maxDescriptionLen, secrets), Method: methodBatchImport}}
	}
	if *halted {
		return &callOutcome{from: fromCommand, err: &notRunError{method: methodBatchImport}}
	}
	return &callOutcome{from: fromCommand, err: &OutcomeUnknownError{Method: "batch",
		Err: errors.New("b24: the batch answer has no result for a command")}}
}

// encodeImportCommand renders one crm.item.batchImport call as a batch
// command string. It fails with phpquery.ErrNotPackable when an item holds batch
// placeholder text or the command would pass phpquery.MaxCommandVars.
func encodeImportCommand(et EntityTypeID, items []pendingItem, originalUFNames bool) (string, error) {
	buf, err := appendImportCommand(nil, et, items, originalUFNames)
	return string(buf), err
}

// appendImportCommand appends the command of encodeImportCommand to buf,
// so that the commands of one request share a scratch buffer.
func appendImportCommand(buf []byte, et EntityTypeID, items []pendingItem, originalUFNames bool) ([]byte, error) {
	buf = append(buf, "crm.item.batchImport?entityTypeId="...)
	buf = strconv.AppendInt(buf, int64(et), 10)
	if originalUFNames {
		buf = append(buf, "&useOriginalUfNames=Y"...)
	}
	data := newBracketItems("data")
	for i := range items {
		before := data.vars()
		var err error
		if buf, err = data.appendItem(buf, i, items[i].item); err != nil {
			return buf, phpquery.ErrNotPackable
		}
		// An item with no pairs would vanish from data and shift the
		// answers of the items after it.
		if data.vars() == before || data.vars() > phpquery.MaxCommandVars {
			return buf, phpquery.ErrNotPackable
		}
	}
	return buf, nil
}
