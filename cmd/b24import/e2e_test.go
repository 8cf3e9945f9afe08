package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/b24kit/b24/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestE2E_CSVWithRejectionsAndRerun(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 60, true, 5, 33)
	journal, report := runPaths(t)
	args := dealArgs(input, "-report", report, "-journal", journal)

	res := runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 58, rejected 2, unknown 0, not sent 0")
	assert.Equal(t, 58, srv.ItemCount(b24.EntityDeal))
	rows := readReport(t, report)
	assert.Len(t, rows, 60)
	assert.Equal(t, []string{"5", "rejected", "", codeValue, `column "opportunity": "lots" is not a number`, ""}, rows["5"])
	assert.Equal(t, "created", rows["2"][5], "imported rows carry their action")
	assert.Equal(t, "imported", rows["2"][1])
	assert.NotEmpty(t, rows["2"][2], "imported rows carry their id")
	assert.Contains(t, res.stderr, "b24import: 2 rows not imported:\n  "+input+`:5: rejected B24IMPORT_INVALID_VALUE: column "opportunity": "lots" is not a number`)
	assert.NotContains(t, res.stdout+res.stderr, srv.WebhookURL(), "the webhook secret is never printed")

	// The same command again settles everything from the journal.
	requests := writes(srv)
	res = runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 58, rejected 2, unknown 0, not sent 0 (60 of them settled by an earlier run)")
	assert.Equal(t, requests, writes(srv), "nothing is sent again")
	assert.Equal(t, 58, srv.ItemCount(b24.EntityDeal))
}

func TestE2E_JSONLContacts(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, `{"name":"Anna %d","lastName":"Müller","PHONE":[{"VALUE":"+49 30 %d","VALUE_TYPE":"WORK"}],"originatorId":"e2e","originId":"c%d","opened":true}`+"\n", i, i, i)
	}
	input := filepath.Join(t.TempDir(), "contacts.jsonl")
	require.NoError(t, os.WriteFile(input, []byte(b.String()), 0o644))
	res := runCLI(t, srv.WebhookURL(), "-entity", "contact", "-allow-http", "-q", input)
	assert.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 25, rejected 0")
	items := srv.Items(b24.EntityContact)
	require.Len(t, items, 25)
	assert.Equal(t, "Müller", items[0].Fields["lastName"])
	assert.NotNil(t, items[0].Fields["PHONE"])
}

func TestE2E_DryRunSendsNothing(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 10, true, 4)
	res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", "-dry-run", input)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, input+":4: "+codeValue)
	assert.Contains(t, res.stdout, "opportunity: 1 row, e.g. line 4: ")
	assert.Contains(t, res.stdout, "dry run: 9 rows valid, 1 would be rejected; nothing was sent (checked against http://")
	assert.Zero(t, writes(srv), "a dry run only reads the portal")
	assert.Zero(t, srv.ItemCount(b24.EntityDeal))

	res = runCLI(t, "", "-entity", "deal", "-dry-run", writeDeals(t, 3, false))
	assert.Equal(t, exitOK, res.code, "a dry run needs no credentials: %s", res.stderr)
}

func TestE2E_Demo(t *testing.T) {
	t.Parallel()
	res := runCLI(t, "", "-demo")
	require.Equal(t, exitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stderr, "progress: ")
	assert.Contains(t, res.stderr, "/300 rows")
	assert.Contains(t, res.stdout, "imported 288, rejected 12, unknown 0, not sent 0")
	assert.Contains(t, res.stdout, "demo: OK")
	assert.Contains(t, res.stdout, "line  17  B24IMPORT_REQUIRED")
}

