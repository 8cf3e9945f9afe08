package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/b24kit/b24/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Runs of the command against portals that misbehave on purpose: a proxy
// in front of a b24test portal rewrites its answers.

// proxySecret is the webhook secret of the portals behind proxied.
const proxySecret = "proxysecret0451"

// answerEdit rewrites one answer: method is the REST method called, req
// the request body, body the portal's answer; it returns the status and
// body the command gets.
type answerEdit func(method string, req []byte, status int, body []byte) (int, []byte)

// proxied starts a b24test portal (with WithWebhookSecret(proxySecret)
// added to opts) behind a proxy that passes every answer through edit, and
// returns the portal and the proxy's webhook URL.
func proxied(t *testing.T, edit answerEdit, opts ...b24test.Option) (*b24test.Server, string) {
	t.Helper()
	return proxiedWith(t, nil, edit, opts...)
}

// proxiedWith is proxied with a step that sees each request (method and
// body) before the portal does and may hold it there; the portal then
// executes it whether the command still waits or not.
func proxiedWith(t *testing.T, before func(method string, req []byte), edit answerEdit, opts ...b24test.Option) (*b24test.Server, string) {
	t.Helper()
	srv := fakePortal(t, append(opts, b24test.WithWebhookSecret(proxySecret))...)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := record(r)
		method := strings.TrimSuffix(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], ".json")
		if before != nil {
			before(method, req)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
		status, body := rec.Code, rec.Body.Bytes()
		if edit != nil {
			status, body = edit(method, req, status, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(proxy.Close)
	return srv, proxy.URL + "/rest/1/" + proxySecret + "/"
}

// record reads r's body and puts it back for the portal.
func record(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// TestHostileMaxResponseFlag: -max-response caps the answers read; an
// answer over it fails its call (the rows end unknown, nothing is loaded
// whole), and a cap outside 1..4096 MiB is a usage error.
func TestHostileMaxResponseFlag(t *testing.T) {
	t.Parallel()
	padding := strings.Repeat(" ", 3<<20)
	_, webhook := proxied(t, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method != "crm.item.batchImport" {
			return status, body
		}
		return status, append(body, padding...) // valid JSON, 3 MiB
	})
	input := writeDeals(t, 5, false)
	res := runCLI(t, webhook, dealArgs(input, "-max-response", "1")...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 0, rejected 0, unknown 5")
	assert.Contains(t, res.stderr, "response too large")

	res = runCLI(t, webhook, dealArgs(input, "-max-response", "4")...)
	assert.Equal(t, exitOK, res.code, res.stderr)

	res = runCLI(t, webhook, dealArgs(input, "-max-response", "0")...)
	assert.Equal(t, exitFatal, res.code)
	require.Contains(t, res.stderr, "-max-response must be within 1..4096")
}

// TestHostileEchoedSecretsStayOut: a portal that echoes the webhook secret
// in every item's error and description gets it into neither the
// journal, the report nor the output.
func TestHostileEchoedSecretsStayOut(t *testing.T) {
	t.Parallel()
	_, webhook := proxied(t, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method != "crm.item.batchImport" {
			return status, body
		}
		var env map[string]any
		if json.Unmarshal(body, &env) != nil {
			return status, body
		}
		items, _ := env["result"].(map[string]any)["items"].([]any)
		for i := range items {
			items[i] = map[string]any{"error": "CRM_FIELD_ERROR_VALUE_NOT_VALID", "error_description": "webhook " + proxySecret + " may not"}
		}
		out, _ := json.Marshal(env)
		return status, out
	})
	input := writeDeals(t, 30, true)
	journal, report := runPaths(t)
	res := runCLI(t, webhook, dealArgs(input, "-journal", journal, "-report", report)...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "rejected 30")
	j, err := os.ReadFile(journal)
	require.NoError(t, err)
	r, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(r), "webhook *** may not")
	for name, text := range map[string]string{"journal": string(j), "report": string(r), "output": res.stdout + res.stderr} {
		assert.Zero(t, strings.Count(text, proxySecret), "the secret is in the %s", name)
	}
}

// journalInFlight writes the journal of a run of input (deals) that died
// with the rows on lines sent and no answer recorded.
func journalInFlight(t *testing.T, input, journal string, lines []int) {
	t.Helper()
	fp, err := hashFile(input)
	require.NoError(t, err)
	j, err := openJournal(journal, nil, journalHeader{Journal: journalVersion, Input: input, fingerprint: fp, Entity: int(b24.EntityDeal)})
	require.NoError(t, err)
	require.NoError(t, j.markSent(lines))
	require.NoError(t, j.close())
}

// listAnswer is a crm.item.list answer holding items.
func listAnswer(items []map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"result": map[string]any{"items": items}, "total": len(items)})
	return b
}

