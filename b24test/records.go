package b24test

import (
	"encoding/json"

	"github.com/b24kit/b24"
)

// Record returns the stored item of an entity type with id as the SDK
// reads it back: what crm.item.get answers, decoded into a
// [b24.ItemRecord] (typed fields, multifields from its fm list, user and
// unknown fields in Item.Fields). ok is false when there is no such item
// (never stored, or deleted).
func (s *Server) Record(entityTypeID b24.EntityTypeID, id int64) (rec b24.ItemRecord, ok bool) {
	es := s.store.get(int(entityTypeID))
	if es == nil {
		return b24.ItemRecord{}, false
	}
	es.mu.RLock()
	it := es.getLocked(id)
	var answer map[string]any
	if it != nil {
		answer = renderItem(es, it, nil)
	}
	es.mu.RUnlock()
	if it == nil {
		return b24.ItemRecord{}, false
	}
	return decodeRecord(answer), true
}

// Records returns every stored item of an entity type, ordered by ID, as
// [Server.Record] reads each.
func (s *Server) Records(entityTypeID b24.EntityTypeID) []b24.ItemRecord {
	es := s.store.get(int(entityTypeID))
	if es == nil {
		return nil
	}
	es.mu.RLock()
	answers := make([]map[string]any, 0, len(es.items)-es.deleted)
	for i := range es.items {
		if it := &es.items[i]; !it.deleted {
			answers = append(answers, renderItem(es, it, nil))
		}
	}
	es.mu.RUnlock()
	out := make([]b24.ItemRecord, len(answers))
	for i, a := range answers {
		out[i] = decodeRecord(a)
	}
	return out
}

// decodeRecord decodes a rendered answer the way the SDK decodes the
// portal's; what it cannot read keeps its id alone.
func decodeRecord(answer map[string]any) b24.ItemRecord {
	var rec b24.ItemRecord
	b, err := json.Marshal(answer)
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		id, _ := intValue(answer["id"])
		return b24.ItemRecord{ID: id}
	}
	return rec
}
