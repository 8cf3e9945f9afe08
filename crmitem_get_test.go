package b24

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A lead as crm.item.get answers it: camelCase, ids as numbers or
// strings, dates as datetimes at midnight, multifields in fm with their
// ids, flat aliases of them, parent links, nulls.
const leadAnswer = `{
	"id": "77", "entityTypeId": 1, "title": "Lead #77", "name": "Ida", "lastName": null,
	"assignedById": "6", "opened": "Y", "isManualOpportunity": "N", "opportunity": "1250.50",
	"currencyId": "EUR", "stageId": "IN_PROCESS", "stageSemanticId": "P",
	"birthdate": "1987-03-04T02:00:00+02:00", "createdTime": "2024-07-22T18:00:08+02:00",
	"companyId": 0, "contactIds": ["12", 13], "observers": [],
	"originatorId": "old-crm", "originId": 9001,
	"fm": [{"id": 101, "valueType": "WORK", "value": "+49 30 1", "typeId": "PHONE"},
	       {"id": "102", "valueType": "HOME", "value": "ida@example.com", "typeId": "EMAIL"}],
	"phone": "+49 30 1", "emailHome": "ida@example.com",
	"parentId1222": null, "parentId1226": "15",
	"ufCrm_1720019876534": "321", "ufCrm_2": [1, 2], "ufCrm_3": null
}`

func TestDecodePortalItem(t *testing.T) {
	var rec ItemRecord
	require.NoError(t, json.Unmarshal([]byte(leadAnswer), &rec))
	assert.Equal(t, int64(77), rec.ID)
	it := rec.Item
	assert.Equal(t, "Lead #77", it.Title)
	assert.Equal(t, int64(6), it.AssignedByID)
	assert.Equal(t, Yes, it.Opened)
	assert.Equal(t, No, it.IsManualOpportunity)
	assert.Equal(t, 1250.5, it.Opportunity)
	assert.Equal(t, NewDate(1987, 3, 4), it.Birthdate)
	assert.True(t, it.CreatedTime.Equal(time.Date(2024, 7, 22, 16, 0, 8, 0, time.UTC)))
	assert.Equal(t, []int64{12, 13}, it.ContactIDs)
	assert.Equal(t, "9001", it.OriginID)
	assert.Equal(t, []Multifield{{Value: "+49 30 1", ValueType: "WORK"}}, it.Phones)
	assert.Equal(t, []Multifield{{Value: "ida@example.com", ValueType: "HOME"}}, it.Emails)
	assert.Equal(t, map[EntityTypeID]int64{1226: 15}, it.Parents)
	assert.Equal(t, "321", it.Fields["ufCrm_1720019876534"])
	assert.Equal(t, []any{json.Number("1"), json.Number("2")}, it.Fields["ufCrm_2"])
	assert.Equal(t, "P", it.Fields["stageSemanticId"], "fields without a typed one land in Fields")
	assert.NotContains(t, it.Fields, "ufCrm_3", "nulls are left out")
	assert.NotContains(t, it.Fields, "entityTypeId")
	assert.NotContains(t, it.Fields, "id")

	p, err := decodePortalItem([]byte(leadAnswer))
	require.NoError(t, err)
	assert.True(t, p.hasFM)
	assert.Equal(t, []fmEntry{{101, "PHONE", "WORK", "+49 30 1"}, {102, "EMAIL", "HOME", "ida@example.com"}}, p.fm)

	// A value a typed field cannot take is kept, not fatal.
	require.NoError(t, json.Unmarshal([]byte(`{"id":1,"opened":"maybe","probability":"n/a"}`), &rec))
	assert.Equal(t, "maybe", rec.Item.Fields["opened"])
	assert.Equal(t, "n/a", rec.Item.Fields["probability"])
	assert.Error(t, json.Unmarshal([]byte(`[1]`), &rec))
}

func TestPortalDate(t *testing.T) {
	for in, want := range map[string]Date{
		"2024-06-18":                NewDate(2024, 6, 18),
		"2024-06-18T02:00:00+02:00": NewDate(2024, 6, 18), // midnight UTC in the portal's offset
		"2024-06-17T19:00:00-05:00": NewDate(2024, 6, 18),
		"2024-06-18T00:00:00+03:00": NewDate(2024, 6, 18), // midnight in its own zone
		"2024-06-18T15:30:00+02:00": NewDate(2024, 6, 18),
	} {
		got, err := portalDate(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

func TestPlanUpdateComparesAsThePortal(t *testing.T) {
	var cur portalItem
	p, err := decodePortalItem([]byte(leadAnswer))
	require.NoError(t, err)
	cur = *p
	same := Item{Title: "Lead #77", AssignedByID: 6, Opened: Yes, IsManualOpportunity: No, Opportunity: 1250.5,
		Birthdate: NewDate(1987, 3, 4), ContactIDs: []int64{13, 12}, OriginatorID: "OLD-CRM", OriginID: "9001",
		Phones: []Multifield{{Value: "+49301", ValueType: "WORK"}}, Emails: []Multifield{{Value: "IDA@example.com", ValueType: "HOME"}},
		Parents: map[EntityTypeID]int64{1226: 15}, CreatedTime: time.Now(),
		Fields: map[string]any{"ufCrm_1720019876534": 321, "ufCrm_2": []int64{2, 1}, "ufCrm_3": Clear}}
	fields, needFM, err := planUpdate(&same, &cur, true)
	require.NoError(t, err)
	assert.False(t, needFM)
	assert.Empty(t, fields, "every value is there already")

	changed := same
	changed.Opportunity = 1250.51
	changed.Phones = []Multifield{{Value: "+49 30 1", ValueType: "WORK"}, {Value: "+1", ValueType: "MOBILE"}}
	changed.Emails = nil
	changed.Fields = map[string]any{"EMAIL": Clear, "ufCrm_2": []int64{1}}
	fields, _, err = planUpdate(&changed, &cur, true)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"opportunity": json.Number("1250.51"),
		"ufCrm_2":     []any{json.Number("1")},
		"fm": map[string]any{
			"102": map[string]any{"typeId": "EMAIL", "value": ""},
			"n0":  map[string]any{"typeId": "PHONE", "valueType": "MOBILE", "value": "+1"},
		},
	}, fields)

	// Without fm in the answer the multifields cannot be compared yet.
	noFM := cur
	noFM.hasFM, noFM.fm = false, nil
	_, needFM, err = planUpdate(&changed, &noFM, true)
	require.NoError(t, err)
	assert.True(t, needFM)
}

// FuzzItemRecord feeds the read decoder arbitrary answers: it must not
// panic, and what it accepts must encode again.
func FuzzItemRecord(f *testing.F) {
	f.Add([]byte(leadAnswer))
	f.Add([]byte(`{"id":1,"fm":{"5":{"typeId":"phone","value":1}},"begindate":"2024-01-01T00:00:00-05:00"}`))
	f.Add([]byte(`{"id":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec ItemRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return
		}
		_, _ = rec.Item.MarshalJSON() // values a typed field cannot take may refuse to encode; no panic
	})
}
