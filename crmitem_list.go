package b24

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/b24kit/b24/internal/dedup"
	"github.com/b24kit/b24/internal/phpquery"
	"github.com/b24kit/b24/internal/wire"
)

// List reads the items of entity type et that q selects, with
// crm.item.list, and yields them one by one with their ids. Breaking out
// of the loop stops it; an error is yielded once, last.
//
// In id order (the default) it reads the way the portal's docs advise
// for large exports: start=-1, so nothing is counted, and each page
// continues after the last id of the one before. The first page is one
// plain request; after it, up to 50 pages travel in one batch request,
// each command's cursor taken from the command before it
// ($result[...][items][49][id]), so N items cost at most ⌈N/2500⌉+2
// requests and memory holds one batch answer at a time. A batch shrinks
// when the portal reports pages that take long, to stay well under its
// 60 s cut-off. Another order pages by offset: the first page tells the
// total and the rest go 50 pages to a batch request.
//
// A page the portal refuses ends the list with that error; pages lost in
// transit are asked again.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-list.html
// and, on reading large lists, https://apidocs.bitrix24.com/settings/performance/huge-data.html
func (s *CRMItemService) List(ctx context.Context, et EntityTypeID, q ListQuery) iter.Seq2[ItemRecord, error] {
	return func(yield func(ItemRecord, error) bool) {
		l, err := newItemLister(s.client, et, q)
		if err != nil {
			yield(ItemRecord{}, err)
			return
		}
		if err := l.run(ctx, yield); err != nil {
			yield(ItemRecord{}, err)
		}
	}
}

// errStopped ends a list the caller broke out of.
var errStopped = errors.New("b24: list stopped by the caller")

// itemLister reads one list.
type itemLister struct {
	c      *Client
	et     EntityTypeID
	filter map[string]any // the caller's filter, without the cursor term
	sel    []string
	order  map[string]string
	byID   bool
	desc   bool
	cursor int64 // last id read (byID); 0: from the start
	// pageCost is the server seconds one page takes, a moving average.
	pageCost float64
	packed   bool // pages can travel in batch commands
}

func newItemLister(c *Client, et EntityTypeID, q ListQuery) (*itemLister, error) {
	if et <= 0 {
		return nil, invalidInput("crm.item.list: entity type %d is not valid", int(et))
	}
	l := &itemLister{c: c, et: et, filter: make(map[string]any, len(q.Filter)), order: q.Order, packed: true}
	if len(q.Select) > 0 {
		l.sel = append(l.sel, q.Select...)
		hasID := false
		for _, f := range q.Select {
			hasID = hasID || strings.EqualFold(f, "id") || f == "*"
		}
		if !hasID {
			l.sel = append(l.sel, "id")
		}
	}
	switch len(q.Order) {
	case 0:
		l.byID = true
	case 1:
		for k, v := range q.Order {
			if strings.EqualFold(k, "id") {
				l.byID = true
				switch strings.ToUpper(v) {
				case "ASC", "":
				case "DESC":
					l.desc = true
				default:
					return nil, invalidInput("crm.item.list: order %s: want ASC or DESC", quoteName(v))
				}
			}
		}
	}
	cursorOp := ">"
	if l.desc {
		cursorOp = "<"
	}
	for k, v := range q.Filter {
		op, field := splitFilterKey(k)
		if l.byID && strings.EqualFold(field, "id") && (op == cursorOp || op == cursorOp+"=") {
			n, ok := filterInt(v)
			if !ok {
				return nil, invalidInput("crm.item.list: filter %s: want an id", quoteName(k))
			}
			if op == cursorOp+"=" {
				n += map[bool]int64{false: -1, true: 1}[l.desc]
			}
			if l.cursor == 0 || !l.desc && n > l.cursor || l.desc && n < l.cursor {
				l.cursor = n
			}
			continue // the cursor term takes its place
		}
		l.filter[k] = v
	}
	if l.desc && l.cursor == 0 {
		l.cursor = -1 // no upper bound yet
	}
	return l, nil
}

// splitFilterKey splits "!=title" into its operation and field name.
func splitFilterKey(k string) (op, field string) {
	i := 0
	for i < len(k) && strings.IndexByte("=!<>@%", k[i]) >= 0 {
		i++
	}
	return k[:i], k[i:]
}

func filterInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// run yields every item; it returns the error that ended the list early.
func (l *itemLister) run(ctx context.Context, yield func(ItemRecord, error) bool) error {
	var err error
	if l.byID {
		err = l.runByID(ctx, yield)
	} else {
		err = l.runByOffset(ctx, yield)
	}
	if errors.Is(err, errStopped) {
		return nil
	}
	return err
}

