package b24

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24/internal/phpquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeImportCommandViaJSON is encodeImportCommand as it was before the
// bracket sink: every item JSON-encoded, decoded again and written with
// phpquery.Append. The bracket sink is held to it.
func encodeImportCommandViaJSON(et EntityTypeID, items []pendingItem, originalUFNames bool) (string, error) {
	buf := []byte("crm.item.batchImport?entityTypeId=" + strconv.Itoa(int(et)))
	if originalUFNames {
		buf = append(buf, "&useOriginalUfNames=Y"...)
	}
	vars := 0
	for i, p := range items {
		js, err := p.item.appendJSON(nil)
		if err != nil {
			return "", phpquery.ErrNotPackable
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", phpquery.ErrNotPackable
		}
		before := vars
		if buf, err = phpquery.Append(buf, "data["+strconv.Itoa(i)+"]", v, &vars); err != nil {
			return "", phpquery.ErrNotPackable
		}
		if vars == before || vars > phpquery.MaxCommandVars {
			return "", phpquery.ErrNotPackable
		}
	}
	return string(buf), nil
}

// requireSameCommand checks that the bracket sink's command carries the
// pairs of the JSON round trip's, and that the portal would read the two
// alike. Only the order of an item's own members may differ: the sink
// follows the JSON object, the round trip wrote them in byte order.
func requireSameCommand(t testing.TB, items []pendingItem) {
	t.Helper()
	want, wantErr := encodeImportCommandViaJSON(EntityDeal, items, false)
	got, gotErr := encodeImportCommand(EntityDeal, items, false)
	if wantErr != nil || gotErr != nil {
		if !errors.Is(wantErr, phpquery.ErrNotPackable) || !errors.Is(gotErr, phpquery.ErrNotPackable) {
			t.Fatalf("refusals differ: via JSON %v, bracket sink %v\nwant %q\n got %q", wantErr, gotErr, want, got)
		}
		return
	}
	if gp, wp := sortedPairs(got), sortedPairs(want); !slices.Equal(gp, wp) {
		t.Fatalf("pairs differ\nwant %q\n got %q", want, got)
	}
	_, wq, _ := strings.Cut(want, "?")
	_, gq, _ := strings.Cut(got, "?")
	wv, err := phpquery.Parse(wq)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := phpquery.Parse(gq)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gv, wv) {
		t.Fatalf("the portal would read them differently\nwant %#v\n got %#v", wv, gv)
	}
}

func sortedPairs(cmd string) []string {
	_, q, _ := strings.Cut(cmd, "?")
	pairs := strings.Split(q, "&")
	slices.Sort(pairs)
	return pairs
}

type okText struct{ s string }

func (o okText) MarshalText() ([]byte, error) { return []byte(o.s), nil }

