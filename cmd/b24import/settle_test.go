package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2E_ResumeWaitsForTheLastRunsCalls: a resume right after a kill
// waits before looking up the rows left in flight (the portal may still be
// executing them), says so, sends nothing meanwhile, and the wait ends on
// Ctrl-C.
func TestE2E_ResumeWaitsForTheLastRunsCalls(t *testing.T) {
	t.Parallel()
	srv := fastServer(t, b24test.WithLatency(150*time.Millisecond, 5*time.Millisecond, 0))
	input := writeDeals(t, 600, true)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	args := []string{"-entity", "deal", "-allow-http", "-q", "-concurrency", "4", "-journal", journal, input}

	first, _, _ := command(srv.WebhookURL(), args...)
	require.NoError(t, first.Start())
	waitImported(t, journal, 40)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	time.Sleep(time.Second) // the dead run's calls finish on the fake portal
	requestsAfterKill := srv.Stats().Requests

	resume, _, _ := command(srv.WebhookURL(), append([]string{"-settle-wait", "1h"}, args...)...)
	stderr := &syncBuffer{}
	resume.Stderr = stderr
	require.NoError(t, resume.Start())
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "waiting") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.Contains(t, stderr.String(), "-settle-wait 0", "the resume explains the wait and how to skip it")
	assert.Equal(t, requestsAfterKill, srv.Stats().Requests, "nothing is looked up or sent while waiting")
	require.NoError(t, resume.Process.Signal(syscall.SIGINT))
	err := resume.Wait()
	require.Error(t, err, "an interrupted wait exits non-zero")
	assert.Equal(t, requestsAfterKill, srv.Stats().Requests)
	assert.Less(t, srv.ItemCount(b24.EntityDeal), 600)
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