func TestE2E_Kill9AndResumeWithKeys(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 50*time.Millisecond))
	const rows = 800
	input := writeDeals(t, rows, true)
	journal, _ := runPaths(t)
	args := dealArgs(input, "-concurrency", "4", "-journal", journal)

	killWhenImported(t, srv.WebhookURL(), journal, 40, args...)
	before := srv.ItemCount(b24.EntityDeal)
	require.Less(t, before, rows, "the import was killed before the end")

	// Let the calls the dead process left in flight finish on the portal.
	time.Sleep(time.Second)
	res := runCLI(t, srv.WebhookURL(), args...)
	require.Equal(t, exitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stderr, "resuming from")
	t.Logf("killed with %d stored; resumed run:\n%s%s", before, res.stderr, res.stdout)
	assert.Contains(t, res.stdout, fmt.Sprintf("imported %d, rejected 0, unknown 0", rows))
	got := titles(srv)
	assert.Len(t, got, rows, "every row exists")
	for title, n := range got {
		assert.Equal(t, 1, n, "%s exists exactly once", title)
	}
}

func TestE2E_Kill9AndResumeWithoutKeys(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 50*time.Millisecond))
	const rows = 800
	input := writeDeals(t, rows, false)
	journal, report := runPaths(t)
	args := dealArgs(input, "-concurrency", "4", "-journal", journal, "-report", report)

	killWhenImported(t, srv.WebhookURL(), journal, 40, args...)
	time.Sleep(time.Second)

	res := runCLI(t, srv.WebhookURL(), args...)
	require.Contains(t, []int{exitOK, exitIncomplete}, res.code, res.stderr)
	got := titles(srv)
	for title, n := range got {
		assert.Equal(t, 1, n, "%s is not duplicated", title)
	}
	t.Logf("resumed run:\n%s%s", res.stderr, res.stdout)
	rep := readReport(t, report)
	require.Len(t, rep, rows, "every row is accounted for")
	imported, unknown := 0, 0
	for _, r := range rep {
		switch r[1] {
		case stImported:
			imported++
		case stUnknown:
			unknown++
			assert.Equal(t, codeInFlight, r[3])
		default:
			t.Errorf("line %s ended %s", r[0], r[1])
		}
	}
	assert.Equal(t, rows, imported+unknown)
	assert.GreaterOrEqual(t, len(got), imported, "every row reported imported exists")
	if unknown > 0 {
		assert.Equal(t, exitIncomplete, res.code)
	}
}

// TestE2E_ResumeWaitsForTheLastRunsCalls: a resume right after a kill
// waits before looking up the rows left in flight (the portal may still be
// executing them), says so, sends nothing meanwhile, and the wait ends on
// Ctrl-C.
func TestE2E_ResumeWaitsForTheLastRunsCalls(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 0))
	input := writeDeals(t, 600, true)
	journal, _ := runPaths(t)
	args := dealArgs(input, "-concurrency", "4", "-journal", journal)

	killWhenImported(t, srv.WebhookURL(), journal, 40, args...)
	time.Sleep(time.Second) // the dead run's calls finish on the fake portal
	requestsAfterKill := writes(srv)

	resume, _, _ := command(srv.WebhookURL(), append([]string{"-settle-wait", "1h"}, args...)...)
	stderr := &testutil.SyncBuffer{}
	resume.Stderr = stderr
	require.NoError(t, resume.Start())
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "waiting") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.Contains(t, stderr.String(), "-settle-wait 0", "the resume explains the wait and how to skip it")
	assert.Equal(t, requestsAfterKill, writes(srv), "nothing is looked up or sent while waiting")
	require.NoError(t, resume.Process.Signal(syscall.SIGINT))
	err := resume.Wait()
	require.Error(t, err, "an interrupted wait exits non-zero")
	assert.Equal(t, requestsAfterKill, writes(srv))
	assert.Less(t, srv.ItemCount(b24.EntityDeal), 600)
}

