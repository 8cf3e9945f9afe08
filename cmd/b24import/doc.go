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
// CSV: the header row names the columns. Each column is matched to a
// field, in this order: a -map rule; the field's own name in camelCase
// (title, stageId, opportunity, ufCrm…), as a system name (TITLE,
// STAGE_ID, ASSIGNED_BY_ID, UF_CRM_…) or another spelling of it (Stage
// Id, stage_id); with credentials, the portal's own field titles from
// crm.item.fields ("Название сделки", "Скидка, %" for a user field);
// without, a built-in table of the titles Bitrix24's own export writes in
// Russian and English and of common names in other CRMs' exports (Deal
// Name, Amount, Close Date, Deal owner). Multifields are PHONE, EMAIL, WEB,
// IM, optionally with a value type (PHONE_MOBILE, EMAIL_HOME; WORK by
// default), several values in a cell separated by "," ";" or "|";
// parents are parentId{N}.
//
// Every problem of the header is reported in one run, each with its way
// out: a column that is no field (map it, or skip it), a near-miss of a
// field name (did you mean …?), two columns that feed one field. Offline,
// a column named like an identifier that no table knows is sent as text
// with a warning, since the portal may have it; -ignore-unknown skips such
// columns instead, and every column that matches no field.
//
// The encoding is detected: UTF-8 with or without a byte-order mark,
// UTF-16 with one, else Windows-1251 or Windows-1252 (what spreadsheets
// save as "CSV" in Russian and Western locales); -encoding forces one
// (utf-8, utf-16, windows-1251, windows-1252, koi8-r, ibm866, ...). Excel's
// "sep=;" first line names the delimiter and is skipped (line numbers
// still count it), a trailing delimiter on every line is ignored, and the
// delimiter (, ; or tab) is otherwise detected or set with -delimiter.
//
// Cells are read as their field's type: numbers as "1 234,50", "1.234,50"
// or "1,234.50"; Y/N flags as Y/N, yes/no, true/false, 1/0, да/нет;
// dates as YYYY-MM-DD, DD.MM.YYYY or D/M/YYYY and M/D/YYYY where the day
// is above 12, a date with a time giving its date part (05.12.2023 09:43);
// date-times the same, or RFC 3339, read in -tz (default the local zone,
// which the run names) when they carry no zone; -date-format LAYOUT (a Go
// layout such as 01/02/2006 or 02.01.2006 15:04) is tried first, for
// dates that could be either day or month first; id lists as "1,2,3". An
// empty cell leaves the field unset.
//
// Values are looked up as the portal stores them. With credentials: a
// stage by its name or id within the row's pipeline (categoryId, by id or
// pipeline name; the default pipeline otherwise), using crm.category.list
// and crm.status.list; other crm_status fields (sourceId, typeId) by name;
// users (assignedById, observers, createdBy, user fields of type user) by
// id, e-mail or name as people write it ("Ivan Petrov", "Petrov Ivan",
// "Petrov I."), using user.get, and two people who fit are reported as
// ambiguous rather than guessed between; enumeration user fields by label;
// user fields by their declared type (double with a decimal comma,
// integer, boolean, date, datetime, money as "600|USD" from "600 USD",
// "$600" or "1 200,50 ₽"). Without credentials stage ids and a new
// portal's default stage names pass, and users must be ids. -values
// FIELD=FILE maps labels first, for anything else: a file of "label =
// value" lines. A value that resolves to nothing rejects its row, with
// the first few values that would have been accepted. With credentials a
// field the portal requires, left empty, rejects the row too, and so does
// history (createdTime) older than the portal's newest item, which the
// portal would refuse.
//
// -map FILE reads a mapping file: UTF-8, one "source column = field" a
// line, "#" comments, a field of "-" or nothing skipping the column, a
// source with "=" or "#" in double quotes; errors name the file and line.
// -map 'Source=field' (repeatable, or comma-separated) gives rules on the
// command line. -print-map prints the mapping the run would use, with how
// each column was matched and the header's problems, as a file to edit
// and pass back with -map, and sends nothing.
//
// JSON Lines (.jsonl, .ndjson): one object per line with the same camelCase
// keys (-original-uf-names if user fields are spelt UF_CRM_…). The format
// follows the file name, else the first byte; -format sets it. FILE "-"
// reads standard input (without -journal).
//
// A row that cannot be read (bad number or date, wrong cell count, broken
// quoting or JSON, not UTF-8, longer than 4 MiB, a NUL byte in a value) is
// rejected with its line number and every problem it has, and the rest go
// on; so are rows the library's validation or the portal refuse. A longer
// row is cut off while it is read, never loaded whole. A header longer than
// 4 MiB or of more than 5000 columns stops the run.
//
// -dry-run reads, coerces and validates every row as the real run would,
// and sends nothing. With credentials it reads the portal (fields,
// pipelines, stages, users, the newest item) and applies the same checks
// as a real run, including the order of history rows within the file, so
// the rows it passes are the rows a real run imports. It prints a summary
// per column ("stageId (column "Стадия"): 12 rows, e.g. line 7: …"), then
// the first rows it would reject with every problem of each.
//
// # Rows already in the portal
//
// A row with a dedup key (originatorId and originId for leads, deals,
// contacts and companies; xmlId for invoices and smart processes) is never
// imported twice. Before anything is sent the keys are looked up, 2,500 to
// a request, and -existing says what happens to the rows found:
//
//	skip    left as they are and reported imported, action "found", with the
//	        id of the item found (the default)
//	update  the fields that differ from the portal's are written with
//	        crm.item.update (action "updated"); a row that holds its values
//	        already is not written ("found")
//	create  every row is created without looking (for rows known to be new)
//
// So running the command again, on the same file or on an edited one, with
// a new journal or none, creates only the rows that are not there yet. Two
// rows of one file with the same key: the second is rejected
// (B24_DUPLICATE_KEY). A row with only half a key (originId without
// originatorId, or the reverse) is rejected (B24_INCOMPLETE_KEY).
//
// A file without key columns gets its keys from flags: -originator NAME
// sets originatorId on every row that has none (the system the rows come
// from), and -key-column COLUMN reads each row's originId (xmlId for
// invoices and smart processes) from that column, its id in that system.
// The key column need not be a field name ("Deal ID"); if it is no field, it
// is not sent as one. When rows have no key, a warning before the run says
// so and names these flags.
//
// -rejects FILE writes the rejected rows, byte for byte, in the input's
// format: a CSV gets its header (and byte order mark) first and keeps its
// delimiter, JSON Lines keep their lines. Fix them there and import that
// file; with keys, nothing imported before is created again.
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
// On a terminal, one progress line redrawn in place and fitted to the
// terminal's width: the share and count of rows settled, what the run
// waits for (the operating-time window of a method and how long is left,
// an unreachable portal and the retry, the rate limit), the ETA from the
// rate of the last 30 seconds and the rows still to send (rows settled by
// an earlier run do not count in the rate), rows per second and the
// rejected count. A wait that lasts over 3 seconds also gets a line of its
// own. Not on a terminal, a line every 5 seconds (-progress-every). -q
// turns both off; -v adds debug logging. An interrupted run shows the
// rows actually settled, never 100%. The settle wait of a resume counts
// down.
//
// The first call reads the entity type's fields with a short retry (4
// attempts within a few seconds), so an address that cannot be reached
// (connection refused, a host that does not resolve) or a webhook the
// portal refuses (deleted, or its user deactivated) is said in one line,
// with exit code 2, before any row is read.
//
// At the end a summary on stdout: imported, rejected, unknown, not sent,
// elapsed time and items/s, and on stderr the first 20 rows that did not
// end imported, as FILE:LINE: status CODE: reason (three or more rows in a
// row with the same reason are said once); the imported rows are split
// into created, already there and updated when a run found some. -report
// FILE writes a CSV with one row per input row handled: line, status, id,
// key (originatorId/originId or xmlId), title, code, description, action
// (created, found or updated, for imported rows); in input order, or as outcomes
// arrive with -report-order completion. -report-excel writes it for Excel
// in locales with a decimal comma: UTF-8 with a byte-order mark, ";"
// between cells. The report is written under a temporary name and renamed
// into place at the end; a path that is the same file as the input or the
// journal (through a link) is refused.
//
// Texts of the portal (codes, descriptions, errors) are shown as they are
// except for control characters, C1 codes and bidirectional overrides,
// which are printed as escapes (\x1b, \u202e), so that no answer can drive
// the terminal; in the report, a cell starting with = + - @, a tab or a
// carriage return gets a leading ' (OWASP's advice for CSV exports), so
// that a spreadsheet shows it as text instead of running it as a formula.
// The webhook secret, tokens and client secret are removed from every
// portal text before it reaches the journal, the report or the screen.
//
// # Codes
//
// The code column of the report and of the problem lines holds the
// portal's own error code (CRM_FIELD_ERROR_VALUE_NOT_VALID, ACCESS_DENIED,
// ...), one of the library's validation codes, or one of the importer's:
//
//	B24IMPORT_SYNTAX          CSV quoting or JSON syntax is broken
//	B24IMPORT_INVALID_VALUE   a cell cannot be read as its field's value, or
//	                          names no stage, user or list choice of the portal
//	B24IMPORT_REQUIRED        a field the portal requires is empty
//	B24IMPORT_FIELD_COUNT     a CSV row has more or fewer cells than the header
//	B24IMPORT_ROW_TOO_LONG    a row is longer than 4 MiB
//	B24IMPORT_ENCODING        a row is not valid text in the file's encoding
//	B24IMPORT_IN_FLIGHT       sent by a run that died before the answer came;
//	                          without a dedup key it cannot be checked
//	B24_INVALID_FIELD         a field the entity type does not have (library)
//	B24_FIELD_TYPO            a field name the portal would silently drop (library)
//	B24_INVALID_VALUE         a value the portal would refuse (library)
//	B24_DUPLICATE_FIELD       a field given twice (library)
//	B24_HISTORY_ORDER         createdTime out of order: earlier than the
//	                          previous row's or than the portal's newest item
//	B24_INCOMPLETE_KEY        originId without originatorId, or the reverse (library)
//	B24_DUPLICATE_KEY         an earlier row of the file has the same dedup key (library)
//	B24_IMPORT_ONLY           a history field on a row that updates an item (library)
//
// Rows not sent carry no code; their description says why (the import
// stopped, or was interrupted).
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