// cursorTerm is the filter key that continues after the cursor.
func (l *itemLister) cursorTerm() string {
	if l.desc {
		return "<id"
	}
	return ">id"
}

// params builds the parameters of one plain page request.
func (l *itemLister) params(start int, cursor bool) map[string]any {
	f := make(map[string]any, len(l.filter)+1)
	for k, v := range l.filter {
		f[k] = v
	}
	if cursor && l.cursor > 0 {
		f[l.cursorTerm()] = l.cursor
	}
	p := map[string]any{"entityTypeId": int(l.et), "filter": f, "start": start}
	if l.sel != nil {
		p["select"] = l.sel
	}
	if l.byID {
		dir := "ASC"
		if l.desc {
			dir = "DESC"
		}
		p["order"] = map[string]string{"id": dir}
	} else if l.order != nil {
		p["order"] = l.order
	}
	return p
}

// plainPage reads one page with a plain request.
func (l *itemLister) plainPage(ctx context.Context, params map[string]any) ([]json.RawMessage, Meta, error) {
	var res json.RawMessage
	m, err := l.c.CallMeta(ctx, "crm.item.list", params, &res)
	if err != nil {
		return nil, m, err
	}
	if m.Time != nil {
		l.observe(m.Time.Processing)
	}
	items, err := dedup.DecodeItems(res)
	return items, m, err
}

// observe folds the server time of one page into the average.
func (l *itemLister) observe(seconds float64) {
	if seconds <= 0 {
		return
	}
	if l.pageCost == 0 {
		l.pageCost = seconds
	} else {
		l.pageCost = 0.7*l.pageCost + 0.3*seconds
	}
}

// packSize is how many pages the next batch request carries.
func (l *itemLister) packSize() int {
	if l.pageCost <= 0 {
		return maxBatchCommands
	}
	return min(maxBatchCommands, max(2, int(packTimeTarget/l.pageCost)))
}

// emit decodes and yields a page's items; it updates the cursor.
func (l *itemLister) emit(items []json.RawMessage, yield func(ItemRecord, error) bool) error {
	for _, raw := range items {
		p, err := decodePortalItem(raw)
		if err != nil {
			return fmt.Errorf("b24: crm.item.list: %w", err)
		}
		if l.byID && p.rec.ID > 0 {
			l.cursor = p.rec.ID
		}
		if !yield(p.rec, nil) {
			return errStopped
		}
	}
	return nil
}

// maxRefusedBatches bounds the batches in a row whose pages the portal
// refused before running them (its limits): each waits for the budget.
const maxRefusedBatches = 8

// runByID chains pages by id: one plain page, then batches of pages whose
// cursors come from the page before.
func (l *itemLister) runByID(ctx context.Context, yield func(ItemRecord, error) bool) error {
	items, _, err := l.plainPage(ctx, l.params(-1, true))
	if err != nil {
		return err
	}
	if err := l.emit(items, yield); err != nil {
		return err
	}
	more, refused := len(items) == dedup.PageSize, 0
	for more {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !l.packed {
			if items, _, err = l.plainPage(ctx, l.params(-1, true)); err != nil {
				return err
			}
			if err := l.emit(items, yield); err != nil {
				return err
			}
			more = len(items) == dedup.PageSize
			continue
		}
		lines, err := l.chainLines(l.packSize())
		if errors.Is(err, phpquery.ErrNotPackable) {
			l.packed = false // the filter holds text a batch would alter
			continue
		}
		if err != nil {
			return err
		}
		a, err := l.c.runBatch(ctx, lines, batchRequest{halt: true})
		if err != nil {
			return err
		}
		var read int
		if more, read, err = l.takeChain(a, lines, yield); err != nil {
			var refusal *APIError
			if !errors.As(err, &refusal) || classOf(refusal) != classRefused || refused >= maxRefusedBatches {
				return err
			}
			refused++ // the limits refused the first page: the budget now holds the next batch
			more = true
			continue
		}
		if read > 0 {
			refused = 0
		}
	}
	return nil
}

// takeChain yields the pages of a chained batch answer in order, up to
// the first short or failed one. more reports that the list goes on;
// read counts the pages yielded.
func (l *itemLister) takeChain(a *wire.BatchAnswer, lines []batchLine, yield func(ItemRecord, error) bool) (more bool, read int, err error) {
	failed := false
	for k, ln := range lines {
		r := lineOutcome(a, ln, true, &failed)
		if r.Time != nil {
			l.observe(r.Time.Processing)
		}
		if r.Err != nil {
			if k == 0 {
				return false, read, r.Err // the first cursor is a number: a real refusal
			}
			// A page could not follow the one before (refused, say): a
			// new batch starts from the last page read.
			return true, read, nil
		}
		items, err := dedup.DecodeItems(r.Result)
		if err != nil {
			return false, read, err
		}
		if err := l.emit(items, yield); err != nil {
			return false, read, err
		}
		read++
		if len(items) < dedup.PageSize {
			// The list ends here; later commands could not follow it
			// (their cursor text stayed unresolved) and are ignored.
			return false, read, nil
		}
	}
	return true, read, nil
}