func TestE2E_InterruptAndResume(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 0))
	const rows = 600
	input := writeDeals(t, rows, true)
	journal, _ := runPaths(t)
	args := dealArgs(input, "-concurrency", "2", "-journal", journal)

	cmd, stdout, stderr := command(srv.WebhookURL(), args...)
	require.NoError(t, cmd.Start())
	waitImported(t, journal, 20)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, exitInterrupted, ee.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "interrupted: the calls in flight were finished and recorded")
	assert.Contains(t, stderr.String(), "to resume, run the same command again:\n  "+binary+" -entity deal")
	assert.Contains(t, stdout.String(), "imported ")
	// Every call in flight finished and was recorded: the journal holds
	// exactly the rows the portal has.
	st, err := readJournal(journal)
	require.NoError(t, err)
	assert.Empty(t, st.inFlight)
	recorded := 0
	for _, o := range st.results {
		if o.status == stImported {
			recorded++
		}
	}
	assert.Equal(t, srv.ItemCount(b24.EntityDeal), recorded)

	res := runCLI(t, srv.WebhookURL(), args...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Equal(t, rows, srv.ItemCount(b24.EntityDeal))
	assert.Len(t, titles(srv), rows)
}

func TestE2E_FatalErrors(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 5, true)
	dir := t.TempDir()

	t.Run("bad credentials", func(t *testing.T) {
		bad := srv.URL + "/rest/1/notthesecret42xyzq/"
		res := runCLI(t, bad, "-entity", "deal", "-allow-http", "-q", input)
		assert.Equal(t, exitFatal, res.code, res.stderr)
		assert.Equal(t, "b24import: "+srv.URL+" rejected the webhook (INVALID_CREDENTIALS): check B24_WEBHOOK_URL: is the webhook deleted or its user deactivated?\n", res.stderr,
			"one line, not one per row")
		assert.NotContains(t, res.stdout+res.stderr, "notthesecret42xyzq")
	})
	t.Run("portal unreachable", func(t *testing.T) {
		gone := b24test.NewServer()
		url := gone.WebhookURL()
		gone.Close()
		res := runCLI(t, url, "-entity", "deal", "-allow-http", "-q", input)
		assert.Equal(t, exitFatal, res.code, res.stderr)
		assert.Regexp(t, `^b24import: cannot reach http://127\.0\.0\.1:[0-9]+: connection refused \(4 attempts in [0-9.]+m?s\); check the host and port in B24_WEBHOOK_URL\n$`, res.stderr)
		assert.Empty(t, res.stdout, "nothing was read or sent")
	})
	t.Run("http without -allow-http", func(t *testing.T) {
		res := runCLI(t, srv.WebhookURL(), "-entity", "deal", input)
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, "-allow-http")
	})
	t.Run("no credentials", func(t *testing.T) {
		res := runCLI(t, "", "-entity", "deal", input)
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, "no credentials: set B24_WEBHOOK_URL")
	})
	t.Run("missing file", func(t *testing.T) {
		res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", filepath.Join(dir, "nope.csv"))
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, "nope.csv: no such file")
	})
	t.Run("usage", func(t *testing.T) {
		res := runCLI(t, "", input)
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, "-entity is required")
		res = runCLI(t, "", "-entity", "gadget", input)
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, "-entity")
	})
	t.Run("typo in the header", func(t *testing.T) {
		p := filepath.Join(dir, "typo.csv")
		require.NoError(t, os.WriteFile(p, []byte("title,oportunity\nA,1\n"), 0o644))
		res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", p)
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, p+`:1: header: column 2 "oportunity" is not a field of deal (did you mean "opportunity"?)`)
		assert.Contains(t, res.stderr, "-print-map")
	})
	t.Run("report path not writable", func(t *testing.T) {
		res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", "-report", filepath.Join(dir, "missing-dir", "r.csv"), input)
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, "report: open ")
	})
	t.Run("journal of another input", func(t *testing.T) {
		journal := filepath.Join(dir, "j.jsonl")
		res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", "-q", "-journal", journal, input)
		require.Equal(t, exitOK, res.code, res.stderr)
		before, err := os.ReadFile(journal)
		require.NoError(t, err)
		other := writeDeals(t, 6, true)
		res = runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", "-journal", journal, other)
		assert.Equal(t, exitFatal, res.code)
		assert.Contains(t, res.stderr, "the journal was written for a different input")
		after, err := os.ReadFile(journal)
		require.NoError(t, err)
		assert.Equal(t, before, after, "the journal is left untouched")
	})
}

