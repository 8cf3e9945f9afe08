package b24

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestItemGoldenDeal(t *testing.T) {
	deal := exampleDeal()
	got, err := json.Marshal(deal)
	require.NoError(t, err)

	golden := filepath.Join("testdata", "deal_example.golden.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		require.NoError(t, os.WriteFile(golden, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got)+"\n", "marshalled deal differs from %s (UPDATE_GOLDEN=1 rewrites it)", golden)

	// Independently of the golden file: the fields of the docs' example.
	var fields map[string]any
	require.NoError(t, json.Unmarshal(got, &fields))
	assert.Equal(t, map[string]any{
		"title": "New deal (specifically for REST method examples)", "typeId": "SERVICE", "categoryId": 9.0,
		"stageId": "C9:UC_KN8KFI", "isRecurring": "Y", "probability": 50.0, "currencyId": "RUB",
		"isManualOpportunity": "Y", "opportunity": 999.99, "taxValue": 99.9, "companyId": 5.0, "contactId": 4.0,
		"contactIds": []any{4.0, 5.0}, "quoteId": 7.0, "begindate": "2024-06-17", "closedate": "2024-07-29",
		"opened": "N", "comments": "commentsExample", "assignedById": 6.0, "sourceId": "WEB",
		"sourceDescription": "There should be an additional description about the source", "leadId": 102.0,
		"additionalInfo": "There should be additional information", "observers": []any{2.0, 3.0},
		"utmSource": "google", "utmMedium": "CPC", "ufCrm_1721244707107": 1111.1, "parentId1220": 2.0,
	}, fields)

	// The spelling the docs' examples use must not appear; the real one must.
	assert.NotContains(t, string(got), "isReccurring")
	assert.Contains(t, string(got), `"isRecurring":"Y"`)

	// appendJSON into a shared buffer gives the same bytes after a prefix.
	buf, err := deal.appendJSON([]byte("[1,"))
	require.NoError(t, err)
	assert.Equal(t, "[1,"+string(got), string(buf))

	// The golden JSON reads back into the same item, and it is valid.
	var back Item
	require.NoError(t, json.Unmarshal(want, &back))
	deal.Fields = map[string]any{"ufCrm_1721244707107": json.Number("1111.1")}
	assert.Equal(t, deal, back)
	assert.NoError(t, back.Validate(EntityDeal))
}

func TestItemMarshalFieldKinds(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	cases := []struct {
		name string
		item Item
		want string
	}{
		{"empty", Item{}, `{}`},
		{"zero values omitted", Item{Title: "", CategoryID: 0, Opportunity: 0, ContactIDs: []int64{}}, `{}`},
		{"yes no unset vs no", Item{Opened: No}, `{"opened":"N"}`},
		{"yes", Item{IsManualOpportunity: Yes}, `{"isManualOpportunity":"Y"}`},
		{"date", Item{Birthdate: NewDate(987, time.March, 5)}, `{"birthdate":"0987-03-05"}`},
		{"time with offset", Item{CreatedTime: time.Date(2024, 7, 17, 10, 30, 15, 999, msk)},
			`{"createdTime":"2024-07-17T10:30:15+03:00"}`},
		{"utc time gets numeric offset", Item{UpdatedTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
			`{"updatedTime":"2024-01-02T03:04:05+00:00"}`},
		{"offset with seconds sent in utc", Item{MovedTime: time.Date(1880, 1, 1, 12, 0, 0, 0, time.FixedZone("LMT", 2*3600+30*60+17))},
			`{"movedTime":"1880-01-01T09:29:43+00:00"}`},
		{"ints floats ids", Item{Probability: 7, Opportunity: 1e21, TaxValue: 0.5, CompanyIDs: []int64{1, 2}, CreatedBy: 3},
			`{"probability":7,"opportunity":1e+21,"taxValue":0.5,"companyIds":[1,2],"createdBy":3}`},
		{"string escaping", Item{Comments: "a\"b\\c\n\t\x01<é>\u2028"},
			`{"comments":"a\"b\\c\n\t\u0001<é>\u2028"}`},
		{"multifields", Item{
			Phones: []Multifield{{Value: "+4930123", ValueType: "WORK"}, {Value: "+4917", ValueType: "MOBILE"}},
			Emails: []Multifield{{Value: "a@b.c", ValueType: "HOME"}},
			Webs:   []Multifield{{Value: "b.c", ValueType: "WORK"}},
			IMs:    []Multifield{{Value: "@a", ValueType: "TELEGRAM"}},
		}, `{"PHONE":[{"VALUE":"+4930123","VALUE_TYPE":"WORK"},{"VALUE":"+4917","VALUE_TYPE":"MOBILE"}],` +
			`"EMAIL":[{"VALUE":"a@b.c","VALUE_TYPE":"HOME"}],"WEB":[{"VALUE":"b.c","VALUE_TYPE":"WORK"}],` +
			`"IM":[{"VALUE":"@a","VALUE_TYPE":"TELEGRAM"}]}`},
		{"parents sorted numerically, zero omitted", Item{Parents: map[EntityTypeID]int64{1220: 2, 31: 5, 128: 0, 2: 9}},
			`{"parentId2":9,"parentId31":5,"parentId1220":2}`},
		{"fields merged after typed, sorted", Item{Title: "T", Parents: map[EntityTypeID]int64{2: 1},
			Fields: map[string]any{"ufCrm_2": "x", "ufCrm_1": 1.5, "ufCrm_10": true}},
			`{"title":"T","parentId2":1,"ufCrm_1":1.5,"ufCrm_10":true,"ufCrm_2":"x"}`},
		{"files", Item{Fields: map[string]any{
			"ufCrm_File":  File{Name: "a.txt", Content: []byte("hi")},
			"ufCrm_Files": []File{{Name: "b.png", Content: []byte{0, 1}}},
		}}, `{"ufCrm_File":["a.txt","aGk="],"ufCrm_Files":[["b.png","AAE="]]}`},
		{"field value kinds", Item{Fields: map[string]any{
			"ufCrm_A": nil, "ufCrm_B": []any{1, "x", map[string]any{"z": 1, "a": []string{"q"}}},
			"ufCrm_C": Yes, "ufCrm_D": NewDate(2024, 2, 29), "ufCrm_E": time.Date(2024, 2, 29, 1, 2, 3, 0, msk),
			"ufCrm_F": json.Number("12345678901234567890"), "ufCrm_G": json.RawMessage(` { "k" : [1, 2] } `),
			"ufCrm_H": []int64{4}, "ufCrm_I": struct{ N int }{N: 3}, "ufCrm_J": float32(0.1), "ufCrm_K": "600|USD",
		}}, `{"ufCrm_A":null,"ufCrm_B":[1,"x",{"a":["q"],"z":1}],"ufCrm_C":"Y","ufCrm_D":"2024-02-29",` +
			`"ufCrm_E":"2024-02-29T01:02:03+03:00","ufCrm_F":12345678901234567890,"ufCrm_G":{"k":[1,2]},` +
			`"ufCrm_H":[4],"ufCrm_I":{"N":3},"ufCrm_J":0.1,"ufCrm_K":"600|USD"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// MarshalJSON itself: json.Marshal would HTML-escape its output.
			got, err := tc.item.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			assert.True(t, json.Valid(got))
		})
	}
}

// TestItemMarshalMatchesEncodingJSON checks the hand-written encoder of
// strings and floats against encoding/json on awkward inputs.
func TestItemMarshalMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", "\x00\x1f\x7f", "quote\"back\\slash", "ünï©ødé 日本", "\u2029", "a\xffb", "\xed\xa0\x80"}
	for _, s := range strs {
		got := appendJSONString(nil, s)
		assert.True(t, utf8.Valid(got), "%q encodes to invalid UTF-8", s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%q", s)
		want, _ := json.Marshal(s)
		var wantBack string
		require.NoError(t, json.Unmarshal(want, &wantBack))
		assert.Equal(t, wantBack, back, "%q", s)
	}
	floats := []float64{0.1, 999.99, 99.9, 1111.1, 1e-7, 123456789e-20, 1e20, 1e21, -3.5e300, 5e-324, math.MaxFloat64}
	for _, f := range floats {
		want, _ := json.Marshal(f)
		assert.Equal(t, string(want), string(appendJSONFloat(nil, f, 64)), "%v", f)
	}
	for _, f := range []float32{0.1, 1e-7, 3.4e38} {
		want, _ := json.Marshal(f)
		assert.Equal(t, string(want), string(appendJSONFloat(nil, float64(f), 32)), "%v", f)
	}
}

func TestItemMarshalErrors(t *testing.T) {
	cases := map[string]Item{
		"nan typed":      {Opportunity: math.NaN()},
		"inf in fields":  {Fields: map[string]any{"ufCrm_1": []any{math.Inf(1)}}},
		"bad date":       {Closedate: NewDate(2024, 2, 30)},
		"bad number":     {Fields: map[string]any{"ufCrm_1": json.Number("1e")}},
		"bad raw json":   {Fields: map[string]any{"ufCrm_1": json.RawMessage(`{`)}},
		"channel":        {Fields: map[string]any{"ufCrm_1": make(chan int)}},
		"func":           {Fields: map[string]any{"ufCrm_1": func() {}}},
		"complex":        {Fields: map[string]any{"ufCrm_1": complex(1, 2)}},
		"year 10000":     {MovedTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"nested too far": {Fields: map[string]any{"ufCrm_1": deepValue(maxValueDepth + 2)}},
	}
	for name, it := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := json.Marshal(it)
			assert.Error(t, err)
		})
	}
}

func deepValue(n int) any {
	var v any = "leaf"
	for range n {
		v = []any{v}
	}
	return v
}

func TestItemUnmarshalRoundTrip(t *testing.T) {
	msk := time.FixedZone("", 3*3600)
	in := Item{
		Title: "Иванов & Co", Name: "Ivan", SecondName: "I.", LastName: "Ivanov", Honorific: "HNR_RU_1",
		Birthdate: NewDate(1980, 12, 31), Post: "CEO", CompanyTitle: "Co", MycompanyID: 1,
		TypeID: "CUSTOMER", CategoryID: 3, StageID: "C3:NEW", IsRecurring: No, Probability: 10,
		CurrencyID: "EUR", IsManualOpportunity: Yes, Opportunity: 10.25, TaxValue: 1.5,
		CompanyID: 8, ContactID: 9, ContactIDs: []int64{9, 10}, CompanyIDs: []int64{8}, QuoteID: 2, LeadID: 3,
		Begindate: NewDate(2024, 1, 1), Closedate: NewDate(2024, 12, 31), Opened: Yes, Comments: "[B]x[/B]\nline",
		AssignedByID: 1, SourceID: "CALL", SourceDescription: "d", AdditionalInfo: "i", Observers: []int64{1},
		OriginatorID: "legacy-crm", OriginID: "A-17", XMLID: "x-1",
		UTMSource: "s", UTMMedium: "m", UTMCampaign: "c", UTMContent: "ct", UTMTerm: "t",
		CreatedTime: time.Date(2020, 1, 2, 3, 4, 5, 0, msk), UpdatedTime: time.Date(2021, 1, 2, 3, 4, 5, 0, msk),
		MovedTime: time.Date(2020, 6, 2, 3, 4, 5, 0, msk), CreatedBy: 1, UpdatedBy: 2, MovedBy: 3,
		Phones: []Multifield{{Value: "+1", ValueType: "WORK"}}, Emails: []Multifield{{Value: "a@b", ValueType: "HOME"}},
		Webs: []Multifield{{Value: "w", ValueType: "OTHER"}}, IMs: []Multifield{{Value: "i", ValueType: "SKYPE"}},
		Parents: map[EntityTypeID]int64{1220: 2, 31: 4},
		Fields: map[string]any{
			"ufCrm_1": json.Number("1111.10"), "ufCrm_2": "text", "ufCrm_3": []any{json.Number("1"), "a", true, nil},
			"ufCrm_4": map[string]any{"k": "v"}, "isReccurring": "Y", "UF_CRM_5": "x",
		},
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out Item
	require.NoError(t, json.Unmarshal(b, &out))
	// time.Time equality includes the location pointer; compare instants.
	for _, p := range [][2]*time.Time{{&in.CreatedTime, &out.CreatedTime}, {&in.UpdatedTime, &out.UpdatedTime}, {&in.MovedTime, &out.MovedTime}} {
		assert.True(t, p[0].Equal(*p[1]), "%v vs %v", *p[0], *p[1])
		_, off := p[1].Zone()
		assert.Equal(t, 3*3600, off)
		*p[0], *p[1] = time.Time{}, time.Time{}
	}
	assert.Equal(t, in, out)
	b2, err := json.Marshal(out)
	require.NoError(t, err)
	assert.Equal(t, string(b)[:0], string(b2)[:0])

	// Decoding into a used Item starts from scratch.
	used := Item{Title: "old", Fields: map[string]any{"x": 1}}
	require.NoError(t, json.Unmarshal([]byte(`{"name":"n"}`), &used))
	assert.Equal(t, Item{Name: "n"}, used)
}

func TestItemUnmarshalLenient(t *testing.T) {
	var it Item
	require.NoError(t, json.Unmarshal([]byte(`{"categoryId":"9","probability":"50","opportunity":"999.99",
		"opened":true,"isRecurring":"n","originId":123,"contactIds":["4",5],"observers":7,
		"begindate":"2024-07-17T23:00:00+03:00","title":null,"parentId1220":"2","parentIdX":1,"parentId0":1,
		"parentId5":null,"PHONE":null,"ufCrm_1":null}`), &it))
	assert.Equal(t, Item{
		CategoryID: 9, Probability: 50, Opportunity: 999.99, Opened: Yes, IsRecurring: No, OriginID: "123",
		ContactIDs: []int64{4, 5}, Observers: []int64{7}, Begindate: NewDate(2024, 7, 17),
		Parents: map[EntityTypeID]int64{1220: 2},
		Fields:  map[string]any{"parentIdX": json.Number("1"), "parentId0": json.Number("1"), "ufCrm_1": nil},
	}, it)

	bad := []string{
		`[]`, `{"categoryId":"x"}`, `{"opened":"maybe"}`, `{"createdTime":"2024-07-17 10:00:00"}`,
		`{"begindate":"17.07.2024"}`, `{"contactIds":["a"]}`, `{"PHONE":"x"}`, `{"parentId5":"q"}`, `{"opportunity":"abc"}`,
	}
	for _, s := range bad {
		var it Item
		err := json.Unmarshal([]byte(s), &it)
		assert.Error(t, err, s)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "b24: "), err.Error())
		}
	}
}

func BenchmarkItemAppendJSON(b *testing.B) {
	deal := exampleDeal()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = deal.appendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkItemUnmarshal(b *testing.B) {
	raw, err := json.Marshal(exampleDeal())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var it Item
		if err := json.Unmarshal(raw, &it); err != nil {
			b.Fatal(err)
		}
	}
}

// flakyMarshaler fails from its second encoding on: validation passes it,
// encoding then refuses it.
type flakyMarshaler struct{ calls *int }

func (m flakyMarshaler) MarshalJSON() ([]byte, error) {
	if *m.calls++; *m.calls > 1 {
		return nil, errors.New("gone")
	}
	return []byte(`"ok"`), nil
}

// TestAppendJSONFailureLeavesBuffer: on error appendJSON hands dst back as
// it was, so the engine can drop the item from a call being built and send
// the others (it used to get nil back and panic slicing it).
func TestAppendJSONFailureLeavesBuffer(t *testing.T) {
	bad := Item{Title: "x", Fields: map[string]any{"ufCrm_1": []any{1, math.NaN()}}}
	out, err := bad.appendJSON([]byte("prefix"))
	require.Error(t, err)
	assert.Equal(t, "prefix", string(out))
	assert.Equal(t, `b24: item field "ufCrm_1[1]": NaN is not a number the portal can store`, err.Error())
	b, err := bad.MarshalJSON()
	assert.Nil(t, b)
	assert.Error(t, err)

	calls := 0
	flaky := Item{Title: "flaky", Fields: map[string]any{"ufCrm_1": flakyMarshaler{&calls}}}
	require.NoError(t, flaky.Validate(EntityDeal))
	e := &engine{et: EntityDeal}
	body, sendable, rejected := e.encodeCall([]pendingItem{{index: 0, item: &Item{Title: "a"}}, {index: 1, item: &flaky}, {index: 2, item: &Item{Title: "b"}}})
	assert.Equal(t, `{"entityTypeId":2,"data":[{"title":"a"},{"title":"b"}]}`, string(body))
	assert.Len(t, sendable, 2)
	require.Len(t, rejected, 1)
	assert.Equal(t, 1, rejected[0].Index)
	assert.Equal(t, ItemRejected, rejected[0].Status)
	assert.Contains(t, rejected[0].Err.Error(), "gone")
}