// TestHostileResumeLookupOfAPortalThatMatchesLoosely: the portal answers
// the resume's lookup with keys in other cases, with trailing spaces and
// keys nobody asked for (its collation matches that way): the resume
// neither panics nor mistakes them, finds the rows that exist and sends
// only the others.
func TestHostileResumeLookupOfAPortalThatMatchesLoosely(t *testing.T) {
	t.Parallel()
	srv, webhook := proxied(t, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method != "crm.item.list" {
			return status, body
		}
		var env map[string]any
		if json.Unmarshal(body, &env) != nil {
			return status, body
		}
		items, _ := env["result"].(map[string]any)["items"].([]any)
		var out []map[string]any
		for _, it := range items {
			m, _ := it.(map[string]any)
			m["originatorId"] = strings.ToUpper(fmt.Sprint(m["originatorId"])) + "  "
			out = append(out, m)
		}
		out = append(out, map[string]any{"id": 99999, "originatorId": "E2E", "originId": "not-asked"},
			map[string]any{"id": 99998, "originatorId": "someone-else", "originId": "3"})
		return status, listAnswer(out)
	})
	input := writeDeals(t, 30, true)
	journal, _ := runPaths(t)
	// The dead run sent lines 2..21 (rows 0..19); the portal saved rows 0..9.
	var saved []b24.Item
	for i := range 10 {
		saved = append(saved, b24.Item{OriginatorID: "e2e", OriginID: fmt.Sprint(i), Title: fmt.Sprintf("Deal %d", i)})
	}
	_, err := srv.Client().CRMItem.BatchImport(t.Context(), b24.EntityDeal, saved)
	require.NoError(t, err)
	var sent []int
	for l := 2; l <= 21; l++ {
		sent = append(sent, l)
	}
	journalInFlight(t, input, journal, sent)

	res := runCLI(t, webhook, dealArgs(input, "-journal", journal)...)
	require.Equal(t, exitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.NotContains(t, res.stderr, "panic")
	assert.Contains(t, res.stderr, "20 rows in doubt: 20 have dedup keys, 10 of those were found in the portal")
	for title, n := range titles(srv) {
		assert.Equal(t, 1, n, "%s stored %d times", title, n)
	}
	assert.Equal(t, 30, srv.ItemCount(b24.EntityDeal))
}

// TestHostileResumeLookupOfAPortalThatIgnoresPaging: a portal that answers
// every lookup with the same full page (it ignores start and the id
// filter) ends the resume with a clear error after a few requests, instead
// of paging for ever; nothing is sent.
func TestHostileResumeLookupOfAPortalThatIgnoresPaging(t *testing.T) {
	t.Parallel()
	var lists atomic.Int64
	page := make([]map[string]any, 50)
	for i := range page {
		page[i] = map[string]any{"id": i + 1, "originatorId": "other", "originId": fmt.Sprint(i)}
	}
	srv, webhook := proxied(t, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method != "crm.item.list" {
			return status, body
		}
		lists.Add(1)
		return 200, listAnswer(page)
	})
	input := writeDeals(t, 30, true)
	journal, _ := runPaths(t)
	journalInFlight(t, input, journal, []int{2, 3, 4, 5})
	res := runCLI(t, webhook, dealArgs(input, "-journal", journal)...)
	assert.Equal(t, exitFatal, res.code, res.stderr)
	assert.Contains(t, res.stderr, "checking the rows the last run left in flight")
	assert.LessOrEqual(t, lists.Load(), int64(2+2*4), "bounded by the keys asked")
	assert.Zero(t, srv.ItemCount(b24.EntityDeal), "nothing is sent while rows are in doubt")
}

