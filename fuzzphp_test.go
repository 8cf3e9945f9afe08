package b24_test

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/b24kit/b24"
)

// TestPackedNestedKeysSurvive imports items whose user-field value is an
// object with keys bracket notation cannot carry, packed into batch
// requests: the portal must store what a plain JSON call would store.
func TestPackedNestedKeysSurvive(t *testing.T) {
	srv := fakePortal(t)
	c := srv.Client()
	items := make([]b24.Item, 40)
	for i := range items {
		items[i] = b24.Item{Title: "nested-" + strconv.Itoa(i),
			Fields: map[string]any{"ufCrm1Data": map[string]any{"a]b": "v", "": "w", "ok": "x"}}}
	}
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items, b24.WithPacking(2))
	if err != nil {
		t.Fatalf("import: %v (first row: %+v)", err, res.Items[0])
	}
	want := map[string]any{"a]b": "v", "": "w", "ok": "x"}
	for _, it := range srv.Items(b24.EntityDeal) {
		if !reflect.DeepEqual(it.Fields["ufCrm1Data"], want) {
			t.Fatalf("item %d stored %#v, sent %#v", it.ID, it.Fields["ufCrm1Data"], want)
		}
	}
}