func TestE2E_OAuthTokenFile(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	oc := srv.OAuthConfig()
	tokenPath := filepath.Join(t.TempDir(), "token.json")
	b, err := json.Marshal(tokenFile{AccessToken: oc.Token.AccessToken, RefreshToken: oc.Token.RefreshToken, Expiry: oc.Token.Expiry})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tokenPath, b, 0o600))
	srv.ExpireTokens() // the first call must refresh

	cmd, stdout, stderr := command("", "-entity", "deal", "-allow-http", "-q", "-token-file", tokenPath, writeDeals(t, 5, true))
	cmd.Env = append(cmd.Env, "B24_OAUTH_ENDPOINT="+oc.Endpoint, "B24_CLIENT_ID="+oc.ClientID,
		"B24_CLIENT_SECRET="+oc.ClientSecret, "B24_TOKEN_URL="+oc.TokenURL)
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Contains(t, stdout.String(), "imported 5")
	assert.Equal(t, 5, srv.ItemCount(b24.EntityDeal))

	fi, err := os.Stat(tokenPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	tok, err := readTokenFile(tokenPath)
	require.NoError(t, err)
	assert.NotEqual(t, oc.Token.RefreshToken, tok.RefreshToken, "the rotated pair was written back")
	out := stdout.String() + stderr.String()
	for _, secret := range []string{oc.ClientSecret, oc.Token.AccessToken, tok.AccessToken, tok.RefreshToken} {
		assert.NotContains(t, out, secret)
	}
}

func TestE2E_RetryUnknownResendsRowsWithoutKeys(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 30, false)
	journal, _ := runPaths(t)
	// A journal left by a run that died with lines 2..21 in flight, of
	// which the portal never saw anything.
	fp, err := hashFile(input)
	require.NoError(t, err)
	j, err := openJournal(journal, nil, journalHeader{Journal: journalVersion, Input: input, fingerprint: fp, Entity: int(b24.EntityDeal)})
	require.NoError(t, err)
	var lines []int
	for l := 2; l <= 21; l++ {
		lines = append(lines, l)
	}
	require.NoError(t, j.markSent(lines))
	require.NoError(t, j.close())
	args := dealArgs(input, "-journal", journal)

	res := runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 10, rejected 0, unknown 20", "rows in doubt without keys are not resent")
	assert.Equal(t, 10, srv.ItemCount(b24.EntityDeal))

	res = runCLI(t, srv.WebhookURL(), append([]string{"-retry-unknown"}, args...)...)
	assert.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 30, rejected 0, unknown 0")
	assert.Equal(t, 30, srv.ItemCount(b24.EntityDeal))
}

func TestE2E_StandardInput(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	cmd, stdout, stderr := command(srv.WebhookURL(), "-entity", "lead", "-allow-http", "-q", "-")
	cmd.Stdin = strings.NewReader(`{"title":"from a pipe","name":"Jo"}` + "\n" + `{"title":"second"}` + "\n")
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Contains(t, stdout.String(), "imported 2, rejected 0")
	assert.Equal(t, 2, srv.ItemCount(b24.EntityLead))

	res := runCLI(t, srv.WebhookURL(), "-entity", "lead", "-journal", "j.jsonl", "-")
	assert.Equal(t, exitFatal, res.code)
	assert.Contains(t, res.stderr, "-journal needs a file")
}

func TestE2E_VerboseLogsWithoutSecrets(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", "-v", writeDeals(t, 3, true))
	assert.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stderr, "level=DEBUG")
	assert.Contains(t, res.stderr, "crm.item.batchImport")
	secret := strings.TrimSuffix(strings.TrimPrefix(srv.WebhookURL(), srv.URL+"/rest/1/"), "/")
	require.NotEmpty(t, secret)
	assert.NotContains(t, res.stdout+res.stderr, secret)
}

