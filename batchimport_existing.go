package b24

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/b24kit/b24/internal/dedup"
	"github.com/b24kit/b24/internal/phpquery"
)

// Existing says what an import does with a row whose dedup key
// (OriginatorID+OriginID, or XMLID) is already in the portal.
type Existing int

// What an import does with rows already in the portal.
const (
	// ExistingSkip leaves them as they are: they end ItemImported with
	// the id of the item found and ActionFound. Only the rest is created,
	// so a second run of the same input creates nothing. The default for
	// every row with a dedup key.
	ExistingSkip Existing = iota + 1
	// ExistingUpdate is an upsert: a found row is compared with what the
	// portal holds, as the portal normalises values (numbers, amounts to
	// the cent, Y/N, dates, id lists as sets, multifields by value and
	// type); the fields that differ are sent with crm.item.update
	// (ActionUpdated), and a row whose fields all hold their values
	// already is left alone (ActionFound), so a nightly sync writes only
	// what changed. History fields (CreatedTime, ...) are import-only: a
	// found row keeps the portal's.
	ExistingUpdate
	// ExistingCreate creates every row without looking first, as imports
	// did before there was a choice: for rows known to be new. Rows in
	// doubt after a failure are still looked up by key.
	ExistingCreate
)

// String names the mode: "skip", "update" or "create".
func (x Existing) String() string {
	switch x {
	case ExistingSkip:
		return "skip"
	case ExistingUpdate:
		return "update"
	case ExistingCreate:
		return "create"
	}
	return "existing(" + strconv.Itoa(int(x)) + ")"
}

// WithExisting sets what an import does with rows whose dedup key is
// already in the portal. The default is [ExistingSkip] for every row that
// has a key; rows without one can only be created. Keys are looked up
// before anything is sent, up to 2,500 at a time in one batch request
// (50 crm.item.list filters of 50 keys), so a re-run of keyed rows costs
// about one request per 2,500 rows and creates nothing.
//
// Before its first lookup an import asks whether the portal holds any
// item of each originatorId it meets (for xmlId keys: any item of the
// type). Rows of an originator the portal held nothing of are not looked
// up at all, so a first import pays that one small request instead of one
// per 2,500 rows. Like every lookup this sees the portal at the moment it
// asks: rows another import creates meanwhile with the same keys are not
// seen, so run imports of overlapping inputs one after the other.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-list.html
func WithExisting(x Existing) ImportOption {
	return func(c *importConfig) error {
		if x < ExistingSkip || x > ExistingCreate {
			return invalidInput("WithExisting: %d is not ExistingSkip, ExistingUpdate or ExistingCreate", int(x))
		}
		c.existing = x
		return nil
	}
}

// ItemAction is what became of an imported row; see [ItemResult.Action].
type ItemAction int

// Actions of imported rows.
const (
	ActionCreated ItemAction = iota + 1 // a new item was created; ID is its id
	ActionFound                         // its key was in the portal: ID is that item's, left as it was
	ActionUpdated                       // found and updated with the fields that differed (or updated by id)
)

