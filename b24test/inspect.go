package b24test

import (
	"sync"

	"github.com/b24kit/b24"
)

// RequestRecord is one request as the server saw it.
type RequestRecord struct {
	Method string // as called, without ".json"; "oauth.token" for the token endpoint
	Auth   string // "webhook", "oauth" or "none"
	Items  int    // items the call carried (batch: summed over its commands)
	Status int    // HTTP status answered; 0 when the connection was dropped
	Code   string // error code answered, "" on success
}

// Stats counts what the server did since it started.
type Stats struct {
	Requests         int // REST and token requests received
	RateLimited      int // refused with QUERY_LIMIT_EXCEEDED by the leaky bucket
	OperatingLimited int // calls (or batch commands) refused with OPERATION_TIME_LIMIT
	FaultsInjected   int // injected faults that hit
	Refreshes        int // successful token refreshes
	AuthFailures     int // REST calls refused for their credentials
	ItemsCreated     int // items stored (import, batchImport, add)
	ItemsUpdated     int // items changed by crm.item.update
	ItemErrors       int // per-item refusals in batchImport
	Dropped          int // connections closed without an answer
	TimedOut         int // requests cut off by the request timeout
	// BucketPeak is the highest level the leaky bucket of any credential
	// reached after accepting a request (at most the burst): how close
	// the clients came to a QUERY_LIMIT_EXCEEDED.
	BucketPeak float64
}

// recorder holds the request log and the counters.
type recorder struct {
	mu    sync.Mutex
	keep  bool
	log   []RequestRecord
	stats Stats
}

func (r *recorder) add(rec RequestRecord) {
	r.mu.Lock()
	r.stats.Requests++
	if r.keep {
		r.log = append(r.log, rec)
	}
	r.mu.Unlock()
}

func (r *recorder) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// Requests returns a copy of the request log, in the order requests ended.
func (s *Server) Requests() []RequestRecord {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return append([]RequestRecord(nil), s.rec.log...)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.rec.mu.Lock()
	st := s.rec.stats
	s.rec.mu.Unlock()
	if s.buckets != nil {
		st.BucketPeak = s.buckets.peakLevel()
	}
	return st
}

// StoredItem is an item as the portal stored it.
type StoredItem struct {
	ID           int64
	EntityTypeID b24.EntityTypeID
	// Fields holds the fields as received, keys normalised to camelCase
	// (upper-case system names renamed, unknown keys and unparseable dates
	// dropped); multifields stay under PHONE, EMAIL, WEB, IM.
	Fields map[string]any
}

// Items returns the items stored for an entity type, ordered by ID. Each
// Fields map is a shallow copy.
func (s *Server) Items(entityTypeID b24.EntityTypeID) []StoredItem {
	es := s.store.get(int(entityTypeID))
	if es == nil {
		return nil
	}
	es.mu.RLock()
	defer es.mu.RUnlock()
	out := make([]StoredItem, 0, len(es.items)-es.deleted)
	for i := range es.items {
		if it := &es.items[i]; !it.deleted {
			out = append(out, StoredItem{ID: it.id, EntityTypeID: entityTypeID, Fields: it.fieldMap()})
		}
	}
	return out
}

// ItemCount returns how many items of an entity type are stored, without
// copying them.
func (s *Server) ItemCount(entityTypeID b24.EntityTypeID) int {
	es := s.store.get(int(entityTypeID))
	if es == nil {
		return 0
	}
	es.mu.RLock()
	defer es.mu.RUnlock()
	return len(es.items) - es.deleted
}
