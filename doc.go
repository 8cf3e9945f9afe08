// Package b24 is a typed client for importing CRM items into Bitrix24
// through crm.item.batchImport, fast and without losing or duplicating a row,
// and for reading and updating them again.
//
// # Quick start
//
//	hook, err := b24.NewWebhook("https://example.bitrix24.com/rest/1/abc123/")
//	if err != nil { ... }
//	client, err := b24.NewClient(hook)
//	if err != nil { ... }
//	items := []b24.Item{
//		{Title: "Website redesign", Opportunity: 12000, CurrencyID: "EUR",
//			OriginatorID: "old-crm", OriginID: "D-1001"},
//	}
//	res, err := client.CRMItem.BatchImport(ctx, b24.EntityDeal, items)
//	for _, r := range res.Items { // always one result per item, also with err != nil
//		switch r.Status {
//		case b24.ItemImported: // r.ID is the new item's id
//		case b24.ItemRejected: // r.Err is an *ItemError with the portal's code
//		case b24.ItemUnknown:  // sent, outcome unknowable (no dedup key)
//		case b24.ItemNotSent:  // never executed (cancelled or stopped)
//		}
//	}
//
// Set OriginatorID and OriginID on each item (XMLID for smart invoices and
// smart processes) and no row is ever created twice: before sending, the
// keys are looked up and the rows already in the portal end imported with
// their existing ids (ActionFound), so running the same import again
// creates nothing (an originator the portal holds nothing of costs one
// request to find out, and then none of its keys is looked up); when a
// call's outcome is unknown, the rows are looked up
// again and only the missing ones are sent. [WithExisting] turns the first
// into an upsert (ExistingUpdate) or switches it off (ExistingCreate).
//
// # Reading and updating
//
//	rec, err := client.CRMItem.Get(ctx, b24.EntityDeal, 42)
//	for rec, err := range client.CRMItem.List(ctx, b24.EntityDeal, b24.ListQuery{
//		Filter: map[string]any{"=originatorId": "old-crm"},
//	}) { ... }
//	err = client.CRMItem.Update(ctx, b24.EntityDeal, 42, b24.Item{StageID: "WON"})
//
// [CRMItemService.List] pages by id and packs 50 pages into one batch
// request; [CRMItemService.BatchUpdate] and [CRMItemService.UpdateSeq]
// update many items, packed and paced like imports. [Client.CallMeta]
// returns any method's total, next and time block, and [Client.Batch] runs
// up to 50 commands in one request.
//
// # Authentication
//
// [NewWebhook] takes an incoming-webhook URL; the secret in its path never
// appears in errors or logs. [NewOAuth] takes an application's endpoint,
// client id and secret and a token pair; it refreshes the access token when
// it is within a minute of expiry or the portal answers expired_token,
// shares one refresh between all concurrent callers, and hands every rotated
// pair to OAuthConfig.OnRefresh before using it (Bitrix24 invalidates the old
// refresh token at once). A dead refresh token fails with [ErrInvalidGrant],
// a wrong client secret with [ErrInvalidClient]; neither is retried.
// OAuthConfig.Store shares one pair between processes (see the b24redis
// module).
//
// # Limits
//
// A portal admits 2 requests per second with a burst of 50 (Enterprise: 5
// and 250) and refuses more with QUERY_LIMIT_EXCEEDED; each method may use
// 480 seconds of server time per 10 minutes and is then blocked with
// OPERATION_TIME_LIMIT; crm.item.batchImport takes at most 20 items. Every
// request of a [Client] waits for its token bucket ([WithRateLimit],
// [WithLimiter] to share one between clients) and for the method's
// operating-time budget ([WithOperatingLimit]), which reads the portal's
// time.operating and operating_reset_at and pauses the method before the
// portal would block it. BatchImport splits the input into 20-row calls
// and keeps several in flight ([WithConcurrency]).
//
// # Errors
//
// Portal errors are [*APIError] values; match them with [errors.Is] against
// the sentinels ([ErrAccessDenied], [ErrQueryLimit], [ErrOutcomeUnknown],
// ...), which are chosen by error code, not HTTP status, because the portal
// sends the same code with several statuses. Per-item refusals are
// [*ItemError] values inside [ItemResult.Err]; an import that did not import
// everything returns an [*ImportError] with the counts. When an import stops
// because no further call could succeed (credentials, permission, an unknown
// entity type, a portal that moved or cannot be reached), the rows it did not
// settle end [ItemNotSent] with an error matching [ErrImportStopped]. Requests refused
// before execution are retried with backoff; a write whose outcome is
// unknown is never repeated blindly. All error texts start with "b24:" and
// never contain a secret.
//
// # Testing
//
// The b24test package is a fake portal on httptest with the real portal's
// limits, error codes and quirks, plus fault injection (refusals, dropped
// connections after execution, partial saves, a moved portal):
//
//	srv := b24test.NewServer()
//	defer srv.Close()
//	client := srv.Client()
//
// # Concurrency
//
// A [Client] is safe for concurrent use by multiple goroutines; create one
// per portal and share it.
package b24
