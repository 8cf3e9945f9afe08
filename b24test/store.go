package b24test

import (
	"maps"
	"sort"
	"sync"
	"time"
)

// storedItem is one item in memory. fields is the map decoded from the
// request, normalised in place and kept as it is; in a compact store it is
// nil and only the key fields below remain.
type storedItem struct {
	id      int64
	created int64 // unix nanoseconds: createdTime as imported, else the time of creation
	deleted bool  // removed by crm.item.delete; its id is never reused
	fields  map[string]any
	fm      []fmValue // multifield values (PHONE, EMAIL, ...), kept apart from fields
	// The fields dedup lookups and list filters use most, kept in both modes.
	title, originatorID, originID, xmlID string
}

// value returns a stored field's value.
func (it *storedItem) value(name string) any {
	if it.fields != nil {
		return it.fields[name]
	}
	var v string
	switch name {
	case "title":
		v = it.title
	case "originatorId":
		v = it.originatorID
	case "originId":
		v = it.originID
	case "xmlId":
		v = it.xmlID
	}
	if v == "" {
		return nil
	}
	return v
}

// fieldMap returns a copy of the stored fields, multifields under PHONE,
// EMAIL, WEB and IM as the import received them.
func (it *storedItem) fieldMap() map[string]any {
	if it.fields != nil {
		m := maps.Clone(it.fields)
		addMultifieldLists(m, it.fm)
		return m
	}
	m := make(map[string]any, 4)
	for _, k := range []string{"title", "originatorId", "originId", "xmlId"} {
		if v := it.value(k); v != nil {
			m[k] = v
		}
	}
	return m
}

// entityStore holds the items of one entity type. IDs are dense from 1, so
// items[id-1] is the item with that id; lookups by dedup key go through the
// indexes, never a scan.
type entityStore struct {
	typeID  int
	fields  *fieldSet
	compact bool
	mu      sync.RWMutex
	items   []storedItem
	deleted int // items removed by crm.item.delete
	// byOriginID and byXMLID map a key, folded as the portal's collation
	// compares it, to the ids holding it (the portal does not enforce
	// uniqueness).
	byOriginID idIndex
	byXMLID    idIndex
	fmIDs      *int64 // the store's multifield id counter, under es.mu of any type
}

// idIndex maps a string to the ids holding it, compactly for the usual case
// of one id per value.
type idIndex struct {
	first map[string]int64
	more  map[string][]int64
}

func (x *idIndex) add(key string, id int64) {
	key = foldKey(key)
	if key == "" {
		return
	}
	if x.first == nil {
		x.first = make(map[string]int64)
	}
	if _, ok := x.first[key]; !ok {
		x.first[key] = id
		return
	}
	if x.more == nil {
		x.more = make(map[string][]int64)
	}
	x.more[key] = append(x.more[key], id)
}

// lookup appends the ids holding key to dst, ascending.
func (x *idIndex) lookup(dst []int64, key string) []int64 {
	key = foldKey(key)
	id, ok := x.first[key]
	if !ok {
		return dst
	}
	dst = append(dst, id)
	return append(dst, x.more[key]...)
}

// store is every entity type's items.
type store struct {
	types map[int]*entityStore // fixed after construction
}

// builtinTypes are the entity types every portal has.
var builtinTypes = []int{1, 2, 3, 4, 7, 31}

func newStore(smart []int, compact bool) *store {
	s := &store{types: make(map[int]*entityStore)}
	fmIDs := new(int64)
	for _, t := range append(append([]int(nil), builtinTypes...), smart...) {
		if s.types[t] == nil {
			s.types[t] = &entityStore{typeID: t, fields: newFieldSet(t), compact: compact, fmIDs: fmIDs}
		}
	}
	return s
}

func (s *store) get(typeID int) *entityStore { return s.types[typeID] }

// lastCreatedLocked returns the creation time of the highest-id item.
func (es *entityStore) lastCreatedLocked() (time.Time, bool) {
	if len(es.items) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, es.items[len(es.items)-1].created), true
}

// addLocked stores fields as a new item and returns its id. The caller holds
// the write lock.
func (es *entityStore) addLocked(fields map[string]any, created time.Time) int64 {
	id := int64(len(es.items) + 1)
	fm := es.takeMultifields(fields)
	it := storedItem{
		id: id, created: created.UnixNano(), fields: fields, fm: fm,
		title: stringValue(fields["title"]), originatorID: stringValue(fields["originatorId"]),
		originID: stringValue(fields["originId"]), xmlID: stringValue(fields["xmlId"]),
	}
	if es.compact {
		it.fields, it.fm = nil, nil
	}
	es.items = append(es.items, it)
	es.byOriginID.add(it.originID, id)
	es.byXMLID.add(it.xmlID, id)
	return id
}

// getLocked returns the item with id, or nil (also when it was deleted).
func (es *entityStore) getLocked(id int64) *storedItem {
	if id < 1 || id > int64(len(es.items)) || es.items[id-1].deleted {
		return nil
	}
	return &es.items[id-1]
}

// sortIDs sorts ids ascending and drops duplicates.
func sortIDs(ids []int64) []int64 {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}
