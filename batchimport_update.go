package b24

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const methodUpdate = "crm.item.update"

// updateJob is what the update of one row sends.
type updateJob struct {
	target  int64
	fields  map[string]any // the fields to send, as decoded JSON
	planned bool           // fields are final; else they are planned here, reading the item first if needed
	compare bool           // leave out what the portal already holds (an upsert)
}

// idempotent reports whether sending the job twice leaves the item as
// sending it once: it adds no multifield value.
func (j *updateJob) idempotent() bool {
	ops, _ := j.fields["fm"].(map[string]any)
	for k := range ops {
		if strings.HasPrefix(k, "n") {
			return false
		}
	}
	return true
}

// updatePackSize is how many updates the next request carries: as many
// as fit the pack's time target once their cost is known, 10 at first; 1
// when packing is off.
func (e *engine) updatePackSize() int {
	n := e.cfg.packing
	switch n {
	case 1:
		return 1
	case 0:
		n = maxBatchCommands
	}
	e.costMu.Lock()
	cost := e.updCost
	e.costMu.Unlock()
	if cost <= 0 {
		return min(n, 10)
	}
	return min(n, max(1, int(packTimeTarget/cost)))
}

func (e *engine) observeUpdateCost(seconds float64) {
	if seconds <= 0 {
		return
	}
	e.costMu.Lock()
	foldCost(&e.updCost, seconds)
	e.costMu.Unlock()
}

// updateRows plans and sends the updates of rows: one plain call, or one
// batch request of up to 50 commands, and settles each row.
func (e *engine) updateRows(ctx context.Context, rows []pendingItem) []ItemResult {
	results := make([]ItemResult, 0, len(rows))
	rows, results = e.planRows(ctx, rows, results)
	if len(rows) == 0 {
		return results
	}
	if ctx.Err() != nil || e.stopped() {
		return append(results, notSent(rows, e.stopCause(ctx))...)
	}
	if len(rows) == 1 || e.cfg.packing == 1 {
		for _, p := range rows {
			results = append(results, e.updateOne(ctx, p))
		}
		return results
	}
	return append(results, e.updatePacked(ctx, rows)...)
}

// planRows settles what each row sends. Rows whose multifields must be
// compared with the item's are read first (several gets in one batch);
// rows left with nothing to send end here.
func (e *engine) planRows(ctx context.Context, rows []pendingItem, results []ItemResult) ([]pendingItem, []ItemResult) {
	var ready, unread []pendingItem
	for _, p := range rows {
		j := p.upd
		if !j.planned {
			fields, needFM, err := planUpdate(p.item, nil, false)
			if err != nil {
				results = append(results, rejectedRow(p, CodeInvalidValue, err.Error()))
				continue
			}
			if needFM || j.compare {
				unread = append(unread, p)
				continue
			}
			j.fields, j.planned = fields, true
		}
		ready = append(ready, p)
	}
	if len(unread) > 0 {
		ids := make([]int64, len(unread))
		for i, p := range unread {
			ids[i] = p.upd.target
		}
		items, errs := e.readItems(ctx, ids)
		for _, p := range unread {
			j := p.upd
			cur, ok := items[j.target]
			if !ok {
				err := errs[j.target]
				if errors.Is(err, ErrNotFound) {
					results = append(results, rejectedRow(p, "NOT_FOUND", "item "+strconv.FormatInt(j.target, 10)+" does not exist"))
				} else {
					results = append(results, ItemResult{Index: p.index, Status: ItemNotSent, Err: err})
				}
				continue
			}
			fields, _, err := planUpdate(p.item, cur, j.compare)
			if err != nil {
				results = append(results, rejectedRow(p, CodeInvalidValue, err.Error()))
				continue
			}
			j.fields, j.planned = fields, true
			ready = append(ready, p)
		}
	}
	var send []pendingItem
	for _, p := range ready {
		if len(p.upd.fields) > 0 {
			send = append(send, p)
			continue
		}
		if p.upd.compare {
			// The portal holds every value already: nothing to write.
			results = append(results, ItemResult{Index: p.index, Status: ItemImported, ID: p.upd.target, Action: ActionFound})
			continue
		}
		results = append(results, rejectedRow(p, CodeInvalidValue, "the item sets no field to update"))
	}
	return send, results
}

func rejectedRow(p pendingItem, code, desc string) ItemResult {
	return ItemResult{Index: p.index, Status: ItemRejected, Err: &ItemError{Index: p.index, Code: code, Description: desc}}
}

// readItems reads items by id with crm.item.get, several in one batch
// request. An id without an item has its error in errs.
func (e *engine) readItems(ctx context.Context, ids []int64) (map[int64]*portalItem, map[int64]error) {
	items := make(map[int64]*portalItem, len(ids))
	errs := map[int64]error{}
	for start := 0; start < len(ids); start += maxBatchCommands {
		part := ids[start:min(start+maxBatchCommands, len(ids))]
		if len(part) == 1 {
			p, err := getPortalItem(ctx, e.c, e.et, part[0])
			if err != nil {
				errs[part[0]] = err
			} else {
				items[part[0]] = p
			}
			continue
		}
		lines := make([]batchLine, len(part))
		for i, id := range part {
			lines[i] = batchLine{id: "g" + strconv.Itoa(i), method: "crm.item.get",
				line: "crm.item.get?entityTypeId=" + strconv.Itoa(int(e.et)) + "&id=" + strconv.FormatInt(id, 10)}
		}
		a, err := e.c.runBatch(ctx, lines, batchRequest{})
		if err != nil {
			for _, id := range part {
				errs[id] = err
			}
			continue
		}
		failed := false
		for i, l := range lines {
			r := lineOutcome(a, l, false, &failed)
			var res struct {
				Item json.RawMessage `json:"item"`
			}
			if err := r.Decode(&res); err != nil {
				errs[part[i]] = err
				continue
			}
			p, err := decodePortalItem(res.Item)
			if err != nil {
				errs[part[i]] = err
				continue
			}
			items[part[i]] = p
		}
	}
	return items, errs
}

