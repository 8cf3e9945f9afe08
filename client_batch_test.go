package b24_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCallMeta(t *testing.T) {
	srv, c := listedPortal(t, 120)
	_ = srv
	var res struct {
		Items []b24.ItemRecord `json:"items"`
	}
	m, err := c.CallMeta(t.Context(), "crm.item.list", map[string]any{"entityTypeId": 2, "start": 50}, &res)
	require.NoError(t, err)
	assert.True(t, m.HasTotal)
	assert.Equal(t, 120, m.Total)
	assert.Equal(t, 100, m.Next)
	require.NotNil(t, m.Time)
	require.Len(t, res.Items, 50)
	assert.Equal(t, int64(51), res.Items[0].ID)
	assert.Equal(t, "deal-50", res.Items[0].Item.Title)

	m, err = c.CallMeta(t.Context(), "crm.item.list", map[string]any{"entityTypeId": 2, "start": -1}, nil)
	require.NoError(t, err)
	assert.False(t, m.HasTotal, "start -1 counts nothing")
	assert.Zero(t, m.Next)
}

func TestBatch(t *testing.T) {
	srv := fakePortal(t)
	c := fastClient(t, srv)
	res, err := c.Batch(t.Context(), []b24.BatchCommand{
		{ID: "add", Method: "crm.item.add", Params: map[string]any{"entityTypeId": 2, "fields": map[string]any{"title": "chained", "opened": true}}},
		{ID: "get", Method: "crm.item.get", Params: map[string]any{"entityTypeId": 2, "id": "$result[add][item][id]"}},
		{Method: "crm.item.get", Params: map[string]any{"entityTypeId": 2, "id": 999}},
		{Method: "crm.item.list", Params: map[string]any{"entityTypeId": 2}},
	})
	require.NoError(t, err)
	require.Len(t, res, 4)
	assert.Equal(t, "add", res[0].ID)
	assert.Equal(t, "c2", res[2].ID, "unnamed commands are named by position")
	var got struct {
		Item b24.ItemRecord `json:"item"`
	}
	require.NoError(t, res[1].Decode(&got))
	assert.Equal(t, "chained", got.Item.Item.Title)
	assert.Equal(t, b24.Yes, got.Item.Item.Opened, "booleans travel as Y/N")
	assert.ErrorIs(t, res[2].Err, b24.ErrNotFound)
	assert.ErrorIs(t, res[2].Decode(&got), b24.ErrNotFound)
	assert.True(t, res[3].HasTotal)
	assert.Equal(t, 1, res[3].Total)
	assert.NotNil(t, res[3].Time)

	// With halt, the commands after a failure do not run.
	res, err = c.Batch(t.Context(), []b24.BatchCommand{
		{Method: "crm.item.get", Params: map[string]any{"entityTypeId": 2, "id": 999}},
		{Method: "crm.item.add", Params: map[string]any{"entityTypeId": 2, "fields": map[string]any{"title": "never"}}},
	}, b24.WithHalt())
	require.NoError(t, err)
	assert.ErrorIs(t, res[0].Err, b24.ErrNotFound)
	assert.ErrorIs(t, res[1].Err, b24.ErrNotRun)
	assert.Equal(t, 1, srv.ItemCount(b24.EntityDeal))

	for name, cmds := range map[string][]b24.BatchCommand{
		"numeric id":   {{ID: "12", Method: "profile"}},
		"repeated id":  {{ID: "a", Method: "profile"}, {ID: "a", Method: "profile"}},
		"nested batch": {{Method: "batch"}},
		"bad method":   {{Method: "crm item"}},
		"too many":     make([]b24.BatchCommand, 51),
	} {
		_, err := c.Batch(t.Context(), cmds)
		assert.ErrorIs(t, err, b24.ErrInvalidInput, name)
	}
}

// TestBatchSectionsAsArrays reads an answer whose empty sections are [],
// as the portal sends them.
func TestBatchSectionsAsArrays(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Cmd map[string]string `json:"cmd"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		assert.Equal(t, "crm.item.list?entityTypeId=2", body.Cmd["c0"])
		_, _ = w.Write([]byte(`{"result":{"result":{"c0":[]},"result_error":[],"result_total":{"c0":0},` +
			`"result_next":[],"result_time":[]},"time":{"start":1,"finish":2}}`))
	}))
	t.Cleanup(hs.Close)
	wh, err := b24.NewWebhook(hs.URL + "/rest/1/batchsecret01/")
	require.NoError(t, err)
	c, err := b24.NewClient(wh, b24.WithAllowHTTP())
	require.NoError(t, err)
	res, err := c.Batch(context.Background(), []b24.BatchCommand{{Method: "crm.item.list", Params: map[string]any{"entityTypeId": 2}}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.NoError(t, res[0].Err)
	assert.True(t, res[0].HasTotal)
	assert.Zero(t, res[0].Total)
	var items []b24.ItemRecord
	require.NoError(t, res[0].Decode(&items))
	assert.Empty(t, items)
}
