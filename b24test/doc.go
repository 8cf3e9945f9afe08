// Package b24test is a fake Bitrix24 portal for tests: an HTTP server on a
// loopback port that speaks the REST API the b24 SDK uses, keeps imported
// CRM items in memory and enforces the portal's limits, so that tests can
// see the answers a real portal gives (a 503 from the leaky bucket, a 429
// from the operating-time limit, an expired token, a lost response) without
// a live portal.
//
// # Quick start
//
//	srv := b24test.NewServer()
//	t.Cleanup(srv.Close)
//	client := srv.Client() // a *b24.Client on the server's webhook
//	// ... run the code under test with client or srv.WebhookURL() ...
//	items := srv.Items(b24.EntityDeal)
//
// [Server.OAuthConfig] gives a ready OAuth configuration instead: the
// server is its own authorization server, rotating refresh tokens on every
// refresh as Bitrix24 does.
//
// # What it implements
//
// Routes: the incoming webhook /rest/1/SECRET/METHOD[.json], OAuth calls
// /rest/METHOD with the token in the auth parameter (query, JSON or form
// body) or a Bearer header, and the token endpoint /oauth/token/. Empty
// path segments are skipped as on the portal (/rest//METHOD is what the
// official JS SDK calls). [ServeTLS] serves https, for clients that
// refuse http.
// Parameters are read from the query string and from JSON, form-urlencoded
// or multipart bodies, in PHP bracket notation (see [ParsePHPQuery]);
// invalid JSON is read as no parameters, as on the portal.
//
// Methods: crm.item.batchImport, crm.item.import, crm.item.add,
// crm.item.get, crm.item.list, crm.item.update, crm.item.delete,
// crm.item.fields, crm.category.list, crm.status.list, user.get, batch,
// server.time and profile; any other method answers 404
// ERROR_METHOD_NOT_FOUND. What the portal says about itself is
// configurable: pipelines and their stages ([WithCategories]; deals have a
// new portal's "General" pipeline by default), other status lists
// ([WithStatuses]: SOURCE, DEAL_TYPE, STATUS, ...), its users ([WithUsers])
// and user fields with their types and list choices ([WithUserFields]), so
// that code which looks values up by name can be tested.
// Items are validated like the portal does it: keys are normalised to
// camelCase and unknown ones dropped silently, unparseable dates dropped,
// required fields and the history rules of import (createdTime ascending,
// not in the future, ...) reported per item. Lead, deal, contact, company,
// quote and smart invoice exist; smart processes are registered with
// [WithSmartProcess]. The caller is a portal administrator unless
// [WithoutAdmin] is given.
//
// Reading and updating follow the portal: crm.item.get and crm.item.update
// answer NOT_FOUND for an id that is not there (or was deleted; ids are
// never reused), and answer with the item, whose multifields are an fm
// list of {id, typeId, valueType, value}. crm.item.update sets the fields
// named, clears the ones given an empty value, ignores unknown and
// read-only ones (id, the history fields) and changes multifields through
// fm: keys n0, n1, ... add a value, a value's id rewrites it, its id with
// an empty value deletes it. crm.item.list pages by 50 with total and
// next, or counts nothing with start=-1 (no total, no next, the first
// page); it filters with =, !=, @, !@, >, >=, <, <= (strings compared as
// the portal's database collation does: case-insensitively, trailing
// spaces ignored; a filter on id that is not a number is refused with
// INVALID_ARG_VALUE), selects fields with select and orders by one field
// (then by id). [Server.Records] and [Server.Record] give the stored items
// as the SDK reads them back, as [b24.ItemRecord] values, so tests can
// assert on typed fields.
//
// Where it deliberately differs from a portal: get and list answer no
// flat aliases of the multifields (phone, emailWork, ...), only fm, and
// list answers fm too (the portal's list was not verified to); update
// reads multifields from fm alone (the import's PHONE lists are ignored
// there); filters know no LIKE (%) and no logic:OR groups; batch
// substitutes $result[...] references with what earlier commands returned,
// leaving the text in place where the path is missing.
//
// # Limits
//
// Both of the portal's limits are on by default with cloud values: the
// leaky bucket per credential (2 per second, burst 50; [WithRateLimit]) and
// the per-method operating-time budget (480 s per 10 minutes;
// [WithOperatingLimit], scale it down for tests). Every successful answer
// carries the time block, with operating and operating_reset_at while the
// operating limit is on; error answers have none, as on the portal. In a
// batch, a command refused with OPERATION_TIME_LIMIT is in result_error
// with HTTP 200, result_time lists only the commands that succeeded ([]
// when none did), and the envelope's time is the batch wrapper's own
// (operating 0, a reset a window ahead), all as live portals answer.
// [WithLatency] simulates processing time, which counts as operating time,
// and [WithRequestTimeout] the 60 s cut-off. [RealisticLatency] is a
// preset with a loaded cloud portal's latency, for demos and trials by hand.
//
// # Answers
//
// Shapes and types follow answers recorded from live portals: PHP's empty
// arrays are [], a batch whose command ids are 0..n-1 has list sections,
// field values come back typed by the field whatever the request sent
// (ids and money as numbers even from a form-encoded batch command,
// booleans "Y"/"N"), and an item answer has every field of its type, null
// when unset.
//
// # Where it differs from a live portal
//
// Deliberately, to stay small and deterministic:
//   - the operating window is ten equal buckets aligned to the clock, so a
//     method with nothing counted reports the end of the current window as
//     operating_reset_at (a portal reports the call's start plus the window);
//   - the leaky bucket is kept per credential (webhook user or OAuth
//     application), not per portal and source address;
//   - only the methods listed above exist; an item has the fields of its
//     type's table (from the crm.item.import docs) and none of the fields a
//     portal computes (stageSemanticId, isNew, ...); user fields are kept as
//     sent;
//   - the token endpoint knows only the refresh_token grant, and its
//     answer's domain and server_endpoint name the fake itself (a cloud
//     portal names its authorization server) so that clients come back to
//     it; dates are written with the UTC offset +00:00;
//   - processing is the time the call took here, never the 0 that newer
//     portals sometimes report.
//
// # Faults
//
// [Server.InjectFault] makes matching calls fail before executing,
// execute and then lose the connection, save only part of a batch import,
// or answer 302 for a portal that moved. [Server.ExpireTokens] and
// [Server.RevokeRefreshTokens] drive the OAuth error paths.
//
// # Inspection
//
// [Server.Items], [Server.Requests] and [Server.Stats] show what the server
// stored, received and refused. [Server.Handle] adds a method the fake does
// not implement (or replaces one), and [WithCompactStore] keeps memory low
// for imports of millions of items.
//
// The package uses only the standard library and the b24 package, so tests
// that use it inherit no other dependency. The b24fake command runs the
// same server standalone.
package b24test
