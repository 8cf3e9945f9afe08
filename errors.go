package b24

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/b24kit/b24/internal/transport"
	"github.com/b24kit/b24/internal/wire"
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
	// ErrInvalidClient: the OAuth client id or secret is wrong (invalid_client
	// or wrong_client).
	ErrInvalidClient = errors.New("b24: oauth client rejected (invalid_client)")
	// ErrInvalidInput: a bad argument was caught before anything was sent.
	ErrInvalidInput = errors.New("b24: invalid input")
	// ErrResponseTooLarge: the response body passed the client's size cap.
	ErrResponseTooLarge = transport.ErrResponseTooLarge
	// ErrImportStopped: the import stopped because no further call could
	// succeed (credentials, permission, an unknown entity type, a portal
	// that moved or cannot be reached). The rows it had not settled end
	// [ItemNotSent] with an error that matches it and unwraps to the cause.
	ErrImportStopped = errors.New("b24: import stopped")
	// ErrNotRun: a command of a batch request that the portal did not run
	// because an earlier one failed (halt=1). Nothing of it was executed.
	ErrNotRun = errors.New("b24: batch command not run")
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
	"wrong_client":                   ErrInvalidClient, // the token server's other name for it (the PHP SDKs treat it so)
}

// sentinelForCode returns the sentinel for a portal error code, or nil.
func sentinelForCode(code string) error {
	return codeSentinels[strings.ToLower(code)]
}

// APIError is a top-level error envelope from the portal:
// {"error": CODE, "error_description": TEXT} with the HTTP status it came with.
// Use errors.Is with the Err* sentinels rather than comparing Code by hand.
//
// API docs: https://apidocs.bitrix24.com/error-codes.html
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
	return target == ErrOutcomeUnknown && e.StatusCode >= 500 && e.failureClass() == classUnknown
}

// failureClass sorts the portal's answer by its code; the status only
// separates a failed execution (5xx) from a refusal, since the portal sends
// one code with several statuses.
func (e *APIError) failureClass() failureClass {
	switch sentinelForCode(e.Code) {
	case ErrQueryLimit, ErrOperationTimeLimit:
		return classRefused
	case ErrInvalidCredentials, ErrAccessDenied, ErrMethodNotFound, ErrNotFound,
		ErrInvalidGrant, ErrInvalidClient, ErrTokenExpired, ErrBatchTooLarge:
		return classStop
	}
	switch {
	case e.Code == "100":
		return classRejected // the parameter binder refused the request as a whole
	case e.StatusCode >= 500 || !isReadMethod(e.Method):
		// A write can fail after saving part of its work: batchImport saves
		// rows one by one until one throws (ERROR_CORE, ERROR_ARGUMENT, ...).
		return classUnknown
	}
	return classRejected // a read refused with a 4xx: asking again gets the same
}

// TokenError is an error answer from the OAuth token endpoint during a
// refresh. It matches [ErrInvalidGrant] or [ErrInvalidClient] when the
// application must be authorised again.
//
// API docs: https://apidocs.bitrix24.com/settings/oauth/error-codes.html
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

// failureClass: the token server answered and refused (its transient
// failures were retried before this error was made).
func (e *TokenError) failureClass() failureClass { return classStop }

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

func (e *PortalMovedError) failureClass() failureClass { return classStop }

// OutcomeUnknownError reports a call that was sent but whose effect is
// unknown. It matches [ErrOutcomeUnknown] and unwraps to the cause.
type OutcomeUnknownError struct {
	Method string
	Err    error
	// unanswered: no answer of the portal's own came back (a timeout, a
	// dropped connection, a proxy's page), so the call may still be
	// executing there; see mayStillRun.
	unanswered bool
}

// Error names the method and the cause.
func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("b24: %s: outcome unknown, the portal may have executed the call: %v", e.Method, e.Err)
}

// Unwrap returns the cause.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Is matches [ErrOutcomeUnknown].
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

