package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// item is one crm.item.list entry as a portal answers it.
type item struct {
	ID           int64  `json:"id"`
	OriginatorID string `json:"originatorId,omitempty"`
	OriginID     string `json:"originId,omitempty"`
	XMLID        string `json:"xmlId,omitempty"`
}

// answer encodes a crm.item.list result.
func answer(items []item) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"items": items})
	return b
}

// TestLookupMatchesKeysAsThePortalDoes: the portal's collation matches
// case-insensitively and ignores trailing spaces, so it answers items
// whose keys differ from the asked ones in those ways; it may also answer
// keys nobody asked for. Those are matched by their folded form and the
// rest ignored: nothing is indexed by what the portal sent.
func TestLookupMatchesKeysAsThePortalDoes(t *testing.T) {
	list := func(_ context.Context, params map[string]any) (json.RawMessage, error) {
		return answer([]item{
			{ID: 10, OriginatorID: "CRM", OriginID: "a-1"},    // asked "crm", "A-1 "
			{ID: 11, OriginatorID: "crm ", OriginID: "B-2  "}, // asked "crm", "b-2"
			{ID: 12, OriginatorID: "crm", OriginID: "zz-9"},   // not asked
			{ID: 13, OriginatorID: "other", OriginID: "a-1"},  // another originator
			{ID: 9, OriginatorID: "Crm", OriginID: "B-2"},     // an older copy of b-2
			{ID: 0, OriginatorID: "crm", OriginID: "c-3"},     // no id
		}), nil
	}
	keys := []Key{{OriginatorID: "crm", OriginID: "A-1 "}, {OriginatorID: "crm", OriginID: "b-2"}, {OriginatorID: "crm", OriginID: "c-3"}}
	found, err := Lookup(t.Context(), list, 2, keys)
	require.NoError(t, err)
	assert.Equal(t, map[Key]int64{keys[0].Fold(): 10, keys[1].Fold(): 9}, found)

	xml := func(_ context.Context, params map[string]any) (json.RawMessage, error) {
		return answer([]item{{ID: 5, XMLID: "EXT-1 "}, {ID: 6, XMLID: "ext-2"}, {ID: 7, XMLID: "unasked"}}), nil
	}
	found, err = Lookup(t.Context(), xml, 1030, []Key{{XMLID: "ext-1"}, {XMLID: "Ext-2"}})
	require.NoError(t, err)
	assert.Equal(t, map[Key]int64{{XMLID: "ext-1"}: 5, {XMLID: "ext-2"}: 6}, found)
}

// TestLookupEndsOnAPortalThatIgnoresPaging: a portal that ignores start
// and answers the same full page forever, or one that ignores the filter
// and pages through everything it holds, ends the lookup with an error
// after a number of requests bounded by the keys asked.
func TestLookupEndsOnAPortalThatIgnoresPaging(t *testing.T) {
	page := make([]item, PageSize)
	for i := range page {
		page[i] = item{ID: int64(i + 1), OriginatorID: "crm", OriginID: fmt.Sprint(i)}
	}
	requests := 0
	same := func(context.Context, map[string]any) (json.RawMessage, error) {
		requests++
		return answer(page), nil
	}
	// The key is on the first page, whose items come in id order: its
	// first copy is the oldest, so the filter is settled there.
	found, err := Lookup(t.Context(), same, 2, []Key{{OriginatorID: "crm", OriginID: "7"}})
	require.NoError(t, err)
	assert.Equal(t, map[Key]int64{{OriginatorID: "crm", OriginID: "7"}: 8}, found)
	assert.LessOrEqual(t, requests, 4, "bounded: %d requests for one key", requests)

	requests = 0
	_, err = Lookup(t.Context(), same, 2, []Key{{OriginatorID: "crm", OriginID: "not-there"}})
	require.Error(t, err, "a key never found on a portal that answers the same page forever")
	assert.LessOrEqual(t, requests, 4, "bounded: %d requests for one key", requests)

	requests = 0
	everything := func(_ context.Context, params map[string]any) (json.RawMessage, error) {
		requests++
		after, _ := params["filter"].(map[string]any)[">id"].(int64)
		items := make([]item, PageSize)
		for i := range items {
			items[i] = item{ID: after + int64(i) + 1, OriginatorID: "crm", OriginID: fmt.Sprint(after + int64(i))}
		}
		return answer(items), nil
	}
	_, err = Lookup(t.Context(), everything, 2, []Key{{OriginatorID: "crm", OriginID: "x"}, {OriginatorID: "crm", OriginID: "y"}})
	require.Error(t, err)
	assert.LessOrEqual(t, requests, 2+2*2, "bounded relative to the keys asked")
}

// TestLookupPagesByID: a full page is followed by the next one past its
// largest id (never by start, which some portals ignore), until a page is
// not full.
func TestLookupPagesByID(t *testing.T) {
	var keys []Key
	var stored []item
	for i := range 30 {
		keys = append(keys, Key{OriginatorID: "crm", OriginID: fmt.Sprint(i)})
		for c := range 3 { // three copies of each: 90 items match
			stored = append(stored, item{ID: int64(1 + i*3 + c), OriginatorID: "crm", OriginID: fmt.Sprint(i)})
		}
	}
	var starts []any
	list := func(_ context.Context, params map[string]any) (json.RawMessage, error) {
		starts = append(starts, params["start"])
		after, _ := params["filter"].(map[string]any)[">id"].(int64)
		var out []item
		for _, it := range stored {
			if it.ID > after && len(out) < PageSize {
				out = append(out, it)
			}
		}
		return answer(out), nil
	}
	found, err := Lookup(t.Context(), list, 2, keys)
	require.NoError(t, err)
	require.Len(t, found, 30)
	for i, k := range keys {
		assert.Equal(t, int64(1+i*3), found[k.Fold()], "the oldest copy")
	}
	assert.Equal(t, []any{-1, -1}, starts, "two pages, no offset paging")
}
