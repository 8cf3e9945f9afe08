package b24

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for the conditions callers branch on. They are matched with
// [errors.Is] against the errors returned by this package; an [*APIError] maps
// its portal error code to the sentinel that describes it, so
//
//	errors.Is(err, b24.ErrAccessDenied)
//
// holds whether the portal sent ACCESS_DENIED with status 400, 401 or 403.
var (
	// ErrTokenExpired: the OAuth access token has expired (expired_token).
	// The client refreshes and retries once on its own; callers see it only
	// when the refreshed token is refused too.
	ErrTokenExpired = errors.New("b24: access token expired")
	// ErrInvalidCredentials: the portal does not accept the webhook or token
	// (INVALID_CREDENTIALS, invalid_token, NO_AUTH_FOUND, ...). Not retried.
	ErrInvalidCredentials = errors.New("b24: invalid credentials")
	// ErrAccessDenied: the credentials are valid but lack the right, scope,
	// plan or licence for the call. Not retried.
	ErrAccessDenied = errors.New("b24: access denied")
	// ErrMethodNotFound: the portal does not know the method (ERROR_METHOD_NOT_FOUND).
	ErrMethodNotFound = errors.New("b24: method not found")
	// ErrNotFound: the entity type or item does not exist (NOT_FOUND).
	ErrNotFound = errors.New("b24: not found")
	// ErrQueryLimit: the portal's request-rate bucket overflowed
	// (QUERY_LIMIT_EXCEEDED, HTTP 503). The call was not executed.
	ErrQueryLimit = errors.New("b24: query limit exceeded")
	// ErrOperationTimeLimit: the method used up its operating-time budget
	// (OPERATION_TIME_LIMIT, HTTP 429). The call was not executed.
	ErrOperationTimeLimit = errors.New("b24: operation time limit exceeded")
	// ErrBatchTooLarge: more than 20 items in one crm.item.batchImport call
	// (MAX_IMPORT_BATCH_SIZE_EXCEEDED). Nothing was imported.
	ErrBatchTooLarge = errors.New("b24: batch too large")
	// ErrPortalMoved: the portal answered with a redirect; see [*PortalMovedError].
	ErrPortalMoved = errors.New("b24: portal moved")
	// ErrOutcomeUnknown: the request was sent but no trustworthy answer came
	// back (timeout, dropped connection, 5xx). The portal may or may not have
	// executed it; a write must be reconciled, not blindly repeated.
	ErrOutcomeUnknown = errors.New("b24: outcome unknown")
	// ErrInvalidGrant: the refresh token is dead (expired, revoked or already
	// used). The application must be authorised again; nothing retries it.
	ErrInvalidGrant = errors.New("b24: refresh token rejected (invalid_grant)")
	// ErrInvalidClient: the OAuth client id or secret is wrong (invalid_client).
	ErrInvalidClient = errors.New("b24: oauth client rejected (invalid_client)")
	// ErrInvalidInput: a bad argument was caught before anything was sent.
	ErrInvalidInput = errors.New("b24: invalid input")
	// ErrResponseTooLarge: the response body passed the client's size cap.
	ErrResponseTooLarge = errors.New("b24: response too large")
)

// Portal error codes the client treats specially.
const (
	CodeQueryLimitExceeded  = "QUERY_LIMIT_EXCEEDED"
	CodeOperationTimeLimit  = "OPERATION_TIME_LIMIT"
	CodeExpiredToken        = "expired_token"
	CodeMaxImportBatchSize  = "MAX_IMPORT_BATCH_SIZE_EXCEEDED"
	CodeMethodNotFound      = "ERROR_METHOD_NOT_FOUND"
	CodeNotFound            = "NOT_FOUND"
	CodeAccessDenied        = "ACCESS_DENIED"
	CodeInvalidCredentials  = "INVALID_CREDENTIALS"
	CodeErrorCore           = "ERROR_CORE"
	CodeInternalServerError = "INTERNAL_SERVER_ERROR"
)

// codeSentinels maps portal codes (compared case-insensitively, because the
// portal mixes cases) to sentinels. Classification is by code, never by HTTP
// status: the portal sends the same code with several statuses.
var codeSentinels = map[string]error{
	"expired_token":                  ErrTokenExpired,
	"invalid_token":                  ErrInvalidCredentials,
	"no_auth_found":                  ErrInvalidCredentials,
	"invalid_credentials":            ErrInvalidCredentials,
	"authorization_error":            ErrInvalidCredentials,
	"application_not_found":          ErrInvalidCredentials,
	"access_denied":                  ErrAccessDenied,
	"insufficient_scope":             ErrAccessDenied,
	"user_access_error":              ErrAccessDenied,
	"wrong_auth_type":                ErrAccessDenied,
	"wrong_license":                  ErrAccessDenied,
	"allowed_only_intranet_user":     ErrAccessDenied,
	"method_confirm_waiting":         ErrAccessDenied,
	"method_confirm_denied":          ErrAccessDenied,
	"payment_required":               ErrAccessDenied,
	"portal_deleted":                 ErrAccessDenied,
	"crm_item_import_access_denied":  ErrAccessDenied,
	"crm_item_add_access_denied":     ErrAccessDenied,
	"error_method_not_found":         ErrMethodNotFound,
	"not_found":                      ErrNotFound,
	"query_limit_exceeded":           ErrQueryLimit,
	"operation_time_limit":           ErrOperationTimeLimit,
	"max_import_batch_size_exceeded": ErrBatchTooLarge,
	"invalid_grant":                  ErrInvalidGrant,
	"invalid_client":                 ErrInvalidClient,
}