func (e *OutcomeUnknownError) failureClass() failureClass { return classUnknown }

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

// failureClass: the codes the portal reports before saving an item reject
// it; any other may come from a step after the save (history, statistics,
// after-save actions), so the item may exist and is verified by its key.
func (e *ItemError) failureClass() failureClass {
	if preSaveCodes[strings.ToUpper(e.Code)] || strings.HasPrefix(e.Code, "B24_") {
		return classRejected
	}
	return classUnknown
}

// preSaveCodes are per-item codes the portal reports before saving the item.
var preSaveCodes = map[string]bool{
	"CRM_FIELD_ERROR_REQUIRED":               true,
	"CRM_FIELD_ERROR_VALUE_NOT_VALID":        true,
	"CRM_FIELD_ERROR_VALUE_NOT_UNIQUE":       true,
	"CRM_FIELD_ERROR_CATEGORY_NOT_AVAILABLE": true,
	"ACCESS_DENIED":                          true,
	"CRM_ITEM_IMPORT_ACCESS_DENIED":          true,
	"CRM_ITEM_ADD_ACCESS_DENIED":             true,
	"CREATE_DYNAMIC_ITEM_RESTRICTED":         true,
	"NOT_FOUND":                              true,
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

// failureClass is what a failure means for the request that met it and the
// rows it carried. Every error the client makes knows its class (the
// classifier interface); the request loop, the import engine, the packer
// and b24import all ask classOf, and nothing else decides.
type failureClass uint8

const (
	// classRefused: refused before execution (the rate bucket, the
	// operating-time limit, a connection that never carried the request,
	// a cancelled wait): resending cannot duplicate anything.
	classRefused failureClass = iota + 1
	// classUnknown: the request may have been executed, wholly or in
	// part: a write is reconciled by dedup key or ends unknown; a read may
	// be asked again.
	classUnknown
	// classRejected: refused for this request only: its rows are
	// rejected, other requests may succeed.
	classRejected
	// classStop: no request can succeed (credentials, permission, an
	// unknown method or entity type, a moved or unreachable portal, bad
	// input): an import stops.
	classStop
)

// classifier is implemented by the errors that know their class.
type classifier interface{ failureClass() failureClass }

// classOf returns err's class: that of the outermost error in the chain
// that knows one. A context error means the request was not sent; any
// other error that does not know its class (a broken shared limiter, bad
// input) stops.
func classOf(err error) failureClass {
	var c classifier
	if errors.As(err, &c) {
		return c.failureClass()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classRefused
	}
	return classStop
}

// mayResend reports whether the request loop may send the same request
// again after err: a refusal always, an unknown outcome only for a read
// (repeating it cannot change the portal) and only when another answer
// could differ (a response over the size cap would not).
func mayResend(err error, read bool) bool {
	switch classOf(err) {
	case classRefused:
		return true
	case classUnknown:
		return read && !errors.Is(err, ErrResponseTooLarge)
	}
	return false
}

// mayStillRun reports whether the request that failed with err may still
// be executing on the portal: it was written, but no answer of the
// portal's own came back (a timeout, a dropped connection, a proxy's page
// instead of the portal's JSON). The portal's own answer, even an error,
// comes after the call ended. Rows of such a call must not be looked up
// (and found missing, and resent) before the call can no longer be
// running: see [WithMaxExecutionTime].
func mayStillRun(err error) bool {
	var unk *OutcomeUnknownError
	return errors.As(err, &unk) && unk.unanswered
}

// readSuffixes are last segments of methods that only read.
var readSuffixes = []string{"get", "list", "fields", "getlist", "getfields", "search"}

// readMethods are whole method names that only read.
var readMethods = map[string]bool{
	"server.time": true, "profile": true, "scope": true, "methods": true,
	"method.get": true, "app.info": true, "user.current": true, "feature.get": true,
}

// isReadMethod reports whether repeating method cannot change the portal,
// so an answer lost in transit may be asked for again.
func isReadMethod(method string) bool {
	m := strings.ToLower(method)
	if readMethods[m] {
		return true
	}
	last := m[strings.LastIndexByte(m, '.')+1:]
	for _, s := range readSuffixes {
		if last == s {
			return true
		}
	}
	return false
}

// notDeliveredError is a request that never reached the portal: the
// connection failed before the request was written, or could not be made.
type notDeliveredError struct {
	method string
	err    error
}

func (e *notDeliveredError) Error() string {
	return fmt.Sprintf("b24: %s: request not delivered: %v", e.method, e.err)
}
func (e *notDeliveredError) Unwrap() error              { return e.err }
func (e *notDeliveredError) failureClass() failureClass { return classRefused }

// notRunError is a command of a batch request that the portal skipped
// because an earlier one failed with halt=1.
type notRunError struct{ method string }

func (e *notRunError) Error() string {
	return "b24: " + e.method + ": not run: an earlier command of the batch failed (halt=1)"
}
func (e *notRunError) failureClass() failureClass { return classRefused }
func (e *notRunError) Is(target error) bool       { return target == ErrNotRun }

// sendHookError is the failure of a [WithOnSend] function: the request
// was not sent, and since the caller could not record that it would be,
// no request may be sent any more.
type sendHookError struct{ err error }

func (e *sendHookError) Error() string {
	return "b24: not sent: the send hook failed: " + strings.TrimPrefix(e.err.Error(), "b24: ")
}
func (e *sendHookError) Unwrap() error              { return e.err }
func (e *sendHookError) failureClass() failureClass { return classStop }

// gaveUpError ends a request that was refused on every attempt.
type gaveUpError struct {
	method   string
	attempts int
	last     error
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("b24: %s: giving up after %d attempts: %v", e.method, e.attempts, e.last)
}
func (e *gaveUpError) Unwrap() error { return e.last }

// failureClass: still refused by the portal's limits, the request is
// simply not sent (an import goes on); never delivered at all, the portal
// cannot be reached and an import stops.
func (e *gaveUpError) failureClass() failureClass {
	var nd *notDeliveredError
	if errors.As(e.last, &nd) {
		return classStop
	}
	return classOf(e.last)
}

// importStoppedError marks the rows an import left when it stopped. It
// matches [ErrImportStopped] and unwraps to the cause.
type importStoppedError struct{ cause error }

func (e *importStoppedError) Error() string {
	return "b24: import stopped: " + strings.TrimPrefix(e.cause.Error(), "b24: ")
}
func (e *importStoppedError) Unwrap() error              { return e.cause }
func (e *importStoppedError) Is(target error) bool       { return target == ErrImportStopped }
func (e *importStoppedError) failureClass() failureClass { return classStop }

// stopped wraps cause as the reason an import stopped (once).
func stopped(cause error) error {
	if errors.Is(cause, ErrImportStopped) {
		return cause
	}
	return &importStoppedError{cause: cause}
}

// invalidInput builds an [ErrInvalidInput] error with a message.
func invalidInput(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)
}

// Bounds of the portal's error texts kept in errors.
const (
	maxCodeLen        = 100
	maxDescriptionLen = 2000
)

// portalText is a text of the portal (an error code or description, of
// the call or of one of its items) as errors, logs and reports may carry
// it: without any of the credentials' secrets, which a portal may echo,
// and cut to n bytes.
func portalText(s string, n int, secrets []string) string {
	return wire.Truncate(redactSecrets(s, secrets...), n)
}

// errorCode returns a short, secret-free reason for logs.
func errorCode(err error) string {
	var api *APIError
	if errors.As(err, &api) {
		return api.Code
	}
	var unk *OutcomeUnknownError
	if errors.As(err, &unk) {
		return "outcome_unknown"
	}
	return "transport"
}

// redactSecrets removes any of secrets from s.
func redactSecrets(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}
