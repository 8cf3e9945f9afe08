// Package dedup is the rule that identifies a CRM item across imports (its
// dedup key) and the crm.item.list lookup that finds which keys the portal
// already holds. The import engine uses it to settle calls whose outcome is
// unknown; b24import uses it to settle the rows a crashed run left in doubt.
package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/b24kit/b24/internal/phpquery"
	"github.com/b24kit/b24/internal/wire"
)

// Key identifies an item in the portal: OriginatorID and OriginID for leads,
// deals, contacts and companies, XMLID for smart invoices, smart documents
// and smart processes.
type Key struct {
	OriginatorID, OriginID, XMLID string
}

// UsesXMLID reports whether items of entity type et are keyed by xmlId
// rather than originatorId+originId. Old invoices (5), quotes (7) and
// orders (14) have neither.
func UsesXMLID(et int) bool {
	switch et {
	case 1, 2, 3, 4, 5, 7, 14:
		return false
	}
	return et > 0
}

// HasOriginKey reports whether items of entity type et are keyed by
// originatorId+originId: leads, deals, contacts and companies.
func HasOriginKey(et int) bool { return et >= 1 && et <= 4 }

// KeyOf returns the key of an item of entity type et with these fields; ok
// is false when the item has no complete key.
func KeyOf(et int, originatorID, originID, xmlID string) (k Key, ok bool) {
	switch {
	case HasOriginKey(et):
		if originatorID != "" && originID != "" {
			return Key{OriginatorID: originatorID, OriginID: originID}, true
		}
	case UsesXMLID(et):
		if xmlID != "" {
			return Key{XMLID: xmlID}, true
		}
	}
	return Key{}, false
}

// Fold returns the key as the portal compares it. Its database matches
// strings with a case-insensitive collation that ignores trailing spaces,
// so "CRM-7 " and "crm-7" are one key there; the lookup and every map of
// keys use the folded form.
func (k Key) Fold() Key {
	return Key{fold(k.OriginatorID), fold(k.OriginID), fold(k.XMLID)}
}

func fold(s string) string { return strings.ToLower(strings.TrimRight(s, " ")) }

// Lister runs crm.item.list with params and returns the answer's result.
type Lister func(ctx context.Context, params map[string]any) (json.RawMessage, error)

// Page is one crm.item.list answer: its items as the portal sent them, or
// the error the request failed with.
type Page struct {
	Items []json.RawMessage
	Err   error
}

// BatchLister runs several crm.item.list requests at once (the import
// engine packs them into one batch request) and returns one page per
// query, in order. An error fails the whole round.
type BatchLister func(ctx context.Context, queries []Query) ([]Page, error)

// Query is one crm.item.list request of a lookup: the items of an entity
// type whose Field (originId or xmlId) is one of Values (and whose
// originatorId is Originator, for originId), past id After, by id. With
// no Field it is a probe (see [ProbeQuery]).
type Query struct {
	EntityTypeID int
	Select       []string
	Originator   string
	Field        string
	Values       []string
	After        int64
}

// Params are the query's crm.item.list parameters, for a JSON call.
func (q Query) Params() map[string]any {
	f := map[string]any{}
	if q.Field != "" {
		f["@"+q.Field] = q.Values
	}
	if q.Originator != "" {
		f["=originatorId"] = q.Originator
	}
	if q.After > 0 {
		f[">id"] = q.After
	}
	return map[string]any{"entityTypeId": q.EntityTypeID, "select": q.Select, "filter": f,
		"order": map[string]string{"id": "ASC"}, "start": -1}
}

// AppendCommand appends the query as a batch command,
// "crm.item.list?entityTypeId=2&select[0]=id&...". A value holding text
// the portal's batch would substitute fails with [phpquery.ErrNotPackable].
func (q Query) AppendCommand(dst []byte) ([]byte, error) {
	dst = append(dst, "crm.item.list?entityTypeId="...)
	dst = strconv.AppendInt(dst, int64(q.EntityTypeID), 10)
	var e phpquery.Encoder
	var err error
	e.Reset("select")
	e.Open()
	for i, f := range q.Select {
		e.Index(i)
		if dst, err = e.String(dst, f); err != nil {
			return dst, err
		}
	}
	e.Reset("filter")
	e.Open()
	if q.Originator != "" {
		_ = e.Key("=originatorId")
		if dst, err = e.String(dst, q.Originator); err != nil {
			return dst, err
		}
	}
	if q.Field != "" {
		_ = e.Key("@" + q.Field)
		e.Open()
		for i, v := range q.Values {
			e.Index(i)
			if dst, err = e.String(dst, v); err != nil {
				return dst, err
			}
		}
		e.Close()
	}
	if q.After > 0 {
		_ = e.Key(">id")
		dst = e.Plain(dst, strconv.AppendInt(nil, q.After, 10))
	}
	return append(dst, "&order%5Bid%5D=ASC&start=-1"...), nil
}