// bracketCases are items with every typed kind, every Fields value type
// the walker lists, values that go through encoding/json, text that needs
// escaping, and everything the bracket form refuses.
func bracketCases() map[string]Item {
	msk := time.FixedZone("MSK", 3*3600)
	deep := func(n int) string { return strings.Repeat("[", n) + `"x"` + strings.Repeat("]", n) }
	full := Item{
		Title: "A & B = C [x] ünï 中文\nline %20 +plus", TypeID: "SERVICE", CategoryID: 9, StageID: "C9:NEW",
		IsRecurring: No, Probability: 50, CurrencyID: "EUR", IsManualOpportunity: Yes, Opportunity: 1e21,
		TaxValue: 1e-7, CompanyID: 5, ContactID: 4, ContactIDs: []int64{4, 5}, CompanyIDs: []int64{5}, QuoteID: 7,
		Begindate: NewDate(2024, 6, 17), Closedate: NewDate(987, 3, 5), Opened: No, Comments: "[B]x[/B] \u2028 \"q\" \\",
		AssignedByID: 6, SourceID: "WEB", SourceDescription: "d", LeadID: 102, AdditionalInfo: "i", Observers: []int64{2, 3},
		UTMSource: "s", UTMMedium: "m", UTMCampaign: "c", UTMContent: "ct", UTMTerm: "t", Honorific: "HNR_RU_1",
		Name: "Ivan", SecondName: "I.", LastName: "Ivanov", Birthdate: NewDate(1980, 12, 31), Post: "CEO",
		CompanyTitle: "Co", MycompanyID: 1, OriginatorID: "legacy", OriginID: "A-17", XMLID: "x-1",
		CreatedTime: time.Date(2020, 1, 2, 3, 4, 5, 0, msk), UpdatedTime: time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC),
		MovedTime: time.Date(1880, 1, 1, 12, 0, 0, 0, time.FixedZone("LMT", 2*3600+30*60+17)), CreatedBy: 1, UpdatedBy: 2, MovedBy: 3,
		Phones: []Multifield{{Value: "+49 30 123", ValueType: "WORK"}, {Value: "+4917", ValueType: "MOBILE"}},
		Emails: []Multifield{{Value: "a+b@c.d", ValueType: "HOME"}}, Webs: []Multifield{{Value: "https://x.y/?a=1&b=2", ValueType: "WORK"}},
		IMs: []Multifield{{Value: "@a", ValueType: "TELEGRAM"}}, Parents: map[EntityTypeID]int64{1220: 2, 31: 5, 2: 9, 128: 0},
	}
	return map[string]Item{
		"docs deal":  exampleDeal(),
		"every kind": full,
		"field value types": {Title: "t", Fields: map[string]any{
			"ufCrm_A": nil, "ufCrm_B": []any{1, "x", map[string]any{"z": 1, "a": []string{"q"}}, []any{}, map[string]any{}},
			"ufCrm_C": Yes, "ufCrm_D": NewDate(2024, 2, 29), "ufCrm_E": time.Date(2024, 2, 29, 1, 2, 3, 0, msk),
			"ufCrm_F": json.Number("-12345678901234567890.5e+10"), "ufCrm_G": json.RawMessage(` { "k" : [1, 2], "k2": {"a": null} } `),
			"ufCrm_H": []int64{4, -1}, "ufCrm_I": struct {
				N int    `json:"n,omitempty"`
				S string `json:"s"`
				Z int    `json:"z,omitempty"`
			}{N: 3, S: "<&>"}, "ufCrm_J": float32(0.1), "ufCrm_K": "600|USD", "ufCrm_L": true, "ufCrm_M": false,
			"ufCrm_N": int32(-7), "ufCrm_O": uint64(math.MaxUint64), "ufCrm_P": math.MinInt64, "ufCrm_Q": 1.5,
			"ufCrm_R": Date{}, "ufCrm_S": time.Time{}, "ufCrm_T": map[int]string{2: "b", 10: "a"}, "ufCrm_U": []byte("hi"),
			"ufCrm_V": okText{"text"}, "ufCrm_W": &File{Name: "w.txt", Content: []byte("w")}, "ufCrm_X": (*File)(nil),
			"ufCrm_Y": map[string]any{"k y": "v+w%", "ключ": []string{"a", "b"}, "0": "zero"}, "ufCrm_Z": []float64{0.5, 2},
			"0": "digit key", "1": "another",
		}},
		"files": {Fields: map[string]any{
			"ufCrm_File":  File{Name: "a b.txt", Content: []byte("hi")},
			"ufCrm_Files": []File{{Name: "b.png", Content: []byte{0, 1, 0xfb, 0xff}}, {Name: "", Content: nil}},
		}},
		"raw duplicate keys":    {Title: "t", Fields: map[string]any{"ufCrm_1": json.RawMessage(`{"a":1,"a":2}`)}},
		"raw nested deeper":     {Title: "t", Fields: map[string]any{"ufCrm_1": json.RawMessage(deep(40))}},
		"slice nested too deep": {Title: "t", Fields: map[string]any{"ufCrm_1": deepValue(maxValueDepth + 2)}},
		"not UTF-8":             {Title: "a\xffb\xed\xa0\x80", Fields: map[string]any{"ufCrm_1": []string{"\xfe"}}},
		"dollars that are not placeholders": {Title: "$result $RESULT[x] $results[ $ [", Comments: "$", Fields: map[string]any{
			"ufCrm_1": "$nextx[", "ufCrm_2": json.RawMessage(`"$time"`)}},
		// Refused by the bracket form.
		"placeholder in a typed field":     {Title: "costs $result[c0] exactly"},
		"placeholder in a multifield":      {Phones: []Multifield{{Value: "$next[1]", ValueType: "WORK"}}},
		"placeholder in Fields":            {Title: "t", Fields: map[string]any{"ufCrm_1": []any{"ok", "$total["}}},
		"placeholder in raw JSON":          {Title: "t", Fields: map[string]any{"ufCrm_1": json.RawMessage(`{"a":"$time[x]"}`)}},
		"placeholder in a struct":          {Title: "t", Fields: map[string]any{"ufCrm_1": struct{ S string }{"$error[x]"}}},
		"placeholder in a file name":       {Title: "t", Fields: map[string]any{"ufCrm_1": File{Name: "$result[a]"}}},
		"bracket in a nested key":          {Title: "t", Fields: map[string]any{"ufCrm_1": map[string]any{"a]b": "v"}}},
		"open bracket in a nested key":     {Title: "t", Fields: map[string]any{"ufCrm_1": map[string]any{"c[d": "v"}}},
		"empty nested key":                 {Title: "t", Fields: map[string]any{"ufCrm_1": map[string]any{"": "v", "ok": "x"}}},
		"bracket in a key inside raw JSON": {Title: "t", Fields: map[string]any{"ufCrm_1": json.RawMessage(`{"a[]":1}`)}},
		"bracket in a Fields key":          {Title: "t", Fields: map[string]any{"uf[1]": 1}},
		"empty Fields key":                 {Title: "t", Fields: map[string]any{"": 1}},
		"no pair":                          {},
		"only empty values":                {ContactIDs: []int64{}, Fields: map[string]any{"ufCrm_1": []any{}, "ufCrm_2": map[string]any{}}},
		"too many pairs":                   {ContactIDs: make([]int64, phpquery.MaxCommandVars+1)},
		// Refused by encoding itself.
		"nan":     {Opportunity: math.NaN()},
		"channel": {Title: "t", Fields: map[string]any{"ufCrm_1": make(chan int)}},
	}
}

