package b24_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCRMItemServiceFieldsAgainstTheFake(t *testing.T) {
	srv := fakePortal(t)
	fields, err := fastClient(t, srv).CRMItem.Fields(t.Context(), b24.EntityDeal)
	require.NoError(t, err)
	title := fields["title"]
	assert.Equal(t, "title", title.Name)
	assert.Equal(t, "TITLE", title.UpperName)
	assert.Equal(t, "string", title.Type)
	assert.True(t, fields["id"].ReadOnly)
	assert.True(t, fields["contactIds"].Multiple)
	assert.Equal(t, "crm_status", fields["stageId"].Type)
	assert.False(t, title.IsUserField())

	_, err = fastClient(t, srv).CRMItem.Fields(t.Context(), 0)
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
}

// TestCRMItemServiceFieldsReadsUserFields decodes a crm.item.fields answer
// shaped like the documented one: user fields with labels, an enumeration
// with string ids, settings as an object or as PHP's empty array, flags as
// booleans or Y/N.
func TestCRMItemServiceFieldsReadsUserFields(t *testing.T) {
	srv := fakePortal(t)
	srv.Handle("crm.item.fields", func(_ context.Context, p map[string]any) (any, error) {
		var fields map[string]any
		err := json.Unmarshal([]byte(`{
		  "title": {"type":"string","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"Название","upperName":"TITLE"},
		  "stageId": {"type":"crm_status","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"statusType":"DEAL_STAGE_9","title":"Стадия","upperName":"STAGE_ID"},
		  "ufCrm44_1721812814433": {"type":"enumeration","isRequired":"Y","isReadOnly":false,"isImmutable":false,"isMultiple":true,"isDynamic":true,
		     "items":[{"ID":"79","VALUE":"List item #1"},{"ID":80,"VALUE":"List item #2"}],
		     "title":"UF_CRM_44_1721812814433","listLabel":"Segment","formLabel":"Customer segment","filterLabel":"Segment",
		     "settings":{"DISPLAY":"LIST"},"upperName":"UF_CRM_44_1721812814433"},
		  "ufCrm44_1721812853419": {"type":"double","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":true,
		     "title":"Weight","settings":[],"upperName":"UF_CRM_44_1721812853419"}
		}`), &fields)
		return map[string]any{"fields": fields}, err
	})
	fields, err := fastClient(t, srv).CRMItem.Fields(t.Context(), b24.EntityDeal)
	require.NoError(t, err)
	require.Len(t, fields, 4)
	seg := fields["ufCrm44_1721812814433"]
	assert.True(t, seg.IsUserField())
	assert.True(t, seg.Required, `"Y" is true`)
	assert.True(t, seg.Multiple)
	assert.Equal(t, "Customer segment", seg.Title, "a user field is titled by its form label")
	assert.Equal(t, []b24.EnumItem{{ID: 79, Value: "List item #1"}, {ID: 80, Value: "List item #2"}}, seg.Items)
	assert.Equal(t, map[string]any{"DISPLAY": "LIST"}, seg.Settings)
	assert.Nil(t, fields["ufCrm44_1721812853419"].Settings, "[] settings are empty")
	assert.Equal(t, "Weight", fields["ufCrm44_1721812853419"].Title)
	assert.Equal(t, "DEAL_STAGE_9", fields["stageId"].StatusType)
	assert.Equal(t, "Название", fields["title"].Title)
}