// TestHostileResumeWaitsFromTheLastSend: the dead run's last call waited
// seconds in the rate limiter after its rows were journaled, went out,
// and the portal was still saving it when the run was killed. The resume
// must wait from the moment the call went out, not from the journal's
// last write before it: looked up at once, the rows would be missing and
// sent a second time.
func TestHostileResumeWaitsFromTheLastSend(t *testing.T) {
	t.Parallel()
	var imports atomic.Int32
	arrived, release := make(chan struct{}), make(chan struct{})
	var looked atomic.Bool
	lookedUp := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	srv, webhook := proxiedWith(t, func(method string, _ []byte) {
		if method == "crm.item.batchImport" && imports.Add(1) == 2 {
			close(arrived)
			<-release // the portal is still at work on the dead run's call
		}
	}, func(method string, _ []byte, status int, body []byte) (int, []byte) {
		if method == "crm.item.list" && looked.CompareAndSwap(false, true) {
			close(lookedUp)
		}
		return status, body
	})
	input := writeDeals(t, 40, true)
	journal, _ := runPaths(t)
	// One request per 4 s: the second call waits in the limiter long after
	// its rows were journaled.
	dead, _, _ := command(webhook, dealArgs(input, "-concurrency", "1", "-rate", "0.25", "-burst", "1", "-journal", journal)...)
	require.NoError(t, dead.Start())
	<-arrived
	require.NoError(t, dead.Process.Signal(syscall.SIGKILL))
	_ = dead.Wait()

	resume, stdout, _ := command(webhook, dealArgs(input, "-settle-wait", "3s", "-rate", "100", "-burst", "10", "-journal", journal)...)
	stderr := &testutil.SyncBuffer{}
	resume.Stderr = stderr
	require.NoError(t, resume.Start())
	done := make(chan error, 1)
	go func() { done <- resume.Wait() }()
	deadline := time.After(30 * time.Second)
wait:
	for !strings.Contains(stderr.String(), "waiting") {
		select {
		case <-lookedUp: // looked up without waiting
			break wait
		case <-deadline:
			t.Fatalf("the resume neither waited nor looked up: %s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(release) // the portal finishes the dead run's call
	require.NoError(t, <-done, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	for title, n := range titles(srv) {
		assert.Equal(t, 1, n, "%s stored %d times", title, n)
	}
	assert.Equal(t, 40, srv.ItemCount(b24.EntityDeal))
}

// TestHostileJournalCutToItsHeader: a journal that lost everything but its
// header (a restored backup, a disk that lost its tail) lists none of the
// rows the earlier run imported; the keyed ones are looked up before they
// are sent, so a second run creates nothing, at about one lookup request
// per 50 rows.
func TestHostileJournalCutToItsHeader(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeDeals(t, 200, true, 7)
	journal, report := runPaths(t)
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-journal", journal)...)
	require.Equal(t, exitIncomplete, res.code, res.stderr)
	require.Equal(t, 199, srv.ItemCount(b24.EntityDeal))

	b, err := os.ReadFile(journal)
	require.NoError(t, err)
	header, _, _ := bytes.Cut(b, []byte("\n"))
	require.NoError(t, os.WriteFile(journal, append(header, '\n'), 0o644))
	before := srv.Stats().Requests
	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-journal", journal, "-report", report)...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 199, rejected 1, unknown 0, not sent 0")
	assert.Equal(t, 199, srv.ItemCount(b24.EntityDeal), "nothing was imported twice")
	for title, n := range titles(srv) {
		assert.Equal(t, 1, n, "%s stored %d times", title, n)
	}
	// The first request reads the entity type's fields (the fail-fast probe).
	assert.LessOrEqual(t, srv.Stats().Requests-before, 1+200/50+1, "one lookup per 50 rows, nothing sent")
	rep := readReport(t, report)
	assert.Equal(t, "imported", rep["2"][1])
	assert.NotEmpty(t, rep["2"][2], "with the id it has in the portal")
}