func TestBracketSinkMatchesJSONRoundTrip(t *testing.T) {
	cases := bracketCases()
	for name, it := range cases {
		t.Run(name, func(t *testing.T) {
			requireSameCommand(t, []pendingItem{{item: &it}})
			// Behind another item, under data[1].
			requireSameCommand(t, []pendingItem{{item: &Item{Title: "first"}}, {item: &it}})
		})
	}
	// Pairs add up over the items of a command.
	half := Item{ContactIDs: make([]int64, phpquery.MaxCommandVars/2)}
	requireSameCommand(t, []pendingItem{{item: &half}, {item: &half}})
	requireSameCommand(t, []pendingItem{{item: &half}, {item: &half}, {item: &Item{Title: "one too many"}}})
}

// TestBracketSinkRefuses pins the refusals themselves, so that the
// comparison above cannot pass by both paths accepting everything.
func TestBracketSinkRefuses(t *testing.T) {
	cases := bracketCases()
	for _, name := range []string{
		"placeholder in a typed field", "placeholder in a multifield", "placeholder in Fields", "placeholder in raw JSON",
		"placeholder in a struct", "placeholder in a file name", "bracket in a nested key", "open bracket in a nested key",
		"empty nested key", "bracket in a key inside raw JSON", "bracket in a Fields key", "empty Fields key", "no pair",
		"only empty values", "too many pairs", "nan", "channel", "slice nested too deep",
	} {
		it, ok := cases[name]
		require.True(t, ok, name)
		_, err := encodeImportCommand(EntityDeal, []pendingItem{{item: &it}}, false)
		assert.ErrorIs(t, err, phpquery.ErrNotPackable, name)
	}
	for _, name := range []string{"docs deal", "every kind", "field value types", "files", "raw nested deeper",
		"not UTF-8", "dollars that are not placeholders"} {
		it := cases[name]
		_, err := encodeImportCommand(EntityDeal, []pendingItem{{item: &it}}, false)
		assert.NoError(t, err, name)
	}
}

// TestBracketSinkKeepsJSONOrder checks that an item's members come in the
// order of its JSON object, so the portal sees one order whichever way
// the item travels.
func TestBracketSinkKeepsJSONOrder(t *testing.T) {
	it := bracketCases()["every kind"]
	it.Fields = map[string]any{"ufCrm_2": "b", "ufCrm_1": []any{"a"}}
	js, err := it.MarshalJSON()
	require.NoError(t, err)
	var jsonOrder []string
	dec := json.NewDecoder(bytes.NewReader(js))
	_, _ = dec.Token()
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		jsonOrder = append(jsonOrder, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	cmd, err := encodeImportCommand(EntityDeal, []pendingItem{{item: &it}}, false)
	require.NoError(t, err)
	var order []string
	_, q, _ := strings.Cut(cmd, "?")
	for _, p := range phpquery.SplitQuery(q) {
		rest, ok := strings.CutPrefix(p.Key, "data[0][")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "]")
		if len(order) == 0 || order[len(order)-1] != name {
			order = append(order, name)
		}
	}
	assert.Equal(t, jsonOrder, order)
}