// sentinelForCode returns the sentinel for a portal error code, or nil.
func sentinelForCode(code string) error {
	return codeSentinels[strings.ToLower(code)]
}

// APIError is a top-level error envelope from the portal:
// {"error": CODE, "error_description": TEXT} with the HTTP status it came with.
// Use errors.Is with the Err* sentinels rather than comparing Code by hand.
type APIError struct {
	StatusCode  int    // HTTP status; 200 for errors reported inside a batch
	Code        string // portal error code, e.g. "ACCESS_DENIED" or "100"
	Description string // portal text, localised to the portal's language
	Method      string // REST method that failed
}

// Error describes the failure without any credential.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("b24: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteString(": ")
	}
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("error")
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (http %d)", e.StatusCode)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Is reports whether the error's code corresponds to target, one of the Err*
// sentinels. 5xx answers and ERROR_CORE with status 500 also match
// [ErrOutcomeUnknown]: the portal may have executed part of the call.
func (e *APIError) Is(target error) bool {
	if s := sentinelForCode(e.Code); s != nil && s == target {
		return true
	}
	return target == ErrOutcomeUnknown && e.outcomeUnknown()
}

// outcomeUnknown reports whether the portal may have executed the call
// before failing: any 5xx except the ones that refuse before execution.
func (e *APIError) outcomeUnknown() bool {
	if e.refusedBeforeExecution() {
		return false
	}
	return e.StatusCode >= 500
}

// refusedBeforeExecution reports whether the portal refused the call before
// running it, so repeating it cannot duplicate anything.
func (e *APIError) refusedBeforeExecution() bool {
	switch strings.ToUpper(e.Code) {
	case CodeQueryLimitExceeded, CodeOperationTimeLimit:
		return true
	}
	return false
}

// TokenError is an error answer from the OAuth token endpoint during a
// refresh. It matches [ErrInvalidGrant] or [ErrInvalidClient] when the
// application must be authorised again.
type TokenError struct {
	StatusCode  int
	Code        string // e.g. "invalid_grant"
	Description string
}

// Error describes the refresh failure; it never includes the tokens or the
// client secret that were sent.
func (e *TokenError) Error() string {
	msg := fmt.Sprintf("b24: token refresh failed: %s (http %d)", e.Code, e.StatusCode)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Is maps the token endpoint's code to [ErrInvalidGrant] or [ErrInvalidClient].
func (e *TokenError) Is(target error) bool {
	s := sentinelForCode(e.Code)
	return s != nil && s == target
}

// PortalMovedError reports a redirect from the portal: its address changed.
// The client never follows it with credentials; point the credentials at
// Location (a URL without path secrets) once you have checked it.
type PortalMovedError struct {
	Method     string
	StatusCode int
	Location   string // scheme://host of the new address; path dropped, it may hold secrets
}

// Error names the new portal address.
func (e *PortalMovedError) Error() string {
	return fmt.Sprintf("b24: %s: portal moved to %s (http %d); update the endpoint and retry", e.Method, e.Location, e.StatusCode)
}

// Is matches [ErrPortalMoved].
func (e *PortalMovedError) Is(target error) bool { return target == ErrPortalMoved }

// OutcomeUnknownError reports a call that was sent but whose effect is
// unknown. It matches [ErrOutcomeUnknown] and unwraps to the cause.
type OutcomeUnknownError struct {
	Method string
	Err    error
}

// Error names the method and the cause.
func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("b24: %s: outcome unknown, the portal may have executed the call: %v", e.Method, e.Err)
}

// Unwrap returns the cause.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Is matches [ErrOutcomeUnknown].
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// ItemError is the portal's (or the local validator's) refusal of one item
// of an import. Index is the item's position in the caller's input.
type ItemError struct {
	Index       int
	Code        string
	Description string
}

// Error names the item and the code.
func (e *ItemError) Error() string {
	msg := fmt.Sprintf("b24: item %d: %s", e.Index, e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Is maps the item's code to the sentinels, like [APIError.Is].
func (e *ItemError) Is(target error) bool {
	s := sentinelForCode(e.Code)
	return s != nil && s == target
}

// ImportError summarises an import in which not every item was imported.
// The per-item outcomes are in the [BatchImportResult] returned beside it.
// Err is the cause that stopped the import early, if any (for example
// [context.Canceled]), and is reachable through errors.Is / errors.As.
type ImportError struct {
	Imported, Rejected, Unknown, NotSent int
	Err                                  error
}

// Error counts the outcomes.
func (e *ImportError) Error() string {
	msg := fmt.Sprintf("b24: import incomplete: %d imported, %d rejected, %d unknown, %d not sent",
		e.Imported, e.Rejected, e.Unknown, e.NotSent)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause that stopped the import, or nil.
func (e *ImportError) Unwrap() error { return e.Err }

// invalidInput builds an [ErrInvalidInput] error with a message.
func invalidInput(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)
}
