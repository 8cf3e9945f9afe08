package dedup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/b24kit/b24/internal/phpquery"
)

func TestQueryCommandMatchesParams(t *testing.T) {
	q := Query{EntityTypeID: 2, Select: []string{"id", "originatorId", "originId"}, Originator: "crm x", Field: "originId",
		Values: []string{"a&b", "7"}, After: 41}
	cmd, err := q.AppendCommand(nil)
	if err != nil {
		t.Fatal(err)
	}
	method, query, _ := strings.Cut(string(cmd), "?")
	if method != "crm.item.list" {
		t.Fatalf("method %q", method)
	}
	got, err := phpquery.Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"entityTypeId": "2", "select": []any{"id", "originatorId", "originId"},
		"filter": map[string]any{"=originatorId": "crm x", "@originId": []any{"a&b", "7"}, ">id": "41"},
		"order":  map[string]any{"id": "ASC"}, "start": "-1"}
	if a, b := fmt.Sprint(got), fmt.Sprint(want); a != b {
		t.Fatalf("the command reads as\n%s\nwant\n%s", a, b)
	}
	q.Values = []string{"$result[x][y]"}
	if _, err := q.AppendCommand(nil); !errors.Is(err, phpquery.ErrNotPackable) {
		t.Fatalf("placeholder text: %v", err)
	}
}

func TestProbeQueryAsksForTheClassOnly(t *testing.T) {
	for _, c := range []struct {
		et     int
		key    Key
		filter map[string]any
	}{
		{2, Key{OriginatorID: "CRM x", OriginID: "7"}, map[string]any{"=originatorId": "CRM x"}},
		{1032, Key{XMLID: "inv-9"}, map[string]any{}},
	} {
		q := ProbeQuery(c.et, c.key)
		p := q.Params()
		if a, b := fmt.Sprint(p["filter"]), fmt.Sprint(c.filter); a != b {
			t.Errorf("et %d: JSON filter %s, want %s", c.et, a, b)
		}
		cmd, err := q.AppendCommand(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, query, _ := strings.Cut(string(cmd), "?")
		got, err := phpquery.Parse(query)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := got["filter"].(map[string]any)
		if f == nil {
			f = map[string]any{}
		}
		if a, b := fmt.Sprint(f), fmt.Sprint(c.filter); a != b || fmt.Sprint(got["select"]) != "[id]" {
			t.Errorf("et %d: command %s, want filter %s selecting id", c.et, cmd, b)
		}
	}
	if a, b := (Key{OriginatorID: "CRM-7 "}).Class(), (Key{OriginatorID: "crm-7"}).Class(); a != b {
		t.Errorf("classes %q and %q differ; the portal compares them as one", a, b)
	}
}

// portal answers queries from a list of items with ids 1..n.
type portal struct {
	items  []Key
	rounds int
	asked  int
}

func (p *portal) run(_ context.Context, qs []Query) ([]Page, error) {
	p.rounds++
	pages := make([]Page, len(qs))
	for i, q := range qs {
		p.asked++
		for id, k := range p.items {
			if int64(id+1) <= q.After || len(pages[i].Items) == PageSize {
				continue
			}
			v := k.OriginID
			if q.Field == "xmlId" {
				v = k.XMLID
			} else if foldText(k.OriginatorID) != foldText(q.Originator) {
				continue
			}
			for _, want := range q.Values {
				if foldText(v) == foldText(want) {
					b, _ := json.Marshal(map[string]any{"id": id + 1, "originatorId": k.OriginatorID, "originId": k.OriginID, "xmlId": k.XMLID})
					pages[i].Items = append(pages[i].Items, b)
					break
				}
			}
		}
	}
	return pages, nil
}

func TestFind(t *testing.T) {
	p := &portal{}
	var keys []Key
	for i := range 3000 {
		k := Key{OriginatorID: "crm", OriginID: strconv.Itoa(i)}
		p.items = append(p.items, k)
		if i%2 == 0 {
			keys = append(keys, Key{OriginatorID: "CRM", OriginID: strconv.Itoa(i) + " "})
		}
	}
	p.items = append(p.items, Key{OriginatorID: "crm", OriginID: "0"}) // a later copy
	keys = append(keys, Key{OriginatorID: "crm", OriginID: "missing"})
	found, err := Find(t.Context(), p.run, 2, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1500 {
		t.Fatalf("found %d keys, want 1500", len(found))
	}
	if f := found[Key{OriginatorID: "crm", OriginID: "0"}]; f.ID != 1 || f.Raw != nil {
		t.Fatalf("key 0: %+v, want the oldest copy, id 1, without the answer", f)
	}
	if p.rounds != 1 || p.asked != 31 {
		t.Fatalf("%d rounds, %d queries: every filter of found keys is settled by its first page", p.rounds, p.asked)
	}
	found, err = Find(t.Context(), p.run, 2, keys[:3], []string{"title"})
	if err != nil || found[Key{OriginatorID: "crm", OriginID: "2"}].Raw == nil {
		t.Fatalf("with a select the answer is kept: %v %v", found, err)
	}
}

// foldText is the folded form of one string, for the test portal.
func foldText(s string) string { return fold(s) }
