package b24

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// preSaveCodes are per-item codes the portal reports before saving the
// item. Any other per-item error on an item with a dedup key is checked
// with a lookup, because after-save steps can report an error for an item
// that exists.
var preSaveCodes = map[string]bool{
	"CRM_FIELD_ERROR_REQUIRED":               true,
	"CRM_FIELD_ERROR_VALUE_NOT_VALID":        true,
	"CRM_FIELD_ERROR_VALUE_NOT_UNIQUE":       true,
	"CRM_FIELD_ERROR_CATEGORY_NOT_AVAILABLE": true,
	"ACCESS_DENIED":                          true,
	"CRM_ITEM_IMPORT_ACCESS_DENIED":          true,
	"CRM_ITEM_ADD_ACCESS_DENIED":             true,
	"CREATE_DYNAMIC_ITEM_RESTRICTED":         true,
	"NOT_FOUND":                              true,
}

// callFailure is how the engine treats a failed call.
type callFailure int

const (
	failUnknown   callFailure = iota // may have executed, wholly or in part
	failNotSent                      // not executed; the rows may be sent again later
	failRejectAll                    // definitive refusal of this call's rows
	failStop                         // can never succeed: stop the import
)

// stopSentinels are errors after which no further call can succeed.
var stopSentinels = []error{
	ErrInvalidCredentials, ErrAccessDenied, ErrNotFound, ErrMethodNotFound,
	ErrPortalMoved, ErrInvalidGrant, ErrInvalidClient, ErrTokenExpired,
	ErrBatchTooLarge, ErrInvalidInput, ErrResponseTooLarge,
}

// classifyCallError sorts a failed batchImport call.
func classifyCallError(err error) callFailure {
	if errors.Is(err, ErrOutcomeUnknown) {
		return failUnknown
	}
	for _, s := range stopSentinels {
		if errors.Is(err, s) {
			return failStop
		}
	}
	var api *APIError
	if errors.As(err, &api) {
		switch {
		case api.refusedBeforeExecution():
			return failNotSent
		case api.Code == "100":
			return failRejectAll // the parameter binder refused the request as a whole
		}
		// Any other answer may come from an item that threw after earlier
		// items of the call were saved.
		return failUnknown
	}
	var te *TokenError
	if errors.As(err, &te) {
		return failStop
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return failNotSent
	}
	// Not delivered even after the retries: the portal is unreachable.
	return failStop
}

// importChunk sends items (one call, plus resends of rows found missing
// after an unknown outcome) and returns one result per item.
func (e *engine) importChunk(ctx, flight context.Context, items []pendingItem) []ItemResult {
	return e.continueChunk(ctx, flight, items, make([]ItemResult, 0, len(items)), 0)
}

// continueChunk sends pending as plain calls, starting at round, until
// every row has a result.
func (e *engine) continueChunk(ctx, flight context.Context, pending []pendingItem, results []ItemResult, round int) []ItemResult {
	for ; len(pending) > 0; round++ {
		if ctx.Err() != nil || e.stopped() {
			return append(results, notSent(pending, e.stopCause(ctx))...)
		}
		body, sendable, rejected := e.encodeCall(pending)
		results = append(results, rejected...)
		if len(sendable) == 0 {
			return results
		}
		pending = sendable
		env, err := e.c.doFlight(ctx, flight, "crm.item.batchImport", trustedJSON(body), callOpts{})
		if err == nil {
			if env.Time != nil {
				e.observeCost(env.Time.Processing, len(pending))
			}
			var again []pendingItem
			results, again = e.mapAnswer(flight, env, pending, results, round)
			pending = again
			continue
		}
		switch classifyCallError(err) {
		case failStop:
			e.stop(err)
			return append(results, notSent(pending, err)...)
		case failNotSent:
			return append(results, notSent(pending, err)...)
		case failRejectAll:
			var api *APIError
			errors.As(err, &api)
			for _, p := range pending {
				results = append(results, ItemResult{Index: p.index, Status: ItemRejected,
					Err: &ItemError{Index: p.index, Code: api.Code, Description: api.Description}})
			}
			return results
		}
		var again []pendingItem
		results, again = e.reconcile(ctx, flight, pending, err, results, round)
		pending = again
	}
	return results
}

