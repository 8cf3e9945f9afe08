package b24test_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogDefaults(t *testing.T) {
	srv := b24test.NewServer(b24test.WithoutLimits())
	t.Cleanup(srv.Close)
	c := srv.Client()
	ctx := context.Background()

	var cats struct {
		Categories []struct {
			ID        int    `json:"id"`
			Name      string `json:"name"`
			IsDefault string `json:"isDefault"`
		} `json:"categories"`
	}
	require.NoError(t, c.Call(ctx, "crm.category.list", map[string]any{"entityTypeId": 2}, &cats))
	require.Len(t, cats.Categories, 1)
	assert.Equal(t, "Y", cats.Categories[0].IsDefault)
	err := c.Call(ctx, "crm.category.list", map[string]any{"entityTypeId": 1}, nil)
	assert.ErrorContains(t, err, "NOT_SUPPORTED", "leads have no pipelines")

	var stages []struct{ STATUS_ID, NAME, ENTITY_ID string }
	require.NoError(t, c.Call(ctx, "crm.status.list", map[string]any{"filter": map[string]any{"ENTITY_ID": "DEAL_STAGE"}}, &stages))
	require.NotEmpty(t, stages)
	assert.Equal(t, "NEW", stages[0].STATUS_ID)
	assert.Equal(t, "DEAL_STAGE", stages[0].ENTITY_ID)

	var me []map[string]any
	require.NoError(t, c.Call(ctx, "user.get", map[string]any{"ID": 1}, &me))
	require.Len(t, me, 1)
	assert.Equal(t, "Test", me[0]["NAME"])
}

func TestUserGetPages(t *testing.T) {
	var users []b24test.User
	for i := 1; i <= 60; i++ {
		users = append(users, b24test.User{ID: int64(i), Name: fmt.Sprint("N", i), LastName: "Same", Active: i%2 == 0})
	}
	srv := b24test.NewServer(b24test.WithoutLimits(), b24test.WithUsers(users...))
	t.Cleanup(srv.Close)
	c := srv.Client()
	var page []map[string]any
	require.NoError(t, c.Call(context.Background(), "user.get", map[string]any{"start": 50}, &page))
	assert.Len(t, page, 10, "pages of 50")
	require.NoError(t, c.Call(context.Background(), "user.get", map[string]any{"FILTER": map[string]any{"ACTIVE": "Y", "LAST_NAME": "same"}}, &page))
	assert.Len(t, page, 30)
}

func TestUserFieldsInCRMItemFields(t *testing.T) {
	srv := b24test.NewServer(b24test.WithoutLimits(), b24test.WithUserFields(b24.EntityDeal,
		b24test.UserField{Name: "ufCrm_7", Type: "double", Title: "Discount", Mandatory: true}))
	t.Cleanup(srv.Close)
	fields, err := srv.Client().CRMItem.Fields(context.Background(), b24.EntityDeal)
	require.NoError(t, err)
	f := fields["ufCrm_7"]
	assert.Equal(t, "double", f.Type)
	assert.Equal(t, "UF_CRM_7", f.UpperName)
	assert.True(t, f.Required)
	assert.True(t, f.IsUserField())
	raw, _ := json.Marshal(f.Items)
	assert.Equal(t, "null", string(raw))
}