// ProbeQuery asks whether the portal holds any item that could share a
// key with key k (of entity type et): any item of k's originatorId, or,
// for xmlId keys, any item of the type at all. An empty answer means no
// key of that class is in the portal, so none of them needs looking up
// one by one.
func ProbeQuery(et int, k Key) Query {
	q := Query{EntityTypeID: et, Select: []string{"id"}}
	if !UsesXMLID(et) {
		q.Originator = k.OriginatorID
	}
	return q
}

// Class names the keys one probe answers for: the folded originatorId,
// or "" for xmlId keys (one class per entity type).
func (k Key) Class() string { return fold(k.OriginatorID) }

// PageSize is how many items one crm.item.list answer holds at most.
const PageSize = 50

// KeysPerRequest is how many keys a caller that asks one crm.item.list
// request at a time puts in its filter: with no copies in the portal, one
// page holds every item found and is not full, so it is also the last (a
// full page would take a second request to show that nothing follows).
const KeysPerRequest = PageSize - 1

// KeysPerFilter is how many keys one crm.item.list filter asks for: with
// no copies in the portal, one page holds them all.
const KeysPerFilter = PageSize

// MaxQueriesPerRound is how many crm.item.list requests one round of
// [Find] hands to the BatchLister: a batch request runs at most 50.
const MaxQueriesPerRound = 50

// Found is an item that holds a key: its id and, when the lookup selected
// more fields, the item as the portal answered it.
type Found struct {
	ID  int64
	Raw json.RawMessage // nil unless Find was given fields to select
}

// Lookup finds which of keys (all of one form, for entity type et) exist in
// the portal and returns, by folded key, the id of the oldest item holding
// each key found. It is [Find] with one crm.item.list request at a time.
func Lookup(ctx context.Context, list Lister, et int, keys []Key) (map[Key]int64, error) {
	run := func(ctx context.Context, queries []Query) ([]Page, error) {
		pages := make([]Page, len(queries))
		for i, q := range queries {
			raw, err := list(ctx, q.Params())
			if err != nil {
				return nil, err
			}
			pages[i].Items, pages[i].Err = DecodeItems(raw)
		}
		return pages, nil
	}
	found, err := Find(ctx, run, et, keys, nil)
	if err != nil {
		return nil, err
	}
	ids := make(map[Key]int64, len(found))
	for k, f := range found {
		ids[k] = f.ID
	}
	return ids, nil
}

// DecodeItems reads the items of a crm.item.list result.
func DecodeItems(raw json.RawMessage) ([]json.RawMessage, error) {
	var res struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := wire.DecodeResult(raw, &res); err != nil {
		return nil, fmt.Errorf("b24: unreadable crm.item.list answer: %w", err)
	}
	return res.Items, nil
}

// query is one crm.item.list filter of a lookup and how far it has got.
type query struct {
	Query
	asked []Key // folded
	pages int
}