// String names the action: "created", "found" or "updated".
func (a ItemAction) String() string {
	switch a {
	case ActionCreated:
		return "created"
	case ActionFound:
		return "found"
	case ActionUpdated:
		return "updated"
	case 0:
		return ""
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// findExisting looks up the keyed rows of a window. For an upsert it
// selects the fields the rows set, to compare them.
func (e *engine) findExisting(ctx context.Context, rows []pendingItem) (map[dedup.Key]dedup.Found, error) {
	var sel []string
	seen := map[string]bool{}
	keys := make([]dedup.Key, 0, len(rows))
	for i := range rows {
		p := &rows[i] // by index: a copy of the row would escape
		if !p.keyed {
			continue
		}
		keys = append(keys, p.key)
		if e.cfg.existing == ExistingUpdate {
			for _, name := range setFieldNames(p.item) {
				if !seen[name] {
					seen[name] = true
					sel = append(sel, name)
				}
			}
		}
	}
	keys, err := e.classes.withoutEmpty(ctx, e, keys)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	slices.Sort(sel)
	return dedup.Find(ctx, e.lookupLister(false), int(e.et), keys, sel)
}

// classProbes remembers, for one import, which classes of keys (an
// originatorId; for xmlId keys the entity type) the portal held no item
// of when the import first met them. Their rows are not looked up one by
// one: nothing of theirs was in the portal, and the rest of the input
// cannot collide with them (the input's own repeated keys are refused).
// A first import thus pays one small request for the probe instead of
// one per 2,500 rows.
type classProbes struct {
	mu sync.Mutex
	m  map[string]*classProbe
}

// classProbe is the probe of one class: done is closed once empty is
// known; a probe that failed is forgotten, so a later window asks again.
type classProbe struct {
	done  chan struct{}
	empty bool
	err   error
}

// knownEmpty reports whether the probe of k's class has told that the
// portal held none of its items.
func (cp *classProbes) knownEmpty(k dedup.Key) bool {
	cp.mu.Lock()
	p := cp.m[k.Class()]
	cp.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return p.err == nil && p.empty
	default:
		return false
	}
}

// withoutEmpty returns the keys whose class may be in the portal,
// probing the classes met for the first time (all in one request).
func (cp *classProbes) withoutEmpty(ctx context.Context, e *engine, keys []dedup.Key) ([]dedup.Key, error) {
	var (
		mine    []*classProbe
		queries []dedup.Query
	)
	probes := map[string]*classProbe{}
	cp.mu.Lock()
	if cp.m == nil {
		cp.m = map[string]*classProbe{}
	}
	for _, k := range keys {
		c := k.Class()
		if probes[c] != nil {
			continue
		}
		p := cp.m[c]
		if p == nil {
			p = &classProbe{done: make(chan struct{})}
			cp.m[c] = p
			mine = append(mine, p)
			queries = append(queries, dedup.ProbeQuery(int(e.et), k))
		}
		probes[c] = p
	}
	cp.mu.Unlock()
	if len(mine) > 0 {
		cp.run(ctx, e, mine, queries)
	}
	for _, p := range probes {
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if p.err != nil {
			return nil, p.err
		}
	}
	kept := keys[:0]
	for _, k := range keys {
		if !probes[k.Class()].empty {
			kept = append(kept, k)
		}
	}
	return kept, nil
}

// run asks the probes' queries, up to a batch request's worth at a time,
// and settles each probe.
func (cp *classProbes) run(ctx context.Context, e *engine, mine []*classProbe, queries []dedup.Query) {
	for len(queries) > 0 {
		n := min(len(queries), dedup.MaxQueriesPerRound)
		pages, err := e.listBatch(ctx, queries[:n], false)
		for i, p := range mine[:n] {
			switch {
			case err != nil:
				p.err = fmt.Errorf("b24: asking whether the portal holds keys of this input: %w", err)
			case pages[i].Err != nil:
				p.err = fmt.Errorf("b24: asking whether the portal holds keys of this input: %w", pages[i].Err)
			default:
				p.empty = len(pages[i].Items) == 0
			}
			if p.err != nil {
				cp.mu.Lock()
				for c, q := range cp.m {
					if q == p {
						delete(cp.m, c)
					}
				}
				cp.mu.Unlock()
			}
			close(p.done)
		}
		mine, queries = mine[n:], queries[n:]
	}
}

// setFieldNames lists the wire names of the fields an item sets, "fm" for
// its multifields; history fields are left out (an update cannot set
// them).
func setFieldNames(it *Item) []string {
	var names []string
	for i := range itemFields {
		f := &itemFields[i]
		if slices.Contains(historyFields[:], f.wire) {
			continue
		}
		if _, written, _ := f.kind.encode(valueSink{discardSink{}}, nil, it, member{f.wire, 0}); written {
			names = append(names, f.wire)
		}
	}
	mf := false
	for _, mk := range multifieldKeys {
		mf = mf || len(*mk.get(it)) > 0 || it.Fields[mk.wire] == Clear
	}
	if mf {
		names = append(names, "fm")
	}
	for et, id := range it.Parents {
		if id != 0 {
			names = append(names, "parentId"+strconv.Itoa(int(et)))
		}
	}
	for k := range it.Fields {
		if !slices.Contains(historyFields[:], k) && !isMultifieldKey(k) {
			names = append(names, k)
		}
	}
	return names
}

func isMultifieldKey(k string) bool {
	for _, mk := range multifieldKeys {
		if k == mk.wire {
			return true
		}
	}
	return false
}

// planExisting plans the upsert of a found row: the fields that differ
// from what the portal holds. changed is false when there are none (or
// when only multifields may differ but the answer had no fm list to
// compare with: then the update reads the item first).
func (e *engine) planExisting(it *Item, hit dedup.Found) (*updateJob, bool, error) {
	cur, err := decodePortalItem(hit.Raw)
	if err != nil {
		return nil, false, err
	}
	fields, needFM, err := planUpdate(it, cur, true)
	if err != nil {
		return nil, false, err
	}
	if len(fields) == 0 && !needFM {
		return nil, false, nil
	}
	return &updateJob{target: hit.ID, fields: fields, planned: !needFM, compare: true}, true, nil
}

// lookupLister is the engine's lister for dedup.Find; once means one
// attempt per request (the import was cancelled: its lookups are bounded).
func (e *engine) lookupLister(once bool) dedup.BatchLister {
	return func(ctx context.Context, queries []dedup.Query) ([]dedup.Page, error) {
		return e.listBatch(ctx, queries, once)
	}
}

// listBatch runs crm.item.list requests for a lookup: one as a plain
// call, several as the commands of one batch request. A request whose
// values a batch command cannot carry goes on its own, and so does one
// that failed inside the batch (where it lost its status: a limit, a
// 5xx), through the retries and the budget.
func (e *engine) listBatch(ctx context.Context, queries []dedup.Query, once bool) ([]dedup.Page, error) {
	pages := make([]dedup.Page, len(queries))
	plain := func(i int) error {
		raw, err := e.list(ctx, queries[i].Params(), once)
		if err != nil {
			return err
		}
		pages[i].Items, pages[i].Err = dedup.DecodeItems(raw)
		return nil
	}
	var lines []batchLine
	var at []int
	var buf []byte
	for i, q := range queries {
		if len(queries) > 1 {
			var err error
			if buf, err = q.AppendCommand(buf[:0]); err == nil {
				lines = append(lines, batchLine{id: "q" + strconv.Itoa(i), method: "crm.item.list", line: string(buf)})
				at = append(at, i)
				continue
			}
		}
		if err := plain(i); err != nil {
			return nil, err
		}
	}
	switch len(lines) {
	case 0:
		return pages, nil
	case 1:
		return pages, plain(at[0])
	}
	br := batchRequest{observe: e.observer()}
	if once {
		br.attempts = 1
	}
	a, err := e.c.runBatch(ctx, lines, br)
	if err != nil {
		if classOf(err) == classStop || ctx.Err() != nil {
			return nil, err
		}
		// The packed request kept failing (answers lost, refused): ask
		// each query on its own, smaller requests with their own retries.
		for _, i := range at {
			if err := plain(i); err != nil {
				return nil, err
			}
		}
		return pages, nil
	}
	failed := false
	for j, l := range lines {
		r := lineOutcome(a, l, false, &failed)
		i := at[j]
		if r.Err != nil {
			if err := plain(i); err != nil {
				return nil, err
			}
			continue
		}
		pages[i].Items, pages[i].Err = dedup.DecodeItems(r.Result)
	}
	return pages, nil
}

// encodeReadCommand renders a read command whose values are the
// caller's: text the portal's batch would substitute cannot travel.
func encodeReadCommand(method string, params map[string]any) (string, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return "", err
	}
	obj, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	buf := append(make([]byte, 0, 256), method...)
	buf = append(buf, '?')
	vars := 0
	for _, k := range phpquery.NaturalKeys(obj) {
		if buf, err = phpquery.Append(buf, k, obj[k], &vars); err != nil {
			return "", err
		}
	}
	if vars > phpquery.MaxCommandVars {
		return "", phpquery.ErrNotPackable
	}
	return string(buf), nil
}

// list runs one crm.item.list request for the lookup; once means one
// attempt only (the import was cancelled).
func (e *engine) list(ctx context.Context, params map[string]any, once bool) (json.RawMessage, error) {
	req, err := newRequest("crm.item.list", params)
	if err != nil {
		return nil, err
	}
	req.observe = e.observer()
	if once {
		req.attempts = 1
	}
	env, err := e.c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	return env.Result, nil
}