// TestE2E_ResumeLooksUpRowsInFlight replays a run that died after its
// calls reached the portal but before their answers were recorded: the
// resumed run must find those rows by their dedup keys, not send them again.
func TestE2E_ResumeLooksUpRowsInFlight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		entity string
		et     b24.EntityTypeID
		header string
		row    func(i int) string
		item   func(i int) b24.Item
	}{
		{"deal", b24.EntityDeal, "originatorId,originId,title",
			func(i int) string { return fmt.Sprintf("crm,%d,Deal %d", i, i) },
			func(i int) b24.Item {
				return b24.Item{OriginatorID: "crm", OriginID: fmt.Sprint(i), Title: fmt.Sprintf("Deal %d", i)}
			}},
		{"1030", 1030, "xmlId,title",
			func(i int) string { return fmt.Sprintf("x-%d,Item %d", i, i) },
			func(i int) b24.Item { return b24.Item{XMLID: fmt.Sprintf("x-%d", i), Title: fmt.Sprintf("Item %d", i)} }},
	}
	for _, tc := range cases {
		t.Run(tc.entity, func(t *testing.T) {
			t.Parallel()
			srv := fakePortal(t, b24test.WithSmartProcess(1030))
			const rows = 70
			var b strings.Builder
			b.WriteString(tc.header + "\n")
			for i := range rows {
				b.WriteString(tc.row(i) + "\n")
			}
			dir := t.TempDir()
			input, journal := filepath.Join(dir, "in.csv"), filepath.Join(dir, "journal.jsonl")
			require.NoError(t, os.WriteFile(input, []byte(b.String()), 0o644))

			// The dead run: rows 0..39 (lines 2..41) were sent; the portal
			// saved rows 0..29; only rows 0..9 got their answer recorded.
			var saved []b24.Item
			for i := range 30 {
				saved = append(saved, tc.item(i))
			}
			_, err := srv.Client().CRMItem.BatchImport(t.Context(), tc.et, saved)
			require.NoError(t, err)
			fp, err := hashFile(input)
			require.NoError(t, err)
			j, err := openJournal(journal, nil, journalHeader{Journal: journalVersion, Input: input, fingerprint: fp, Entity: int(tc.et)})
			require.NoError(t, err)
			var sent []int
			for l := 2; l <= 41; l++ {
				sent = append(sent, l)
			}
			require.NoError(t, j.markSent(sent))
			for i := range 10 {
				require.NoError(t, j.record(i+2, outcome{status: stImported, id: int64(i + 1)}))
			}
			require.NoError(t, j.close())

			res := runCLI(t, srv.WebhookURL(), "-entity", tc.entity, "-allow-http", "-q", "-journal", journal, input)
			require.Equal(t, exitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			assert.Contains(t, res.stderr, "30 rows in doubt: 30 have dedup keys, 20 of those were found in the portal")
			assert.Contains(t, res.stdout, "imported 70, rejected 0, unknown 0")
			items := srv.Items(tc.et)
			require.Len(t, items, rows, "nothing was imported twice")
			seen := map[string]bool{}
			for _, it := range items {
				title := fmt.Sprint(it.Fields["title"])
				assert.False(t, seen[title], "%s is duplicated", title)
				seen[title] = true
			}
		})
	}
}

func TestE2E_JournalInUse(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t, b24test.WithLatency(100*time.Millisecond, 0, 0))
	input := writeDeals(t, 400, true)
	journal, _ := runPaths(t)
	args := dealArgs(input, "-concurrency", "1", "-journal", journal)
	first, _, _ := command(srv.WebhookURL(), args...)
	require.NoError(t, first.Start())
	waitImported(t, journal, 1)

	res := runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitFatal, res.code)
	assert.Contains(t, res.stderr, "is in use by another b24import run")

	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	res = runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitOK, res.code, "the lock died with the process: %s", res.stderr)
	assert.Equal(t, 400, srv.ItemCount(b24.EntityDeal))
}

// writes counts the requests that are not reads of the portal's
// descriptions (fields, pipelines, stages, users, the newest item).
func writes(srv *b24test.Server, alsoReads ...string) int {
	n := 0
	for _, r := range srv.Requests() {
		switch r.Method {
		case "crm.item.fields", "crm.category.list", "crm.status.list", "user.get":
		default:
			if !slices.Contains(alsoReads, r.Method) {
				n++
			}
		}
	}
	return n
}
