package b24

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		code     any
		status   int
		sentinel error
	}{
		{"expired_token", 401, ErrTokenExpired},
		{"invalid_token", 401, ErrInvalidCredentials},
		{"NO_AUTH_FOUND", 401, ErrInvalidCredentials},
		{"INVALID_CREDENTIALS", 401, ErrInvalidCredentials},
		{"INVALID_CREDENTIALS", 403, ErrInvalidCredentials},
		{"ACCESS_DENIED", 400, ErrAccessDenied},
		{"ACCESS_DENIED", 401, ErrAccessDenied},
		{"ACCESS_DENIED", 403, ErrAccessDenied},
		{"insufficient_scope", 401, ErrAccessDenied},
		{"allowed_only_intranet_user", 403, ErrAccessDenied},
		{"ERROR_METHOD_NOT_FOUND", 404, ErrMethodNotFound},
		{"NOT_FOUND", 400, ErrNotFound},
		{"MAX_IMPORT_BATCH_SIZE_EXCEEDED", 400, ErrBatchTooLarge},
		{"ERROR_CORE", 500, ErrOutcomeUnknown},
		{"INTERNAL_SERVER_ERROR", 500, ErrOutcomeUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.sentinel.Error()+" "+http.StatusText(tc.status), func(t *testing.T) {
			p := newPortal(t, func(w http.ResponseWriter, r recorded) { apiError(w, tc.status, tc.code, "text") })
			c, _ := testClient(t, webhookFor(t, p))
			err := c.Call(t.Context(), "crm.item.add", map[string]any{"x": 1}, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.sentinel)
			assert.True(t, strings.HasPrefix(err.Error(), "b24: "), err.Error())
			assert.Contains(t, err.Error(), "crm.item.add")
			assert.NotContains(t, err.Error(), testSecret)
			assert.EqualValues(t, 1, p.calls.Load(), "definitive errors and unknown writes are not repeated")
		})
	}
	t.Run("ERROR_CORE with 400 is definitive", func(t *testing.T) {
		e := &APIError{StatusCode: 400, Code: "ERROR_CORE"}
		assert.False(t, errors.Is(e, ErrOutcomeUnknown))
	})
}

func TestIsReadMethod(t *testing.T) {
	for m, want := range map[string]bool{
		"crm.item.list": true, "crm.item.get": true, "crm.item.fields": true, "server.time": true,
		"profile": true, "crm.item.add": false, "crm.item.batchImport": false, "batch": false,
		"crm.item.import": false, "crm.item.update": false,
	} {
		assert.Equal(t, want, isReadMethod(m), m)
	}
}