// reconcile settles the rows of a call whose outcome is unknown: rows with
// a dedup key are looked up (found: imported; missing: returned to be sent
// again), rows without one end unknown.
func (e *engine) reconcile(ctx, flight context.Context, pending []pendingItem, cause error, results []ItemResult, round int) ([]ItemResult, []pendingItem) {
	var keyed []pendingItem
	for _, p := range pending {
		if p.key.ok {
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
	found, ambiguous, err := e.lookup(flight, keyed)
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

func appendUnknown(results []ItemResult, items []pendingItem, cause error) []ItemResult {
	for _, p := range items {
		results = append(results, ItemResult{Index: p.index, Status: ItemUnknown, Err: cause})
	}
	return results
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

// importAnswer is one entry of result.items.
type importAnswer struct {
	Item *struct {
		ID flexInt `json:"id"`
	} `json:"item"`
	Error            flexString `json:"error"`
	ErrorDescription flexString `json:"error_description"`
}

// decodeAnswers reads result.items, a JSON array in input order or an
// object keyed by position.
func decodeAnswers(raw json.RawMessage, n int) ([]*importAnswer, error) {
	var res struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	out := make([]*importAnswer, n)
	items := bytes.TrimSpace(res.Items)
	switch {
	case len(items) == 0 || string(items) == "null":
		return out, nil
	case items[0] == '[':
		var list []*importAnswer
		if err := json.Unmarshal(items, &list); err != nil {
			return nil, err
		}
		copy(out, list)
	case items[0] == '{':
		var m map[string]*importAnswer
		if err := json.Unmarshal(items, &m); err != nil {
			return nil, err
		}
		for k, a := range m {
			if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < n {
				out[i] = a
			}
		}
	default:
		return nil, fmt.Errorf("result.items is neither a list nor an object")
	}
	return out, nil
}

// mapAnswer turns a successful answer into results. Rows without an answer
// and keyed rows with a suspicious per-item error are looked up; rows
// found missing are returned to be sent again.
func (e *engine) mapAnswer(flight context.Context, env *envelope, pending []pendingItem, results []ItemResult, round int) ([]ItemResult, []pendingItem) {
	answers, err := decodeAnswers(env.Result, len(pending))
	if err != nil {
		cause := &OutcomeUnknownError{Method: "crm.item.batchImport", Err: fmt.Errorf("b24: unreadable answer: %w", err)}
		return e.reconcile(flight, flight, pending, cause, results, round)
	}
	var (
		unanswered []pendingItem
		verify     []pendingItem
		verifyErr  = map[int]*ItemError{}
	)
	for i, p := range pending {
		a := answers[i]
		switch {
		case a == nil || (a.Item == nil && a.Error == ""):
			unanswered = append(unanswered, p)
		case a.Error == "" && a.Item.ID > 0:
			results = append(results, ItemResult{Index: p.index, Status: ItemImported, ID: int64(a.Item.ID)})
		case a.Error == "":
			unanswered = append(unanswered, p) // an item answer without an id
		default:
			ie := &ItemError{Index: p.index, Code: string(a.Error), Description: string(a.ErrorDescription)}
			if p.key.ok && !preSaveCodes[strings.ToUpper(ie.Code)] {
				verify = append(verify, p)
				verifyErr[p.index] = ie
				continue
			}
			results = append(results, ItemResult{Index: p.index, Status: ItemRejected, Err: ie})
		}
	}
	if len(verify) > 0 {
		found, _, lerr := e.lookup(flight, verify)
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
	cause := &OutcomeUnknownError{Method: "crm.item.batchImport", Err: errors.New("b24: the answer has no result for some rows")}
	return e.reconcile(flight, flight, unanswered, cause, results, round)
}

// lookup finds the items that exist in the portal by their dedup keys.
// found maps input index to item id; ambiguous marks input rows that share
// a key with another row of the same lookup, which no lookup can tell apart.
func (e *engine) lookup(ctx context.Context, items []pendingItem) (found map[int]int64, ambiguous map[int]bool, err error) {
	found, ambiguous = map[int]int64{}, map[int]bool{}
	byKey := map[string][]int{}
	groups := map[string][]string{} // originatorId (or "" for xmlId) → keys
	useXML := items[0].key.xmlID != ""
	for _, p := range items {
		k := p.key.xmlID
		group := ""
		if !useXML {
			k = p.key.originatorID + "\x00" + p.key.originID
			group = p.key.originatorID
		}
		if len(byKey[k]) == 0 {
			if useXML {
				groups[group] = append(groups[group], p.key.xmlID)
			} else {
				groups[group] = append(groups[group], p.key.originID)
			}
		}
		byKey[k] = append(byKey[k], p.index)
	}
	for k, idx := range byKey {
		if len(idx) > 1 {
			for _, i := range idx {
				ambiguous[i] = true
			}
			delete(byKey, k)
		}
	}
	groupNames := make([]string, 0, len(groups))
	for g := range groups {
		groupNames = append(groupNames, g)
	}
	sort.Strings(groupNames)
	for _, g := range groupNames {
		filter := map[string]any{}
		sel := []string{"id", "xmlId"}
		if useXML {
			filter["@xmlId"] = groups[g]
		} else {
			filter["=originatorId"] = g
			filter["@originId"] = groups[g]
			sel = []string{"id", "originatorId", "originId"}
		}
		for start := int64(0); ; {
			params := map[string]any{"entityTypeId": int(e.et), "select": sel, "filter": filter,
				"order": map[string]string{"id": "ASC"}, "start": start}
			env, err := e.c.do(ctx, "crm.item.list", params)
			if err != nil {
				return nil, nil, fmt.Errorf("b24: looking up dedup keys: %w", err)
			}
			var page struct {
				Items []struct {
					ID           flexInt    `json:"id"`
					OriginatorID flexString `json:"originatorId"`
					OriginID     flexString `json:"originId"`
					XMLID        flexString `json:"xmlId"`
				} `json:"items"`
			}
			if err := decodeResult(env.Result, &page); err != nil {
				return nil, nil, fmt.Errorf("b24: looking up dedup keys: unreadable answer: %w", err)
			}
			for _, it := range page.Items {
				k := string(it.XMLID)
				if !useXML {
					k = string(it.OriginatorID) + "\x00" + string(it.OriginID)
				}
				for _, i := range byKey[k] {
					if old, ok := found[i]; !ok || int64(it.ID) < old {
						found[i] = int64(it.ID) // the oldest copy is the one to keep
					}
				}
			}
			if env.Next == nil || int64(*env.Next) <= start {
				break
			}
			start = int64(*env.Next)
		}
	}
	return found, ambiguous, nil
}
