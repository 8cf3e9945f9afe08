package b24

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24/internal/dedup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exampleDeal is the first deal of the example request on the
// crm.item.batchImport page of the Bitrix24 REST docs, with isRecurring
// spelled correctly and fixed dates in place of the page's placeholders.
func exampleDeal() Item {
	return Item{
		Title:               "New deal (specifically for REST method examples)",
		TypeID:              "SERVICE",
		CategoryID:          9,
		StageID:             "C9:UC_KN8KFI",
		IsRecurring:         Yes,
		Probability:         50,
		CurrencyID:          "RUB",
		IsManualOpportunity: Yes,
		Opportunity:         999.99,
		TaxValue:            99.9,
		CompanyID:           5,
		ContactID:           4,
		ContactIDs:          []int64{4, 5},
		QuoteID:             7,
		Begindate:           NewDate(2024, time.June, 17),
		Closedate:           NewDate(2024, time.July, 29),
		Opened:              No,
		Comments:            "commentsExample",
		AssignedByID:        6,
		SourceID:            "WEB",
		SourceDescription:   "There should be an additional description about the source",
		LeadID:              102,
		AdditionalInfo:      "There should be additional information",
		Observers:           []int64{2, 3},
		UTMSource:           "google",
		UTMMedium:           "CPC",
		Parents:             map[EntityTypeID]int64{1220: 2},
		Fields:              map[string]any{"ufCrm_1721244707107": 1111.1},
	}
}

func TestEntityTypeID(t *testing.T) {
	names := map[EntityTypeID]string{
		EntityLead: "lead", EntityDeal: "deal", EntityContact: "contact", EntityCompany: "company",
		EntityQuote: "quote", EntitySmartInvoice: "invoice", 1030: "smart process 1030", 14: "entity type 14",
	}
	for et, name := range names {
		assert.Equal(t, name, et.String())
	}
	assert.True(t, EntityTypeID(128).IsSmartProcess())
	assert.False(t, EntitySmartInvoice.IsSmartProcess())

	parse := map[string]EntityTypeID{
		"lead": EntityLead, "Deal": EntityDeal, " contact ": EntityContact, "COMPANY": EntityCompany,
		"quote": EntityQuote, "invoice": EntitySmartInvoice, "1030": 1030, "2": EntityDeal,
	}
	for s, want := range parse {
		got, err := ParseEntityTypeID(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "deals", "0", "-2", "1.5", "x1"} {
		_, err := ParseEntityTypeID(s)
		assert.ErrorIs(t, err, ErrInvalidInput, s)
	}
}

func TestDate(t *testing.T) {
	d, err := ParseDate("2024-02-29")
	require.NoError(t, err)
	assert.Equal(t, NewDate(2024, time.February, 29), d)
	assert.Equal(t, "2024-02-29", d.String())
	assert.True(t, d.IsValid())
	assert.Equal(t, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), d.In(time.UTC))
	assert.Equal(t, d, DateOf(time.Date(2024, 2, 29, 23, 59, 0, 0, time.FixedZone("", -5*3600))))

	zero, err := ParseDate("")
	require.NoError(t, err)
	assert.True(t, zero.IsZero())
	assert.Equal(t, "", zero.String())
	assert.False(t, zero.IsValid())

	for _, s := range []string{"2023-02-29", "2024-13-01", "24-01-01", "2024/01/01"} {
		_, err := ParseDate(s)
		assert.ErrorIs(t, err, ErrInvalidInput, s)
	}
	assert.False(t, NewDate(2023, 2, 29).IsValid())

	// As a plain JSON value (outside Item) Date is a text marshaller.
	b, err := json.Marshal(map[string]Date{"d": d})
	require.NoError(t, err)
	assert.Equal(t, `{"d":"2024-02-29"}`, string(b))
	var back map[string]Date
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, d, back["d"])
	_, err = json.Marshal(NewDate(2024, 2, 30))
	assert.Error(t, err)
}

func TestFileAndMultifieldJSON(t *testing.T) {
	f := File{Name: "логотип.png", Content: []byte("\x89PNG")}
	b, err := json.Marshal(f)
	require.NoError(t, err)
	assert.Equal(t, `["логотип.png","iVBORw=="]`, string(b))
	var back File
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, f, back)
	assert.Error(t, json.Unmarshal([]byte(`["a"]`), &back))
	assert.Error(t, json.Unmarshal([]byte(`["a","!!"]`), &back))

	m := Multifield{Value: "+7 495", ValueType: "WORK"}
	b, err = json.Marshal(m)
	require.NoError(t, err)
	assert.Equal(t, `{"VALUE":"+7 495","VALUE_TYPE":"WORK"}`, string(b))
	var mb Multifield
	require.NoError(t, json.Unmarshal(b, &mb))
	assert.Equal(t, m, mb)
}

func TestYesNo(t *testing.T) {
	assert.Equal(t, Yes, YesNoOf(true))
	assert.Equal(t, No, YesNoOf(false))
	assert.True(t, Yes.Bool())
	assert.False(t, No.Bool())
	assert.False(t, YesNo("").Bool())
}