// updateBody is the JSON body of one crm.item.update call.
func (e *engine) updateBody(j *updateJob) ([]byte, error) {
	p := map[string]any{"entityTypeId": int(e.et), "id": j.target, "fields": j.fields}
	if e.cfg.originalUFNames {
		p["useOriginalUfNames"] = "Y"
	}
	return json.Marshal(p)
}

// updateOne sends one row's update as a plain call.
func (e *engine) updateOne(ctx context.Context, p pendingItem) ItemResult {
	body, err := e.updateBody(p.upd)
	if err != nil {
		return rejectedRow(p, CodeInvalidValue, err.Error())
	}
	req := &request{method: methodUpdate, body: body, read: p.upd.idempotent(), flight: e.flight,
		budgetMethod: methodUpdate, weight: 1}
	env, err := e.c.do(ctx, req)
	if err == nil {
		if env.Time != nil {
			e.observeUpdateCost(env.Time.Processing)
		}
		return ItemResult{Index: p.index, Status: ItemImported, ID: p.upd.target, Action: ActionUpdated}
	}
	r, _ := e.updateFailure(p, err, false)
	return r
}

// updatePacked sends rows' updates as the commands of one batch request.
func (e *engine) updatePacked(ctx context.Context, rows []pendingItem) []ItemResult {
	results := make([]ItemResult, 0, len(rows))
	var lines []batchLine
	var packed []pendingItem
	idempotent := true
	for i, p := range rows {
		params := map[string]any{"entityTypeId": int(e.et), "id": p.upd.target, "fields": p.upd.fields}
		if e.cfg.originalUFNames {
			params["useOriginalUfNames"] = "Y"
		}
		line, err := encodeReadCommand(methodUpdate, params)
		if err != nil {
			results = append(results, e.updateOne(ctx, p)) // values a batch would alter travel alone
			continue
		}
		lines = append(lines, batchLine{id: "u" + strconv.Itoa(i), method: methodUpdate, line: line})
		packed = append(packed, p)
		idempotent = idempotent && p.upd.idempotent()
	}
	if len(packed) == 0 {
		return results
	}
	a, err := e.c.runBatch(ctx, lines, batchRequest{flight: e.flight, idempotent: idempotent})
	if err != nil {
		for _, p := range packed {
			r, again := e.updateFailure(p, err, true)
			if again {
				r = e.updateOne(ctx, p)
			}
			results = append(results, r)
		}
		return results
	}
	failed := false
	for i, l := range lines {
		p := packed[i]
		r := lineOutcome(a, l, false, &failed)
		if r.Time != nil {
			e.observeUpdateCost(r.Time.Processing)
		}
		if r.Err == nil {
			results = append(results, ItemResult{Index: p.index, Status: ItemImported, ID: p.upd.target, Action: ActionUpdated})
			continue
		}
		res, again := e.updateFailure(p, r.Err, true)
		if again {
			res = e.updateOne(ctx, p)
		}
		results = append(results, res)
	}
	return results
}

// updateFailure turns a failed update into the row's result. again reports
// that the row may be sent once more on its own: a command refused before
// it ran, or (idempotent updates) one whose outcome is unknown. The
// portal's refusals of this item (no such item, no right to change it, a
// value it does not accept) reject the row; credentials and the like stop
// the import.
func (e *engine) updateFailure(p pendingItem, err error, packed bool) (r ItemResult, again bool) {
	var api *APIError
	if errors.As(err, &api) && api.StatusCode < 500 && !strings.EqualFold(api.Code, "ERROR_CORE") {
		switch s := sentinelForCode(api.Code); {
		case s == ErrNotFound, s == ErrAccessDenied && api.StatusCode != 401 && api.StatusCode != 403,
			s == nil && classOf(api) != classRefused:
			return ItemResult{Index: p.index, Status: ItemRejected,
				Err: &ItemError{Index: p.index, Code: api.Code, Description: api.Description}}, false
		}
	}
	switch classOf(err) {
	case classStop:
		return ItemResult{Index: p.index, Status: ItemNotSent, Err: e.stop(err)}, false
	case classRefused:
		if packed {
			return ItemResult{}, true
		}
		return ItemResult{Index: p.index, Status: ItemNotSent, Err: err}, false
	case classRejected:
		if packed {
			return ItemResult{}, true
		}
		return rejectedRow(p, errorCode(err), err.Error()), false
	}
	if packed && p.upd.idempotent() {
		return ItemResult{}, true
	}
	if !errors.Is(err, ErrOutcomeUnknown) {
		err = &OutcomeUnknownError{Method: methodUpdate, Err: err}
	}
	return ItemResult{Index: p.index, Status: ItemUnknown, Err: err}, false
}

// getPortalItem reads one item with crm.item.get, keeping what an update
// needs (the multifield ids).
func getPortalItem(ctx context.Context, c *Client, et EntityTypeID, id int64) (*portalItem, error) {
	var res struct {
		Item json.RawMessage `json:"item"`
	}
	if err := c.Call(ctx, "crm.item.get", map[string]any{"entityTypeId": int(et), "id": id}, &res); err != nil {
		return nil, err
	}
	p, err := decodePortalItem(res.Item)
	if err != nil {
		return nil, fmt.Errorf("b24: crm.item.get: %w", err)
	}
	return p, nil
}
