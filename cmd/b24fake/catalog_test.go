package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadCatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.json")
	require.NoError(t, os.WriteFile(path, []byte(`{
	  "categories": {"2": [{"id": 0, "name": "Общая", "default": true, "stages": [{"id": "NEW", "name": "Новая"}]}]},
	  "statuses": {"SOURCE": [{"id": "CALL", "name": "Звонок"}]},
	  "users": [{"id": 7, "name": "Иван", "lastName": "Петров", "email": "ivan@example.ru"}, {"id": 8, "name": "Ушёл", "active": false}],
	  "userFields": {"2": [{"name": "ufCrm_5", "type": "enumeration", "title": "Канал", "items": [{"id": 44, "value": "Сайт"}]}]}
	}`), 0o644))
	opts, err := loadCatalog(path)
	require.NoError(t, err)
	srv := b24test.NewServer(append(opts, b24test.WithoutLimits())...)
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	var stages []map[string]any
	require.NoError(t, c.Call(ctx, "crm.status.list", map[string]any{"filter": map[string]any{"ENTITY_ID": "DEAL_STAGE"}}, &stages))
	require.Len(t, stages, 1)
	assert.Equal(t, "Новая", stages[0]["NAME"])
	var source []map[string]any
	require.NoError(t, c.Call(ctx, "crm.status.list", map[string]any{"filter": map[string]any{"ENTITY_ID": "SOURCE"}}, &source))
	assert.Equal(t, "Звонок", source[0]["NAME"])
	var users []map[string]any
	require.NoError(t, c.Call(ctx, "user.get", map[string]any{"FILTER": map[string]any{"ACTIVE": true}}, &users))
	require.Len(t, users, 1)
	assert.Equal(t, "Петров", users[0]["LAST_NAME"])
	fields, err := c.CRMItem.Fields(ctx, b24.EntityDeal)
	require.NoError(t, err)
	assert.Equal(t, []b24.EnumItem{{ID: 44, Value: "Сайт"}}, fields["ufCrm_5"].Items)
	assert.Equal(t, "Канал", fields["ufCrm_5"].Title)

	require.NoError(t, os.WriteFile(path, []byte(`{"categories": {"deal": []}}`), 0o644))
	_, err = loadCatalog(path)
	assert.ErrorContains(t, err, `"deal" is not an entity type id`)
}
