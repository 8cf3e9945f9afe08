package b24

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validateNow is the fixed clock of the validation tests.
var validateNow = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return validateNow }

func ago(d time.Duration) time.Time { return validateNow.Add(-d) }

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

type okMarshaler struct{}

func (okMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"ok"`), nil }

func TestValidateAcceptsValidItems(t *testing.T) {
	cases := []struct {
		name     string
		et       EntityTypeID
		original bool
		item     Item
	}{
		{"empty deal", EntityDeal, false, Item{}},
		{"docs deal", EntityDeal, false, exampleDeal()},
		{"lead with multifields", EntityLead, false, Item{Name: "Ann",
			Phones: []Multifield{{Value: "+4930123", ValueType: "WORK"}}, Emails: []Multifield{{Value: "a@b.c", ValueType: "HOME"}},
			Webs: []Multifield{{Value: "b.c", ValueType: "OTHER"}}, IMs: []Multifield{{Value: "@ann", ValueType: "TELEGRAM"}}}},
		{"contact and company multifields", EntityCompany, false, Item{Phones: []Multifield{{Value: "1", ValueType: "FAX"}}}},
		{"smart process", 1030, false, Item{Title: "t", XMLID: "ext-1", Parents: map[EntityTypeID]int64{2: 5},
			Fields: map[string]any{"ufCrm44_1721812760630": []any{1, 2}, "ufCrm_5": File{Name: "a.png", Content: []byte{1}}}}},
		{"known non-typed fields", EntityQuote, false, Item{Fields: map[string]any{"dealId": 3, "statusDescription": "s", "webformId": 1, "LOCATION_ID": "x"}}},
		{"new field far from any known name", EntityDeal, false, Item{Fields: map[string]any{"someBrandNewThing": "x", "abc": 1}}},
		{"original uf names", EntityDeal, true, Item{Fields: map[string]any{"UF_CRM_1721244707107": 1.5}}},
		{"nested values", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": map[string]any{"a": []any{json.Number("1.5"), nil, true, "é"}},
			"ufCrm_2": []string{"x"}, "ufCrm_3": json.RawMessage(`{"a":1}`), "ufCrm_4": struct{ A []float64 }{A: []float64{1}},
			"ufCrm_5": okMarshaler{}, "ufCrm_6": []File{{Name: "f", Content: nil}}, "ufCrm_7": Yes, "ufCrm_8": NewDate(2024, 1, 1),
			"ufCrm_9": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "ufCrm_10": map[int]string{1: "a"}, "ufCrm_11": (*File)(nil),
			"ufCrm_12": []byte{0xff}, "ufCrm_13": float32(1.5), "ufCrm_14": []int64{1}}}},
		{"history complete", EntityDeal, false, Item{CreatedTime: ago(48 * time.Hour), UpdatedTime: ago(time.Hour),
			MovedTime: ago(24 * time.Hour), CreatedBy: 1, UpdatedBy: 2, MovedBy: 3}},
		{"history bounds inclusive", EntityDeal, false, Item{CreatedTime: validateNow, UpdatedTime: validateNow, MovedTime: validateNow}},
		{"moved equals created without updated", EntityDeal, false, Item{CreatedTime: ago(time.Hour), MovedTime: ago(time.Hour)}},
		{"sub-second differences do not count", EntityDeal, false, Item{CreatedTime: ago(time.Hour).Add(900 * time.Millisecond),
			MovedTime: ago(time.Hour).Add(100 * time.Millisecond)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ie := newItemValidator(tc.et, tc.original, fixedNow).check(&tc.item)
			assert.Nil(t, ie)
		})
	}
}

func TestValidateRefusesBadItems(t *testing.T) {
	bad := "a\xffb"
	cases := []struct {
		name     string
		et       EntityTypeID
		original bool
		item     Item
		code     string
		contains string
	}{
		// Misspellings of typed and known fields.
		{"isReccurring typo", EntityDeal, false, Item{Fields: map[string]any{"isReccurring": "Y"}}, CodeFieldTypo, "isRecurring (set Item.IsRecurring)"},
		{"assignedByld typo", EntityDeal, false, Item{Fields: map[string]any{"assignedByld": 1}}, CodeFieldTypo, "Item.AssignedByID"},
		{"birthday typo", EntityContact, false, Item{Fields: map[string]any{"birthday": "2000-01-01"}}, CodeFieldTypo, "birthdate"},
		{"upper snake typo", EntityDeal, false, Item{Fields: map[string]any{"IS_RECCURRING": "Y"}}, CodeFieldTypo, "isRecurring"},
		{"known field typo", EntityLead, false, Item{Fields: map[string]any{"statusDescripton": "x"}}, CodeFieldTypo, `"statusDescription"`},
		// Typed fields in Fields.
		{"title in fields", EntityDeal, false, Item{Fields: map[string]any{"title": "x"}}, CodeDuplicateField, "Item.Title"},
		{"title twice", EntityDeal, false, Item{Title: "a", Fields: map[string]any{"title": "b"}}, CodeDuplicateField, "Item.Title"},
		{"upper-case system name", EntityDeal, false, Item{Fields: map[string]any{"TITLE": "x"}}, CodeDuplicateField, "Item.Title"},
		{"snake typed name", EntityDeal, false, Item{Fields: map[string]any{"assigned_by_id": 1}}, CodeDuplicateField, "Item.AssignedByID"},
		{"short typed name other case", EntityLead, false, Item{Fields: map[string]any{"Name": "x"}}, CodeDuplicateField, "Item.Name"},
		{"phone in fields", EntityLead, false, Item{Fields: map[string]any{"PHONE": []any{}}}, CodeDuplicateField, "Item.Phones"},
		{"lower phone in fields", EntityLead, false, Item{Fields: map[string]any{"email": "a@b"}}, CodeDuplicateField, "Item.Emails"},
		{"parent in fields", EntityDeal, false, Item{Fields: map[string]any{"parentId1220": 2}}, CodeDuplicateField, "Item.Parents[1220]"},
		{"upper parent in fields", EntityDeal, false, Item{Fields: map[string]any{"PARENT_ID_31": 2}}, CodeDuplicateField, "Item.Parents[31]"},
		// Keys the portal cannot map.
		{"upper uf without option", EntityDeal, false, Item{Fields: map[string]any{"UF_CRM_1721244707107": 1}}, CodeInvalidField, `"ufCrm_1721244707107"`},
		{"upper spa uf without option", 1030, false, Item{Fields: map[string]any{"UF_CRM_44_1721812760630": 1}}, CodeInvalidField, `"ufCrm44_1721812760630"`},
		{"named upper uf", EntityDeal, false, Item{Fields: map[string]any{"UF_CRM_MY_FIELD": 1}}, CodeInvalidField, "crm.item.fields"},
		{"camel uf with original names", EntityDeal, true, Item{Fields: map[string]any{"ufCrm_1": 1}}, CodeInvalidField, "UF_CRM_"},
		{"empty key", EntityDeal, false, Item{Fields: map[string]any{"": 1}}, CodeInvalidField, "empty field name"},
		{"space in key", EntityDeal, false, Item{Fields: map[string]any{"my field": 1}}, CodeInvalidField, `"my field"`},
		{"dot in key", EntityDeal, false, Item{Fields: map[string]any{"a.b": 1}}, CodeInvalidField, "letters, digits and _"},
		{"cyrillic key", EntityDeal, false, Item{Fields: map[string]any{"поле": 1}}, CodeInvalidField, "letters, digits and _"},
		{"multifield on a deal", EntityDeal, false, Item{Phones: []Multifield{{Value: "1", ValueType: "WORK"}}}, CodeInvalidField, "a deal has no PHONE"},
		{"multifield on a smart process", 1030, false, Item{IMs: []Multifield{{Value: "1", ValueType: "SKYPE"}}}, CodeInvalidField, "smart process 1030 has no IM"},
		{"parent entity type zero", EntityDeal, false, Item{Parents: map[EntityTypeID]int64{0: 1}}, CodeInvalidField, "Parents"},
		// Values.
		{"typed non-utf8", EntityDeal, false, Item{Title: bad}, CodeInvalidValue, "title: not valid UTF-8"},
		{"fields non-utf8", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": bad}}, CodeInvalidValue, "ufCrm_1: not valid UTF-8"},
		{"nested non-utf8", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": []any{"ok", map[string]any{"k": bad}}}}, CodeInvalidValue, "ufCrm_1[1].k: not valid UTF-8"},
		{"nested key non-utf8", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": map[string]any{bad: 1}}}, CodeInvalidValue, "key is not valid UTF-8"},
		{"string slice non-utf8", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": []string{"a", bad}}}, CodeInvalidValue, "ufCrm_1[1]"},
		{"struct field non-utf8", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": struct{ S string }{S: bad}}}, CodeInvalidValue, "ufCrm_1.S"},
		{"multifield value non-utf8", EntityLead, false, Item{Phones: []Multifield{{Value: bad, ValueType: "WORK"}}}, CodeInvalidValue, "PHONE[0]"},
		{"file name non-utf8", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": File{Name: bad}}}, CodeInvalidValue, "file name"},
		{"file without name", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": []File{{Content: []byte{1}}}}}, CodeInvalidValue, "ufCrm_1[0]: file without a name"},
		{"typed nan", EntityDeal, false, Item{Opportunity: math.NaN()}, CodeInvalidValue, "opportunity"},
		{"typed inf", EntityDeal, false, Item{TaxValue: math.Inf(-1)}, CodeInvalidValue, "taxValue"},
		{"fields nan", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": math.NaN()}}, CodeInvalidValue, "NaN"},
		{"nested inf", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": map[string]any{"a": []any{math.Inf(1)}}}}, CodeInvalidValue, "ufCrm_1.a[0]"},
		{"float32 inf", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": float32(math.Inf(1))}}, CodeInvalidValue, "+Inf"},
		{"reflected nan", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": []float64{1, math.NaN()}}}, CodeInvalidValue, "ufCrm_1[1]"},
		{"channel", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": make(chan int)}}, CodeInvalidValue, "chan int"},
		{"func", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": func() {}}}, CodeInvalidValue, "cannot be sent"},
		{"complex", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": complex(1, 2)}}, CodeInvalidValue, "complex128"},
		{"nested channel", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": []any{map[string]any{"c": make(chan int)}}}}, CodeInvalidValue, "ufCrm_1[0].c"},
		{"map with bool keys", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": map[bool]int{true: 1}}}, CodeInvalidValue, "bool keys"},
		{"failing marshaler", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": failingMarshaler{}}}, CodeInvalidValue, "boom"},
		{"bad json number", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": json.Number("12a")}}, CodeInvalidValue, "not a number"},
		{"bad raw json", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": json.RawMessage(`{"a":`)}}, CodeInvalidValue, "raw JSON"},
		{"too deep", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": deepValue(maxValueDepth + 2)}}, CodeInvalidValue, "nested too deeply"},
		{"bad yes no", EntityDeal, false, Item{Opened: "y"}, CodeInvalidValue, `opened: "y" is not "Y" or "N"`},
		{"bad yes no in fields", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": YesNo("true")}}, CodeInvalidValue, `"true"`},
		{"bad date", EntityDeal, false, Item{Begindate: NewDate(2024, 2, 30)}, CodeInvalidValue, "begindate: 2024-02-30"},
		{"bad date in fields", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": NewDate(2024, 13, 1)}}, CodeInvalidValue, "calendar date"},
		{"time out of range", EntityDeal, false, Item{Fields: map[string]any{"ufCrm_1": time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}, CodeInvalidValue, "year"},
		{"negative id", EntityDeal, false, Item{CompanyID: -5}, CodeInvalidValue, "companyId: -5"},
		{"zero in id list", EntityDeal, false, Item{ContactIDs: []int64{4, 0}}, CodeInvalidValue, "contactIds[1]"},
		{"negative probability", EntityDeal, false, Item{Probability: -1}, CodeInvalidValue, "probability"},
		{"negative parent id", EntityDeal, false, Item{Parents: map[EntityTypeID]int64{1220: -2}}, CodeInvalidValue, "Parents[1220]"},
		{"empty multifield value", EntityLead, false, Item{Phones: []Multifield{{Value: " ", ValueType: "WORK"}}}, CodeInvalidValue, "PHONE[0]: empty VALUE"},
		{"empty multifield type", EntityContact, false, Item{Emails: []Multifield{{Value: "a@b"}}}, CodeInvalidValue, "EMAIL[0]: empty VALUE_TYPE"},
		{"lower-case multifield type", EntityLead, false, Item{Webs: []Multifield{{Value: "x", ValueType: "WORK"}, {Value: "y", ValueType: "work"}}}, CodeInvalidValue, `WEB[1]: VALUE_TYPE "work"`},
		{"negative createdBy", EntityDeal, false, Item{CreatedBy: -1}, CodeInvalidValue, "createdBy"},
		{"negative updatedBy", EntityDeal, false, Item{UpdatedBy: -1}, CodeInvalidValue, "updatedBy"},
		{"negative movedBy", EntityDeal, false, Item{MovedBy: -1}, CodeInvalidValue, "movedBy"},
		// History.
		{"updated without created", EntityDeal, false, Item{UpdatedTime: ago(time.Hour)}, CodeHistoryOrder, "updatedTime without createdTime"},
		{"moved without created", EntityDeal, false, Item{MovedTime: ago(time.Hour)}, CodeHistoryOrder, "movedTime without createdTime"},
		{"updated before created", EntityDeal, false, Item{CreatedTime: ago(time.Hour), UpdatedTime: ago(2 * time.Hour)}, CodeHistoryOrder, "before createdTime"},
		{"moved before created", EntityDeal, false, Item{CreatedTime: ago(time.Hour), UpdatedTime: ago(0), MovedTime: ago(2 * time.Hour)}, CodeHistoryOrder, "movedTime"},
		{"moved after updated", EntityDeal, false, Item{CreatedTime: ago(3 * time.Hour), UpdatedTime: ago(2 * time.Hour), MovedTime: ago(time.Hour)}, CodeHistoryOrder, "outside"},
		{"moved after created without updated", EntityDeal, false, Item{CreatedTime: ago(3 * time.Hour), MovedTime: ago(time.Hour)}, CodeHistoryOrder, "outside"},
		{"created in the future", EntityDeal, false, Item{CreatedTime: validateNow.Add(2 * time.Second)}, CodeHistoryOrder, "createdTime 2025-01-01T12:00:02Z is in the future"},
		{"updated in the future", EntityDeal, false, Item{CreatedTime: ago(time.Hour), UpdatedTime: validateNow.Add(time.Hour)}, CodeHistoryOrder, "updatedTime"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ie := newItemValidator(tc.et, tc.original, fixedNow).check(&tc.item)
			require.NotNil(t, ie, "item was accepted")
			assert.Equal(t, tc.code, ie.Code, ie.Description)
			assert.Contains(t, ie.Description, tc.contains)
			assert.Zero(t, ie.Index)
			assert.True(t, utf8Valid(ie.Description), "description is not UTF-8: %q", ie.Description)
			assert.Less(t, len(ie.Description), 300, "description too long")
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "?") == s }

func TestValidateHistoryOrderAcrossItems(t *testing.T) {
	v := newItemValidator(EntityDeal, false, fixedNow)
	steps := []struct {
		item Item
		code string // "" when accepted
	}{
		{Item{CreatedTime: ago(10 * time.Hour)}, ""},
		{Item{CreatedTime: ago(10 * time.Hour)}, ""}, // equal is allowed
		{Item{CreatedTime: ago(11 * time.Hour)}, CodeHistoryOrder},
		{Item{CreatedTime: ago(5 * time.Hour), Title: "a\xff"}, CodeInvalidValue}, // refused: must not move the mark
		{Item{CreatedTime: ago(9 * time.Hour).Add(900 * time.Millisecond)}, ""},
		{Item{CreatedTime: ago(9 * time.Hour).Add(100 * time.Millisecond)}, ""}, // same second on the wire
		{Item{Title: "no history"}, ""},
		{Item{CreatedTime: ago(time.Hour)}, CodeHistoryOrder}, // after an undated item the portal's mark is now
		{Item{Title: "still fine"}, ""},
	}
	for i, s := range steps {
		ie := v.check(&s.item)
		if s.code == "" {
			assert.Nil(t, ie, "step %d", i)
			continue
		}
		if assert.NotNil(t, ie, "step %d", i) {
			assert.Equal(t, s.code, ie.Code, "step %d: %s", i, ie.Description)
		}
	}
	ie := newItemValidator(EntityDeal, false, fixedNow).check(&Item{CreatedTime: ago(time.Hour)})
	assert.Nil(t, ie, "a new import starts without a mark")
}

func TestValidateReportsSmallestKeyFirst(t *testing.T) {
	it := Item{Fields: map[string]any{"zzz_bad key": 1, "title": "x", "isReccurring": "Y", "ufCrm_9": math.NaN()}}
	for range 20 {
		ie := newItemValidator(EntityDeal, false, fixedNow).check(&it)
		require.NotNil(t, ie)
		assert.Equal(t, CodeFieldTypo, ie.Code, "isReccurring sorts first")
	}
}

func TestValidateDescriptionsStayShort(t *testing.T) {
	long := strings.Repeat("ж", 5000)
	for _, it := range []Item{
		{Fields: map[string]any{long: 1}},
		{Fields: map[string]any{"UF_CRM_" + strings.Repeat("1", 5000): 1}},
		{Fields: map[string]any{"parentId" + strings.Repeat("7", 5000): 1}},
		{Fields: map[string]any{"ufCrm_" + strings.Repeat("x", 5000): map[string]any{strings.Repeat("k", 5000): math.NaN()}}},
		{Fields: map[string]any{strings.Repeat("x", 5000) + "isReccurring": 1, "title" + strings.Repeat("_", 5000): 1}},
		{Fields: map[string]any{"ufCrm_1": YesNo(long)}},
		{Opened: YesNo(long)},
		{Fields: map[string]any{"ufCrm_1": json.Number(long)}},
	} {
		ie := newItemValidator(EntityDeal, false, fixedNow).check(&it)
		require.NotNil(t, ie)
		assert.Less(t, len(ie.Description), 300)
		assert.True(t, utf8Valid(ie.Description))
	}
}

func TestValidateKeyCacheIsBounded(t *testing.T) {
	v := newItemValidator(EntityDeal, false, fixedNow)
	for i := range maxKeyCache + 100 {
		it := Item{Fields: map[string]any{"ufCrm_" + strings.Repeat("1", i%7+1) + "_" + string(rune('a'+i%26)) + strings.Repeat("x", i/26): 1}}
		require.Nil(t, v.check(&it))
	}
	assert.LessOrEqual(t, len(v.keys), maxKeyCache)
	// Cached verdicts are the same as fresh ones.
	bad := Item{Fields: map[string]any{"isReccurring": "Y"}}
	first, second := v.check(&bad), v.check(&bad)
	require.NotNil(t, first)
	assert.Equal(t, first, second)
}

func TestItemValidate(t *testing.T) {
	deal := exampleDeal()
	require.NoError(t, deal.Validate(EntityDeal))
	deal.Fields["TITLE"] = "x"
	err := deal.Validate(EntityDeal)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidInput)
	var ie *ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, CodeDuplicateField, ie.Code)
	assert.True(t, strings.HasPrefix(err.Error(), "b24: invalid item: B24_DUPLICATE_FIELD: "), err.Error())

	future := Item{CreatedTime: time.Now().Add(time.Hour)}
	assert.Error(t, future.Validate(EntityDeal), "Validate uses the real clock")
}

func TestLevenshtein(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"isreccurring", "isrecurring", 1}, {"dealid", "leadid", 2},
		{"kitten", "sitting", 3}, {"", "abcd", 3}, {"abcdef", "ab", 3},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, levenshtein(tc.a, tc.b, 3), "%s/%s", tc.a, tc.b)
	}
}

func BenchmarkValidate(b *testing.B) {
	deal := exampleDeal()
	v := newItemValidator(EntityDeal, false, fixedNow)
	b.ReportAllocs()
	for b.Loop() {
		if ie := v.check(&deal); ie != nil {
			b.Fatal(ie)
		}
	}
}

type failingText struct{}

func (failingText) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

// complexMarshaler is of a kind JSON cannot carry, but marshals itself.
type complexMarshaler complex128

func (complexMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"1+2i"`), nil }

