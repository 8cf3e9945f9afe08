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
	"strings"

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

// PageSize is how many items one crm.item.list answer holds at most.
const PageSize = 50

// KeysPerRequest is how many keys one crm.item.list filter asks for: with
// no copies in the portal, one page holds every item found and is not
// full, so it is also the last (a full page would take a second request
// to show that nothing follows).
const KeysPerRequest = PageSize - 1

const keysPerFilter = KeysPerRequest

// Lookup finds which of keys (all of one form, for entity type et) exist in
// the portal and returns, by folded key, the id of the oldest item holding
// each key found. It pages by id (a filter on ">id" past the last page,
// start -1), so it ends even on a portal that ignores start, and it gives
// up after a number of pages proportional to the keys asked: many more
// items than keys means the portal ignores the filter. Items the portal
// returns for keys not asked are ignored.
func Lookup(ctx context.Context, list Lister, et int, keys []Key) (map[Key]int64, error) {
	found := make(map[Key]int64, len(keys))
	if len(keys) == 0 {
		return found, nil
	}
	xml := UsesXMLID(et)
	// Group by originatorId (one "=" term per filter), values deduplicated
	// by their folded form but sent as given.
	groups := map[string][]string{}
	spelling := map[string]string{} // folded originatorId -> as given
	seen := map[Key]bool{}
	for _, k := range keys {
		f := k.Fold()
		if seen[f] {
			continue
		}
		seen[f] = true
		if xml {
			groups[""] = append(groups[""], k.XMLID)
			continue
		}
		if _, ok := spelling[f.OriginatorID]; !ok {
			spelling[f.OriginatorID] = k.OriginatorID
		}
		groups[f.OriginatorID] = append(groups[f.OriginatorID], k.OriginID)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	for _, g := range names {
		vals := groups[g]
		for i := 0; i < len(vals); i += keysPerFilter {
			chunk := vals[i:min(i+keysPerFilter, len(vals))]
			filter := map[string]any{"@xmlId": chunk}
			sel := []string{"id", "xmlId"}
			if !xml {
				filter = map[string]any{"=originatorId": spelling[g], "@originId": chunk}
				sel = []string{"id", "originatorId", "originId"}
			}
			if err := lookupChunk(ctx, list, et, xml, filter, sel, len(chunk), seen, found); err != nil {
				return nil, err
			}
		}
	}
	return found, nil
}

// lookupChunk pages through the items matching one filter.
func lookupChunk(ctx context.Context, list Lister, et int, xml bool, filter map[string]any, sel []string, asked int, want map[Key]bool, found map[Key]int64) error {
	maxPages := 2 + 2*asked
	var cursor int64
	for page := 0; ; page++ {
		if page >= maxPages {
			return fmt.Errorf("b24: looking up dedup keys: more than %d pages for %d keys; the portal does not apply the filter", maxPages, asked)
		}
		f := make(map[string]any, len(filter)+1)
		for k, v := range filter {
			f[k] = v
		}
		if cursor > 0 {
			f[">id"] = cursor
		}
		params := map[string]any{"entityTypeId": et, "select": sel, "filter": f,
			"order": map[string]string{"id": "ASC"}, "start": -1}
		raw, err := list(ctx, params)
		if err != nil {
			return fmt.Errorf("b24: looking up dedup keys: %w", err)
		}
		var res struct {
			Items []struct {
				ID           wire.FlexInt    `json:"id"`
				OriginatorID wire.FlexString `json:"originatorId"`
				OriginID     wire.FlexString `json:"originId"`
				XMLID        wire.FlexString `json:"xmlId"`
			} `json:"items"`
		}
		if err := wire.DecodeResult(raw, &res); err != nil {
			return fmt.Errorf("b24: looking up dedup keys: unreadable answer: %w", err)
		}
		last := cursor
		for _, it := range res.Items {
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
			if old, ok := found[k]; !ok || id < old {
				found[k] = id // the oldest copy is the one to keep
			}
		}
		if len(res.Items) < PageSize {
			return nil
		}
		if last <= cursor {
			return fmt.Errorf("b24: looking up dedup keys: the portal ignored the id filter")
		}
		cursor = last
	}
}