func TestDedupKeyOf(t *testing.T) {
	keyed := &Item{OriginatorID: "crm1", OriginID: "42", XMLID: "x42"}
	half := &Item{OriginID: "42"}
	for _, et := range []EntityTypeID{EntityLead, EntityDeal, EntityContact, EntityCompany} {
		k, ok := dedupKeyOf(et, keyed)
		assert.Equal(t, []any{dedup.Key{OriginatorID: "crm1", OriginID: "42"}, true}, []any{k, ok}, et.String())
		_, ok = dedupKeyOf(et, half)
		assert.False(t, ok, et.String())
	}
	for _, et := range []EntityTypeID{EntitySmartInvoice, 36, 128, 1030} {
		k, ok := dedupKeyOf(et, keyed)
		assert.Equal(t, []any{dedup.Key{XMLID: "x42"}, true}, []any{k, ok}, et.String())
		_, ok = dedupKeyOf(et, half)
		assert.False(t, ok, et.String())
	}
	for _, et := range []EntityTypeID{EntityQuote, 5, 14, 0} {
		_, ok := dedupKeyOf(et, keyed)
		assert.False(t, ok, et.String())
	}
}

func TestImport(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) {
		ok(w, map[string]any{"item": map[string]any{"id": "15"}})
	})
	c, _ := testClient(t, webhookFor(t, p))
	id, err := c.CRMItem.Import(t.Context(), EntityDeal, exampleDeal())
	require.NoError(t, err)
	assert.EqualValues(t, 15, id)

	reqs := p.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "crm.item.import", reqs[0].Method)
	golden, err := os.ReadFile(filepath.Join("testdata", "deal_example.golden.json"))
	require.NoError(t, err)
	assert.Equal(t, `{"entityTypeId":2,"fields":`+strings.TrimSpace(string(golden))+`}`, reqs[0].Raw)
}

func TestImportRejectsInvalidItemWithoutSending(t *testing.T) {
	p := newPortal(t, func(w http.ResponseWriter, r recorded) { ok(w, map[string]any{"item": map[string]any{"id": 1}}) })
	c, _ := testClient(t, webhookFor(t, p))
	deal := exampleDeal()
	deal.Fields["isReccurring"] = "Y"
	_, err := c.CRMItem.Import(t.Context(), EntityDeal, deal)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidInput)
	var ie *ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, CodeFieldTypo, ie.Code)
	assert.Contains(t, err.Error(), "isReccurring")
	assert.True(t, strings.HasPrefix(err.Error(), "b24: crm.item.import: "), err.Error())

	_, err = c.CRMItem.Import(t.Context(), 0, exampleDeal())
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Zero(t, p.calls.Load())
}

func TestImportErrors(t *testing.T) {
	answers := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { apiError(w, 400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", "only admin can set") },
		func(w http.ResponseWriter) { ok(w, map[string]any{"item": map[string]any{}}) },
		func(w http.ResponseWriter) { ok(w, []any{}) },
	}
	for i, answer := range answers {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p := newPortal(t, func(w http.ResponseWriter, r recorded) { answer(w) })
			c, _ := testClient(t, webhookFor(t, p))
			id, err := c.CRMItem.Import(t.Context(), EntityDeal, Item{Title: "x"})
			assert.Error(t, err)
			assert.Zero(t, id)
		})
	}
	p := newPortal(t, func(w http.ResponseWriter, r recorded) {
		apiError(w, 400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", "only admin can set")
	})
	c, _ := testClient(t, webhookFor(t, p))
	_, err := c.CRMItem.Import(t.Context(), EntityDeal, Item{Title: "x"})
	var ae *APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "CRM_FIELD_ERROR_VALUE_NOT_VALID", ae.Code)
}

func ExampleItem() {
	deal := Item{
		Title:       "Annual contract",
		StageID:     "C9:NEW",
		Opportunity: 1200.5,
		CurrencyID:  "EUR",
		Opened:      No,
		Closedate:   NewDate(2025, time.March, 31),
		CreatedTime: time.Date(2024, 7, 17, 10, 0, 0, 0, time.FixedZone("CET", 2*3600)),
		// Exactly-once: the import can find this deal again by this pair.
		OriginatorID: "legacy-crm",
		OriginID:     "D-1001",
		Parents:      map[EntityTypeID]int64{1220: 2},
		Fields:       map[string]any{"ufCrm_1721244707107": "600|EUR"},
	}
	b, err := json.Marshal(deal)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output:
	// {"title":"Annual contract","stageId":"C9:NEW","currencyId":"EUR","opportunity":1200.5,"closedate":"2025-03-31","opened":"N","originatorId":"legacy-crm","originId":"D-1001","createdTime":"2024-07-17T10:00:00+02:00","parentId1220":2,"ufCrm_1721244707107":"600|EUR"}
}

func ExampleItem_Validate() {
	deal := Item{Title: "Copied from the docs", Fields: map[string]any{"isReccurring": "Y"}}
	err := deal.Validate(EntityDeal)
	fmt.Println(err)
	// Output:
	// b24: invalid item: B24_FIELD_TYPO: isReccurring: looks like a misspelling of isRecurring (set Item.IsRecurring); the portal would ignore it silently
}

func ExampleParseDate() {
	d, err := ParseDate("2024-07-17")
	if err != nil {
		panic(err)
	}
	fmt.Println(d, d.Month, d.IsValid())
	// Output:
	// 2024-07-17 July true
}
