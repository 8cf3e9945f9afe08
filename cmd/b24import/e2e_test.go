package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binary is the b24import command built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "b24import-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "b24import")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building b24import: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cliResult is one finished run of the command.
type cliResult struct {
	code           int
	stdout, stderr string
}

// command prepares a run of the binary with the webhook (if any) in the
// environment and no other B24_ variables.
func command(webhook string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "B24_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// The fake portal writes rows before its simulated delay, so nothing of
	// a killed run can still be executing: resumes need not wait.
	cmd.Env = append(cmd.Env, "B24_SETTLE_WAIT=0")
	if webhook != "" {
		cmd.Env = append(cmd.Env, "B24_WEBHOOK_URL="+webhook)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func runCLI(t *testing.T, webhook string, args ...string) cliResult {
	t.Helper()
	cmd, stdout, stderr := command(webhook, args...)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{code, stdout.String(), stderr.String()}
}

// fastServer is a portal without pacing, for tests about outcomes.
func fastServer(t *testing.T, opts ...b24test.Option) *b24test.Server {
	srv := b24test.NewServer(append([]b24test.Option{b24test.WithoutRateLimit(), b24test.WithoutOperatingLimit()}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// writeDeals writes a CSV of n deals; with keys they carry originatorId
// and originId. Lines listed in bad get an unreadable amount.
func writeDeals(t *testing.T, n int, keys bool, bad ...int) string {
	var b strings.Builder
	if keys {
		b.WriteString("originatorId,originId,")
	}
	b.WriteString("title,opportunity,currencyId\n")
	for i := range n {
		line := i + 2
		if keys {
			fmt.Fprintf(&b, "e2e,%d,", i)
		}
		amount := fmt.Sprintf("%d.50", 100+i)
		for _, l := range bad {
			if l == line {
				amount = "lots"
			}
		}
		fmt.Fprintf(&b, "Deal %d,%s,EUR\n", i, amount)
	}
	path := filepath.Join(t.TempDir(), "deals.csv")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// readReport returns the report's rows by line.
func readReport(t *testing.T, path string) map[string][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"line", "status", "id", "code", "description"}, recs[0])
	out := map[string][]string{}
	for _, r := range recs[1:] {
		out[r[0]] = r
	}
	return out
}

// titles counts the stored deals by title.
func titles(srv *b24test.Server) map[string]int {
	m := map[string]int{}
	for _, it := range srv.Items(b24.EntityDeal) {
		m[fmt.Sprint(it.Fields["title"])]++
	}
	return m
}

func TestE2E_CSVWithRejectionsAndRerun(t *testing.T) {
	t.Parallel()
	srv := fastServer(t)
	input := writeDeals(t, 60, true, 5, 33)
	dir := t.TempDir()
	report, journal := filepath.Join(dir, "report.csv"), filepath.Join(dir, "journal.jsonl")
	args := []string{"-entity", "deal", "-allow-http", "-q", "-report", report, "-journal", journal, input}

	res := runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 58, rejected 2, unknown 0, not sent 0")
	assert.Equal(t, 58, srv.ItemCount(b24.EntityDeal))
	rows := readReport(t, report)
	assert.Len(t, rows, 60)
	assert.Equal(t, []string{"5", "rejected", "", codeValue, `column "opportunity": "lots" is not a number`}, rows["5"])
	assert.Equal(t, "imported", rows["2"][1])
	assert.NotEmpty(t, rows["2"][2], "imported rows carry their id")
	assert.Contains(t, res.stderr, "b24import: 2 rows not imported:\n  "+input+`:5: rejected B24IMPORT_INVALID_VALUE: column "opportunity": "lots" is not a number`)
	assert.NotContains(t, res.stdout+res.stderr, srv.WebhookURL(), "the webhook secret is never printed")

	// The same command again settles everything from the journal.
	requests := srv.Stats().Requests
	res = runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 58, rejected 2, unknown 0, not sent 0 (60 of them settled by an earlier run)")
	assert.Equal(t, requests, srv.Stats().Requests, "nothing is sent again")
	assert.Equal(t, 58, srv.ItemCount(b24.EntityDeal))
}

func TestE2E_JSONLContacts(t *testing.T) {
	t.Parallel()
	srv := fastServer(t)
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
	srv := fastServer(t)
	input := writeDeals(t, 10, true, 4)
	res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", "-dry-run", input)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, input+":4: "+codeValue)
	assert.Contains(t, res.stdout, "dry run: 9 rows valid, 1 would be rejected; nothing was sent")
	assert.Zero(t, srv.Stats().Requests)

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
	assert.Contains(t, res.stdout, "line  17  CRM_FIELD_ERROR_REQUIRED")
}

// waitImported waits until the journal records at least n imported rows.
func waitImported(t *testing.T, journal string, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(journal)
		if bytes.Count(b, []byte(`"status":"imported"`)) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the journal never recorded %d imported rows", n)
}

func TestE2E_Kill9AndResumeWithKeys(t *testing.T) {
	t.Parallel()
	srv := fastServer(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 50*time.Millisecond))
	const rows = 800
	input := writeDeals(t, rows, true)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	args := []string{"-entity", "deal", "-allow-http", "-q", "-concurrency", "4", "-journal", journal, input}

	cmd, _, _ := command(srv.WebhookURL(), args...)
	require.NoError(t, cmd.Start())
	waitImported(t, journal, 40)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
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
	srv := fastServer(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 50*time.Millisecond))
	const rows = 800
	input := writeDeals(t, rows, false)
	dir := t.TempDir()
	journal, report := filepath.Join(dir, "journal.jsonl"), filepath.Join(dir, "report.csv")
	args := []string{"-entity", "deal", "-allow-http", "-q", "-concurrency", "4", "-journal", journal, "-report", report, input}

	cmd, _, _ := command(srv.WebhookURL(), args...)
	require.NoError(t, cmd.Start())
	waitImported(t, journal, 40)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
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

func TestE2E_InterruptAndResume(t *testing.T) {
	t.Parallel()
	srv := fastServer(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 0))
	const rows = 600
	input := writeDeals(t, rows, true)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	args := []string{"-entity", "deal", "-allow-http", "-q", "-concurrency", "2", "-journal", journal, input}

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
	srv := fastServer(t)
	input := writeDeals(t, 5, true)
	dir := t.TempDir()

	t.Run("bad credentials", func(t *testing.T) {
		bad := srv.URL + "/rest/1/notthesecret42xyzq/"
		res := runCLI(t, bad, "-entity", "deal", "-allow-http", "-q", input)
		assert.Equal(t, exitFatal, res.code, res.stderr)
		assert.Contains(t, res.stderr, "b24import: stopped:")
		assert.NotContains(t, res.stdout+res.stderr, "notthesecret42xyzq")
	})
	t.Run("portal unreachable", func(t *testing.T) {
		gone := b24test.NewServer()
		url := gone.WebhookURL()
		gone.Close()
		res := runCLI(t, url, "-entity", "deal", "-allow-http", "-q", "-retries", "2", input)
		assert.Equal(t, exitFatal, res.code, res.stderr)
		assert.Contains(t, res.stderr, "b24import: stopped:")
		assert.Contains(t, res.stdout, "imported 0, rejected 0, unknown 0, not sent 5")
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
		assert.Contains(t, res.stderr, p+`:1: header: column 2 "oportunity" is not a field; did you mean "opportunity"?`)
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
	srv := fastServer(t)
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
	srv := fastServer(t)
	input := writeDeals(t, 30, false)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
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
	args := []string{"-entity", "deal", "-allow-http", "-q", "-journal", journal, input}

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
	srv := fastServer(t)
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
	srv := fastServer(t)
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
			srv := fastServer(t, b24test.WithSmartProcess(1030))
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
	srv := fastServer(t, b24test.WithLatency(100*time.Millisecond, 0, 0))
	input := writeDeals(t, 400, true)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	args := []string{"-entity", "deal", "-allow-http", "-q", "-concurrency", "1", "-journal", journal, input}
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