// chainLines builds n page commands: the first continues after the
// cursor, each later one after the last item of the one before. The
// reference is written after a 0 so that the portal substitutes it as
// text: when the page before is short, the text stays as it is (a list
// would be substituted whole in its place), the portal reads a cursor it
// cannot use, and the command fails or reads a page this list ignores.
func (l *itemLister) chainLines(n int) ([]batchLine, error) {
	base, err := l.baseCommand()
	if err != nil {
		return nil, err
	}
	lines := make([]batchLine, n)
	for k := range n {
		id := "p" + strconv.Itoa(k)
		cursor := ""
		switch {
		case k == 0 && l.cursor > 0:
			cursor = strconv.FormatInt(l.cursor, 10)
		case k > 0:
			cursor = "0$result[p" + strconv.Itoa(k-1) + "][items][" + strconv.Itoa(dedup.PageSize-1) + "][id]"
		}
		line := base
		if cursor != "" {
			var e phpquery.Encoder
			e.Reset("filter")
			e.Open()
			if err := e.Key(l.cursorTerm()); err != nil {
				return nil, err
			}
			line = string(e.Plain([]byte(line), []byte(cursor)))
		}
		lines[k] = batchLine{id: id, method: "crm.item.list", line: line}
	}
	return lines, nil
}

// baseCommand is a page command without its cursor term, or
// [phpquery.ErrNotPackable] when the filter cannot travel in a batch.
func (l *itemLister) baseCommand() (string, error) { return pageCommand(l.params(-1, false)) }

// pageCommand renders a page request as a batch command; text the
// portal's batch would substitute, or more form variables than a command
// holds, make it [phpquery.ErrNotPackable].
func pageCommand(p map[string]any) (string, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return "", invalidInput("crm.item.list: filter cannot be encoded: %v", err)
	}
	obj, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	buf := []byte("crm.item.list?")
	vars := 0
	for _, k := range phpquery.NaturalKeys(obj) {
		if buf, err = phpquery.Append(buf, k, obj[k], &vars); err != nil {
			return "", phpquery.ErrNotPackable
		}
	}
	if vars+1 > phpquery.MaxCommandVars {
		return "", phpquery.ErrNotPackable
	}
	return string(buf), nil
}

// runByOffset pages by start offsets, for orders other than by id: the
// first page tells the total, the others go a batch at a time.
func (l *itemLister) runByOffset(ctx context.Context, yield func(ItemRecord, error) bool) error {
	items, m, err := l.plainPage(ctx, l.params(0, false))
	if err != nil {
		return err
	}
	if err := l.emit(items, yield); err != nil {
		return err
	}
	start := m.Next
	if start == 0 {
		return nil
	}
	total := m.Total
	for start > 0 && (!m.HasTotal || start < total) {
		if err := ctx.Err(); err != nil {
			return err
		}
		base, berr := l.offsetBase()
		if berr != nil || !m.HasTotal {
			// One page at a time, by next.
			items, m2, err := l.plainPage(ctx, l.params(start, false))
			if err != nil {
				return err
			}
			if err := l.emit(items, yield); err != nil {
				return err
			}
			start = m2.Next
			continue
		}
		n := min(l.packSize(), (total-start+dedup.PageSize-1)/dedup.PageSize)
		lines := make([]batchLine, n)
		for k := range n {
			lines[k] = batchLine{id: "p" + strconv.Itoa(k), method: "crm.item.list",
				line: base + "&start=" + strconv.Itoa(start+k*dedup.PageSize)}
		}
		a, err := l.c.runBatch(ctx, lines, batchRequest{})
		if err != nil {
			return err
		}
		failed := false
		for _, ln := range lines {
			r := lineOutcome(a, ln, false, &failed)
			if r.Err != nil {
				return r.Err
			}
			if r.Time != nil {
				l.observe(r.Time.Processing)
			}
			items, err := dedup.DecodeItems(r.Result)
			if err != nil {
				return err
			}
			if err := l.emit(items, yield); err != nil {
				return err
			}
			if len(items) < dedup.PageSize {
				return nil
			}
		}
		start += n * dedup.PageSize
	}
	return nil
}

// offsetBase is a page command without its start.
func (l *itemLister) offsetBase() (string, error) {
	p := l.params(0, false)
	delete(p, "start")
	return pageCommand(p)
}