// TestValidateJudgesMarshalersByTheirOutput: a type that marshals itself,
// as JSON or as text, is accepted or refused on what it writes, by
// validation and encoding alike.
func TestValidateJudgesMarshalersByTheirOutput(t *testing.T) {
	bad := Item{Fields: map[string]any{"ufCrm_1": map[string]any{"a": failingText{}}}}
	ie := newItemValidator(EntityDeal, false, fixedNow).check(&bad)
	require.NotNil(t, ie)
	assert.Equal(t, CodeInvalidValue, ie.Code)
	assert.Contains(t, ie.Description, "ufCrm_1.a: cannot be encoded")
	assert.Contains(t, ie.Description, "no text")
	_, err := bad.MarshalJSON()
	assert.Error(t, err)

	good := Item{Fields: map[string]any{"ufCrm_1": complexMarshaler(1 + 2i), "ufCrm_2": []any{complexMarshaler(0)}}}
	assert.Nil(t, newItemValidator(EntityDeal, false, fixedNow).check(&good))
	b, err := good.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"ufCrm_1":"1+2i","ufCrm_2":["1+2i"]}`, string(b))
}

// TestValidateNestedProblemIsDeterministic: with several problems inside
// one value, the one under the smallest key is reported, whatever the map
// order.
func TestValidateNestedProblemIsDeterministic(t *testing.T) {
	it := Item{Fields: map[string]any{"ufCrm_1": map[string]any{
		"z": math.NaN(), "b": []any{"ok", "a\xff"}, "m": math.Inf(1), "c": YesNo("x"),
	}}}
	for range 50 {
		ie := newItemValidator(EntityDeal, false, fixedNow).check(&it)
		require.NotNil(t, ie)
		assert.Equal(t, "ufCrm_1.b[1]: not valid UTF-8", ie.Description)
	}
}

// TestValidateRefusesNULBytes: a string with a NUL byte, anywhere in an
// item, is refused before sending (the portal's PHP and database side cut
// such strings short or refuse them), with a description that says so.
func TestValidateRefusesNULBytes(t *testing.T) {
	for name, it := range map[string]Item{
		"typed field":       {Title: "before\x00after"},
		"dedup key":         {OriginatorID: "crm", OriginID: "7\x00"},
		"Fields string":     {Fields: map[string]any{"ufCrm_1": "a\x00b"}},
		"nested in Fields":  {Fields: map[string]any{"ufCrm_1": []any{map[string]any{"x": "\x00"}}}},
		"Fields []string":   {Fields: map[string]any{"ufCrm_1": []string{"ok", "n\x00o"}}},
		"multifield value":  {Phones: []Multifield{{Value: "+49\x0030", ValueType: "WORK"}}},
		"multifield on key": {Emails: []Multifield{{Value: "a@b.c", ValueType: "WO\x00RK"}}},
	} {
		t.Run(name, func(t *testing.T) {
			ie := newItemValidator(EntityLead, false, fixedNow).check(&it)
			require.NotNil(t, ie, "a NUL byte must not reach the portal")
			assert.Equal(t, CodeInvalidValue, ie.Code)
			if name != "multifield on key" { // refused as not upper case
				assert.Contains(t, ie.Description, "NUL")
			}
		})
	}
}