// Find looks up which of keys (all of one form, for entity type et) exist
// in the portal and returns, by folded key, the oldest item holding each
// key found. Keys are asked [KeysPerFilter] to a filter (grouped by
// originatorId), up to [MaxQueriesPerRound] filters per round of run.
// Each filter pages by id (a filter on ">id" past the last page, start
// -1, so it ends even on a portal that ignores start) until every key it
// asks is found or a page comes back short; it gives up after a number of
// pages proportional to its keys (many more items than keys means the
// portal ignores the filter). Items the portal returns for keys not asked
// are ignored. With sel, the lookup selects those fields too and keeps
// each found item's answer in Found.Raw.
func Find(ctx context.Context, run BatchLister, et int, keys []Key, sel []string) (map[Key]Found, error) {
	found := make(map[Key]Found, len(keys))
	if len(keys) == 0 {
		return found, nil
	}
	xml := UsesXMLID(et)
	fields := []string{"id", "xmlId"}
	if !xml {
		fields = []string{"id", "originatorId", "originId"}
	}
	keepRaw := len(sel) > 0
	for _, f := range sel {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	active := buildQueries(keys, et, xml, fields)
	batch := make([]Query, 0, min(len(active), MaxQueriesPerRound))
	for len(active) > 0 {
		round := active[:min(len(active), MaxQueriesPerRound)]
		batch = batch[:0]
		for _, q := range round {
			batch = append(batch, q.Query)
		}
		pages, err := run(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("b24: looking up dedup keys: %w", err)
		}
		if len(pages) != len(round) {
			return nil, fmt.Errorf("b24: looking up dedup keys: %d answers for %d requests", len(pages), len(round))
		}
		next := active[len(round):]
		var again []*query
		for i, q := range round {
			more, err := q.take(pages[i], xml, keepRaw, found)
			if err != nil {
				return nil, err
			}
			if more {
				again = append(again, q)
			}
		}
		active = append(again, next...)
	}
	return found, nil
}

// buildQueries groups keys into filters: by originatorId (one "=" term per
// filter), values deduplicated by their folded form but sent as given.
func buildQueries(keys []Key, et int, xml bool, fields []string) []*query {
	type group struct {
		spelling string
		vals     []string
		asked    []Key
	}
	groups := map[string]*group{}
	seen := make(map[Key]bool, len(keys)) // sized once: most lookups are of one window of new keys
	for _, k := range keys {
		f := k.Fold()
		if seen[f] {
			continue
		}
		seen[f] = true
		name := ""
		if !xml {
			name = f.OriginatorID
		}
		g := groups[name]
		if g == nil {
			g = &group{spelling: k.OriginatorID}
			if len(groups) == 0 { // most inputs have one originator
				g.vals, g.asked = make([]string, 0, len(keys)), make([]Key, 0, len(keys))
			}
			groups[name] = g
		}
		if xml {
			g.vals = append(g.vals, k.XMLID)
		} else {
			g.vals = append(g.vals, k.OriginID)
		}
		g.asked = append(g.asked, f)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	var out []*query
	for _, name := range names {
		g := groups[name]
		for i := 0; i < len(g.vals); i += KeysPerFilter {
			end := min(i+KeysPerFilter, len(g.vals))
			q := Query{EntityTypeID: et, Select: fields, Field: "xmlId", Values: g.vals[i:end]}
			if !xml {
				q.Field, q.Originator = "originId", g.spelling
			}
			out = append(out, &query{Query: q, asked: g.asked[i:end]})
		}
	}
	return out
}

// take settles one page of q into found and reports whether q needs
// another page.
func (q *query) take(p Page, xml, keepRaw bool, found map[Key]Found) (more bool, err error) {
	if p.Err != nil {
		return false, fmt.Errorf("b24: looking up dedup keys: %w", p.Err)
	}
	q.pages++
	want := make(map[Key]bool, len(q.asked))
	for _, k := range q.asked {
		want[k] = true
	}
	last := q.After
	for _, raw := range p.Items {
		var it struct {
			ID           wire.FlexInt    `json:"id"`
			OriginatorID wire.FlexString `json:"originatorId"`
			OriginID     wire.FlexString `json:"originId"`
			XMLID        wire.FlexString `json:"xmlId"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return false, fmt.Errorf("b24: looking up dedup keys: unreadable item: %w", err)
		}
		id := int64(it.ID)
		last = max(last, id)
		k := Key{OriginatorID: string(it.OriginatorID), OriginID: string(it.OriginID)}
		if xml {
			k = Key{XMLID: string(it.XMLID)}
		}
		k = k.Fold()
		if id <= 0 || !want[k] {
			continue // not asked for (or no id): nothing to settle with it
		}
		if old, ok := found[k]; !ok || id < old.ID {
			f := Found{ID: id} // the oldest copy is the one to keep
			if keepRaw {
				f.Raw = raw
			}
			found[k] = f
		}
	}
	if len(p.Items) < PageSize {
		return false, nil
	}
	// Pages come in id order, so the first copy of a key is its oldest:
	// once every key is found, later pages hold only newer copies.
	all := true
	for _, k := range q.asked {
		if _, ok := found[k]; !ok {
			all = false
			break
		}
	}
	if all {
		return false, nil
	}
	if maxPages := 2 + 2*len(q.asked); q.pages >= maxPages {
		return false, fmt.Errorf("b24: looking up dedup keys: more than %d pages for %d keys; the portal does not apply the filter", maxPages, len(q.asked))
	}
	if last <= q.After {
		return false, fmt.Errorf("b24: looking up dedup keys: the portal ignored the id filter")
	}
	q.After = last
	return true, nil
}
