package b24

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/b24kit/b24/internal/wire"
)

// ItemRecord is an item read back from the portal: its id and its fields.
type ItemRecord struct {
	ID int64
	// Item holds the typed fields; user fields and every field Item has no
	// typed field for (stageSemanticId, lastActivityTime, ...) are in
	// Item.Fields. Multifields come from the answer's fm list.
	Item Item
}

// ListQuery selects the items [CRMItemService.List] reads.
type ListQuery struct {
	// Filter is a crm.item.list filter, e.g. {"=originatorId": "old-crm",
	// ">opportunity": 0, "@stageId": []string{"NEW", "WON"}}.
	Filter map[string]any
	// Select names the fields to read (camelCase); default every field,
	// user fields included. "id" is always read.
	Select []string
	// Order sorts the items, e.g. {"closedate": "DESC"}; default by id
	// ascending. Id order (either direction) is the fast one: pages are
	// chained by id and nothing is counted.
	Order map[string]string
}

// Get returns the item of entity type et with id, with crm.item.get. An
// id the portal does not have fails with an error matching [ErrNotFound].
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-get.html
func (s *CRMItemService) Get(ctx context.Context, et EntityTypeID, id int64) (ItemRecord, error) {
	if et <= 0 {
		return ItemRecord{}, invalidInput("crm.item.get: entity type %d is not valid", int(et))
	}
	if id <= 0 {
		return ItemRecord{}, invalidInput("crm.item.get: id %d is not valid", id)
	}
	var res struct {
		Item json.RawMessage `json:"item"`
	}
	if err := s.client.Call(ctx, "crm.item.get", map[string]any{"entityTypeId": int(et), "id": id}, &res); err != nil {
		return ItemRecord{}, err
	}
	p, err := decodePortalItem(res.Item)
	if err != nil {
		return ItemRecord{}, fmt.Errorf("b24: crm.item.get: %w", err)
	}
	if p.rec.ID == 0 {
		p.rec.ID = id
	}
	return p.rec, nil
}

// UnmarshalJSON reads an item as crm.item.get and crm.item.list answer
// it: "id" to ID, the fm list to the multifields, every other member as
// [Item.UnmarshalJSON] reads it (a value a typed field cannot take is kept
// in Fields under its name instead of failing the item), nulls left out.
// Decode the items of a crm.item.list answer called by hand with it.
func (r *ItemRecord) UnmarshalJSON(b []byte) error {
	p, err := decodePortalItem(b)
	if err != nil {
		return fmt.Errorf("b24: %w", err)
	}
	*r = p.rec
	return nil
}

// fmEntry is one multifield value as the portal keeps it: its own id, the
// kind (PHONE, EMAIL, WEB, IM), the value type and the value.
type fmEntry struct {
	id        int64
	typeID    string
	valueType string
	value     string
}

// portalItem is an item as an answer gave it: the record, the multifield
// values with their ids (when the answer had an fm list), and the members
// as they came, for comparing values.
type portalItem struct {
	rec   ItemRecord
	fm    []fmEntry
	hasFM bool
	raw   map[string]json.RawMessage
}

// decodePortalItem reads one item of a crm.item.get or crm.item.list
// answer. Typed fields accept every form the portal uses (ids as numbers
// or strings, flags as Y/N, dates as datetimes); a value a typed field
// cannot take is kept in Fields under its name rather than failing the
// item. Nulls are left out; entityTypeId is the query's own.
func decodePortalItem(b json.RawMessage) (*portalItem, error) {
	var raw map[string]json.RawMessage
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("an item is not a JSON object")
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("unreadable item: %w", err)
	}
	p := &portalItem{raw: raw}
	it := &p.rec.Item
	for k, v := range raw {
		if isJSONNull(v) {
			continue
		}
		switch k {
		case "id":
			var id wire.FlexInt
			if err := json.Unmarshal(v, &id); err != nil {
				return nil, fmt.Errorf("item id: %w", err)
			}
			p.rec.ID = int64(id)
			continue
		case "entityTypeId":
			continue
		case "fm":
			fm, err := decodeFM(v)
			if err != nil {
				return nil, fmt.Errorf("item field fm: %w", err)
			}
			p.fm, p.hasFM = fm, true
			setMultifields(it, fm)
			continue
		}
		if err := it.decodeKey(k, v); err != nil {
			x, gerr := decodeFieldValue(v)
			if gerr != nil {
				return nil, fmt.Errorf("item field %s: %w", quoteName(k), err)
			}
			if it.Fields == nil {
				it.Fields = make(map[string]any)
			}
			it.Fields[k] = x
		}
	}
	return p, nil
}

// decodeFM reads an fm list: [{"id", "typeId", "valueType", "value"}],
// or an object of them keyed by id.
func decodeFM(v json.RawMessage) ([]fmEntry, error) {
	type entry struct {
		ID        wire.FlexInt    `json:"id"`
		TypeID    wire.FlexString `json:"typeId"`
		ValueType wire.FlexString `json:"valueType"`
		Value     wire.FlexString `json:"value"`
	}
	var list []entry
	t := bytes.TrimSpace(v)
	switch {
	case len(t) > 0 && t[0] == '{':
		var m map[string]entry
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, err
		}
		for _, e := range m {
			list = append(list, e)
		}
	default:
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, err
		}
	}
	out := make([]fmEntry, 0, len(list))
	for _, e := range list {
		out = append(out, fmEntry{id: int64(e.ID), typeID: strings.ToUpper(string(e.TypeID)),
			valueType: string(e.ValueType), value: string(e.Value)})
	}
	sortFM(out)
	return out, nil
}

// sortFM orders entries by id, so that lists built from a map come out
// the same every time.
func sortFM(fm []fmEntry) {
	for i := 1; i < len(fm); i++ {
		for j := i; j > 0 && fm[j].id < fm[j-1].id; j-- {
			fm[j], fm[j-1] = fm[j-1], fm[j]
		}
	}
}

// setMultifields fills the item's multifield lists from fm entries.
func setMultifields(it *Item, fm []fmEntry) {
	for _, e := range fm {
		for _, mk := range multifieldKeys {
			if e.typeID == mk.wire {
				list := mk.get(it)
				*list = append(*list, Multifield{Value: e.value, ValueType: e.valueType})
			}
		}
	}
}
