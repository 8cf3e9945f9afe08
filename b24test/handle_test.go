package b24test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandle(t *testing.T) {
	srv := newTestServer(t)
	srv.Handle("crm.type.list", func(_ context.Context, p map[string]any) (any, error) {
		return map[string]any{"types": []any{map[string]any{"entityTypeId": 1030}}, "echo": p["x"]}, nil
	})
	srv.Handle("Fail.Me", func(context.Context, map[string]any) (any, error) {
		return nil, &Error{Code: "ACCESS_DENIED", Description: "no"}
	})
	srv.Handle("boom", func(context.Context, map[string]any) (any, error) { return nil, errors.New("kaput") })
	srv.Handle("server.time", func(context.Context, map[string]any) (any, error) { return "frozen", nil })

	var res map[string]any
	call(t, srv, "CRM.TYPE.LIST", `{"x":"y"}`).decode(t, &res)
	assert.Equal(t, "y", res["echo"])
	a := call(t, srv, "fail.me", "")
	assert.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "ACCESS_DENIED", a.Error)
	a = call(t, srv, "boom", "")
	assert.Equal(t, http.StatusInternalServerError, a.Status)
	assert.Equal(t, "ERROR_CORE", a.Error)
	var s string
	call(t, srv, "server.time", "").decode(t, &s)
	assert.Equal(t, "frozen", s, "built-in replaced")

	var br batchResult
	call(t, srv, "batch", `{"cmd":{"a":"crm.type.list?x=z"}}`).decode(t, &br)
	assert.JSONEq(t, `{"a":{"types":[{"entityTypeId":1030}],"echo":"z"}}`, string(br.Result))

	srv.Handle("server.time", nil)
	call(t, srv, "server.time", "").decode(t, &s)
	require.NotEqual(t, "frozen", s, "built-in back")
}
