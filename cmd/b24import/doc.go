// Command b24import imports CRM items from a CSV or JSON Lines file into a
// Bitrix24 portal through crm.item.batchImport. Every row ends with a known
// outcome (imported with its id, rejected with the portal's reason, or
// unknown), and an interrupted or killed run resumes without importing
// anything twice.
//
// Usage:
//
//	b24import -entity TYPE [flags] FILE
//	b24import -demo
//
// Try it without a portal: b24import -demo (or go run ./cmd/b24import -demo)
// imports 300 sample deals into an embedded fake portal.
//
// # Credentials
//
// A webhook: B24_WEBHOOK_URL=https://HOST/rest/USER/SECRET/ (or -webhook,
// which other users of the machine can see in the process list). Or an
// OAuth application: B24_OAUTH_ENDPOINT (the portal's https://HOST/rest/),
// B24_CLIENT_ID, B24_CLIENT_SECRET and -token-file (or B24_TOKEN_FILE), a
// JSON file {"access_token", "refresh_token", "expiry"} that is rewritten
// atomically with mode 0600 on every refresh, since Bitrix24 invalidates the
// old refresh token. B24_TOKEN_URL overrides the token endpoint. Secrets are
// never printed or logged, not even with -v. Addresses must be https unless
// -allow-http is given (local fakes).
//
// # Input
//
// CSV: the header row names the fields: typed fields in camelCase (title,
// stageId, opportunity, originatorId, ...), user fields as ufCrm… (or all
// as UF_CRM_…), parentId{N}, and multifields as PHONE, EMAIL, WEB, IM,
// optionally with a value type (PHONE_MOBILE, EMAIL_HOME; WORK by
// default), several values in a cell separated by "," ";" or "|". UTF-8
// with or without BOM; the delimiter (, ; or tab) is detected from the
// header or set with -delimiter. Cells are coerced to the field's type:
// numbers accept "1 234,50", "1.234,50" and "1,234.50"; Y/N flags accept
// Y/N, yes/no, true/false, 1/0; dates YYYY-MM-DD or DD.MM.YYYY; date-times
// RFC 3339 (or "YYYY-MM-DD HH:MM:SS" in the local zone); id lists "1,2,3".
// An empty cell leaves the field unset. A column that is not a known field
// draws a warning and is sent as is, unless it looks like a misspelling of
// one (oportunity, Title, isReccurring), which stops the run with a
// suggestion: the portal would silently drop it from every row.
//
// JSON Lines (.jsonl, .ndjson): one object per line with the same camelCase
// keys (-original-uf-names if user fields are spelt UF_CRM_…). The format
// follows the file name, else the first byte; -format sets it. FILE "-"
// reads standard input (without -journal).
//
// A row that cannot be read (bad number or date, wrong cell count, broken
// quoting or JSON, not UTF-8, longer than 4 MiB, a NUL byte in a value) is
// rejected with its line number and the rest go on; a longer row is cut off
// while it is read, never loaded whole. A header longer than 4 MiB or of
// more than 5000 columns stops the run; so are rows the library's validation or the
// portal refuse. -dry-run reads, coerces and validates every row, prints
// the ones that would fail as FILE:LINE: CODE: reason, and sends nothing.
//
// # Journal and resume
//
// With -journal FILE every outcome is recorded, and running the same
// command again resumes: rows recorded imported or rejected are skipped,
// the rest are sent. The journal is a JSON Lines file: a header with the
// input's size and SHA-256 and the entity type (a journal of another file
// or entity type is refused), then before each block of rows a "send" line
// listing their input lines, synced to disk before they may go out; a
// "went" line with the lines and the time each request really goes out,
// synced right before it is written (after its waits in the rate limiter
// and the operating budget); and one line per row with its line number,
// status, id or error code, synced after each call's results. A torn last
// line (the process was killed while writing) is ignored. A -journal file
// that does not start like a journal is refused, never overwritten, and
// the input, the journal and the report must be three different files
// (hard and symbolic links to one file count as that file). A run holds an exclusive lock on its journal, so a
// second run with the same journal is refused while the first is alive.
//
// Rows listed in a "send" line without a result were in flight when the
// run died (kill -9, power loss); rows recorded unknown had an outcome even
// the library could not establish. On resume, those with a dedup key
// (originatorId and originId for leads, deals, contacts and companies; xmlId
// for invoices and smart processes) are looked up in the portal with
// crm.item.list: found ones are recorded imported with their ids, the others
// are sent. Those without a key are reported unknown and not sent, because
// they may already exist; -retry-unknown sends them anyway, at the risk of
// duplicates. Rows recorded not_sent were never executed by the portal and
// are always sent again. Give your rows dedup keys and a resumed import is
// exactly-once.
//
// A resume right after a crash first waits until 75 s have passed since
// the last run's last request went out (its last "went" line;
// -settle-wait, $B24_SETTLE_WAIT; 0 skips it): the portal may still be
// executing that run's last calls, and a row it has not written yet would
// otherwise be looked up as missing and sent twice. The same bound keeps a
// running import from looking up the rows of a call whose answer was lost
// before the portal can have finished it; set it to the portal's own limit
// plus a margin when that is over 60 s (an on-premise portal, a slow
// proxy).
//
// Dedup keys are matched the way the portal's database compares them:
// without regard to case and to trailing spaces ("CRM-7 " and "crm-7" are
// one key). Rows in doubt that share a key cannot be told apart and stay
// unknown. A resumed run also looks up, before sending them, the keyed
// rows its journal does not list (one crm.item.list request per 49 rows),
// so a journal that lost its tail (cut back to its header, restored from
// an older copy) imports nothing twice.
//
// Ctrl-C (SIGINT) or SIGTERM stops reading, lets the calls in flight
// finish, records them, prints the command that resumes, and exits 130. A
// second Ctrl-C quits at once; the journal stays consistent.
//
// # Output
//
// A progress bar on stderr when it is a terminal, a progress line every 5
// seconds (-progress-every) otherwise; -q turns both off; -v adds debug
// logging. At the end a summary on stdout: imported, rejected, unknown, not
// sent, elapsed time and items/s, and on stderr the first 20 rows that did
// not end imported, as FILE:LINE: status CODE: reason. -report FILE writes a
// CSV with one row per input row handled: line, status, id, code,
// description; it is written under a temporary name and renamed into
// place at the end. Texts of the portal (codes, descriptions, errors) are
// shown as they are except for control characters, C1 codes and
// bidirectional overrides, which are printed as escapes (\x1b, \u202e), so
// that no answer can drive the terminal; in the report, a cell starting
// with = + - @, a tab or a carriage return gets a leading ' (OWASP's advice
// for CSV exports), so that a spreadsheet shows it as text instead of
// running it as a formula. The webhook secret, tokens and client secret are
// removed from every portal text before it reaches the journal, the report
// or the screen.
//
// # Pacing
//
// The client keeps to the portal's request rate (-rate, -burst: 2/s and 50
// on cloud plans, 5/s and 250 on Enterprise) and operating-time budget, with
// -concurrency calls in flight (default 8) and -packing calls per batch
// request (automatic by default). A call the portal refuses before running
// it, or that cannot be delivered, is retried with backoff (-retries
// attempts, default 8); a portal that stays unreachable stops the run with
// exit code 2, resumable like any other stop. -max-response caps the size
// of an answer read (64 MiB by default); a larger one fails its call, whose
// keyed rows are then looked up.
//
// A resumed run keeps the journal's outcomes in memory, about 200 bytes a
// row.
//
// # Exit codes
//
//	0    every row imported (with -dry-run: every row valid)
//	1    some rows rejected, unknown or not sent (see the report)
//	2    usage error, unreadable input or journal, bad credentials, no permission
//	130  interrupted by SIGINT or SIGTERM; run the same command to resume
package main