func TestEncodeImportCommand(t *testing.T) {
	items := []pendingItem{
		{item: &Item{Title: "A & B", ContactIDs: []int64{4, 5}, Opened: No}},
		{item: &Item{Title: "C", Fields: map[string]any{"ufCrm_1": map[string]any{"k": true}}, Parents: map[EntityTypeID]int64{1220: 2}}},
	}
	cmd, err := encodeImportCommand(EntityDeal, items, true)
	require.NoError(t, err)
	assert.Equal(t, "crm.item.batchImport?entityTypeId=2&useOriginalUfNames=Y"+
		"&data[0][title]=A+%26+B&data[0][contactIds][0]=4&data[0][contactIds][1]=5&data[0][opened]=N"+
		"&data[1][title]=C&data[1][parentId1220]=2&data[1][ufCrm_1][k]=Y", cmd)
}

// FuzzBracketSinkMatchesJSON holds the bracket sink to the JSON round trip
// on items read from arbitrary JSON (typed fields leniently, everything
// else into Fields) and on Go values built around an arbitrary string,
// which lands in text, keys and file names alike.
func FuzzBracketSinkMatchesJSON(f *testing.F) {
	for _, s := range []string{
		`{"title":"A & B","opportunity":"1.5","contactIds":["4",5],"opened":true,"ufCrm_1":{"a":[1,{"b":null}]}}`,
		`{"PHONE":[{"VALUE":"+1","VALUE_TYPE":"WORK"}],"parentId1220":"2","ufCrm_2":[[],{},""]}`,
		`{"title":"$result[c0]","ufCrm_3":{"a]b":1,"":2}}`,
		`{"createdTime":"2024-07-17T10:00:00+03:00","begindate":"2024-02-29","ufCrm_4":-0.0e-3}`,
		`{}`, `{"ufCrm_5":[]}`,
	} {
		f.Add([]byte(s), "x", int64(1), 1.5)
	}
	f.Add([]byte(`{"title":"t"}`), "$next[1]", int64(-3), math.Inf(1))
	f.Add([]byte(`{"title":"t"}`), "a]b", int64(0), 0.0)
	f.Add([]byte(`{"title":"t"}`), "", int64(7), -1e-9)
	f.Add([]byte(`{"title":"t"}`), "\xff\u2028 k y+%", int64(1<<62), 1e300)
	f.Fuzz(func(t *testing.T, js []byte, s string, n int64, x float64) {
		var fromJSON Item
		if json.Unmarshal(js, &fromJSON) == nil {
			requireSameCommand(t, []pendingItem{{item: &fromJSON}})
		}
		built := Item{Title: s, Probability: int(n % 100), Opportunity: x, ContactIDs: []int64{n}, Opened: YesNo(s),
			Phones: []Multifield{{Value: s, ValueType: "WORK"}},
			Fields: map[string]any{
				"ufCrm_1": s, "ufCrm_2": []string{s}, "ufCrm_3": map[string]any{s: n, "k": []any{x, s}},
				"ufCrm_4": File{Name: s, Content: []byte(s)}, "ufCrm_5": json.Number(s), "ufCrm_6": YesNo(s),
				"ufCrm_7": struct{ S string }{s}, "ufCrm_8": float32(x), "ufCrm_9": uint64(n),
			},
		}
		requireSameCommand(t, []pendingItem{{item: &built}, {item: &fromJSON}})
	})
}

// BenchmarkEncodeImportCommand encodes a command of 20 deals straight to
// bracket form; ViaJSON is the JSON round trip it replaced.
func BenchmarkEncodeImportCommand(b *testing.B) {
	items := make([]pendingItem, 20)
	for i := range items {
		it := exampleDeal()
		items[i].item = &it
	}
	for _, bc := range []struct {
		name   string
		encode func(EntityTypeID, []pendingItem, bool) (string, error)
	}{{"sink", encodeImportCommand}, {"ViaJSON", encodeImportCommandViaJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.encode(EntityDeal, items, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(testing.AllocsPerRun(10, func() { _, _ = bc.encode(EntityDeal, items, false) }))/float64(len(items)), "allocs/item")
		})
	}
}
