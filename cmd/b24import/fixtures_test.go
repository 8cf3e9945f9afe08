package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/require"
)

// The fixture of the command's tests: the binary built once, runs of it
// against a fake portal, and the inputs, journals and reports they use.

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

// fakePortal starts a b24test portal without limits (for tests about
// outcomes, not pacing) unless opts set them again, closed when the test
// ends.
func fakePortal(t *testing.T, opts ...b24test.Option) *b24test.Server {
	t.Helper()
	srv := b24test.NewServer(append([]b24test.Option{b24test.WithoutLimits()}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
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

// runCLI runs the command to its end.
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

// runPaths returns a journal and a report path in a fresh directory.
func runPaths(t *testing.T) (journal, report string) {
	dir := t.TempDir()
	return filepath.Join(dir, "journal.jsonl"), filepath.Join(dir, "report.csv")
}

// dealArgs is the quiet command line that imports input as deals over
// http, with flags (a journal, a report, concurrency, ...) before the input.
func dealArgs(input string, flags ...string) []string {
	args := append([]string{"-entity", "deal", "-allow-http", "-q"}, flags...)
	return append(args, input)
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

// killWhenImported starts the command, kills it with SIGKILL once its
// journal records n imported rows, and waits for it to die.
func killWhenImported(t *testing.T, webhook, journal string, n int, args ...string) {
	t.Helper()
	cmd, _, _ := command(webhook, args...)
	require.NoError(t, cmd.Start())
	waitImported(t, journal, n)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

// killAt starts the command and kills it after d, unless it ended first;
// it reports whether the kill happened.
func killAt(t *testing.T, webhook string, d time.Duration, args ...string) bool {
	t.Helper()
	cmd, _, stderr := command(webhook, args...)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		t.Logf("the run ended before the kill at %v: %s", d, lastLine(stderr.String()))
		return false
	case <-time.After(d):
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-done
	return true
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
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

// readReport returns the report's rows by line, as line, status, id,
// code, description, action (key and title left out), and checks they
// come in input order.
func readReport(t *testing.T, path string) map[string][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"line", "status", "id", "key", "title", "code", "description", "action"}, recs[0])
	out := map[string][]string{}
	prev := 0
	for _, r := range recs[1:] {
		line, err := strconv.Atoi(r[0])
		require.NoError(t, err)
		require.Greater(t, line, prev, "the report is in input order")
		prev = line
		out[r[0]] = []string{r[0], r[1], r[2], r[5], r[6], r[7]}
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
