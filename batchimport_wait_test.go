package b24_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// progressLog keeps every progress snapshot of an import.
type progressLog struct {
	mu   sync.Mutex
	list []b24.Progress
}

func (l *progressLog) add(p b24.Progress) {
	l.mu.Lock()
	l.list = append(l.list, p)
	l.mu.Unlock()
}

func (l *progressLog) waits() []b24.Wait {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []b24.Wait
	for _, p := range l.list {
		if p.Wait.Reason != b24.WaitNone {
			out = append(out, p.Wait)
		}
	}
	return out
}

func TestProgressReportsOperatingWindowWait(t *testing.T) {
	// A budget of 0.2 s per 1.5 s and calls of 0.15 s: the second call
	// waits for the first to drop out of the window, over a second.
	srv := fakePortal(t, b24test.WithOperatingLimit(200*time.Millisecond, 1500*time.Millisecond),
		b24test.WithLatency(150*time.Millisecond, 0, 0))
	c := srv.Client(b24.WithRateLimit(1e6, 10000))
	var log progressLog
	res, err := c.CRMItem.BatchImport(context.Background(), b24.EntityDeal, deals(40, true),
		b24.WithConcurrency(1), b24.WithPacking(1), b24.WithProgress(log.add))
	require.NoError(t, err)
	imported, _, _, _ := res.Counts()
	assert.Equal(t, 40, imported)

	waits := log.waits()
	require.NotEmpty(t, waits, "the import waited for the operating window and said so")
	w := waits[0]
	assert.Equal(t, b24.WaitOperatingLimit, w.Reason)
	assert.Equal(t, "crm.item.batchImport", w.Method)
	assert.False(t, w.Until.IsZero(), "the in-process budget knows when the window frees up")
	assert.False(t, w.Since.IsZero())
	last := log.list[len(log.list)-1]
	assert.Equal(t, b24.WaitNone, last.Wait.Reason, "the last snapshot waits for nothing")
}

func TestProgressReportsUnreachablePortal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	wh, err := b24.NewWebhook("http://" + addr + "/rest/1/secret0123/")
	require.NoError(t, err)
	c, err := b24.NewClient(wh, b24.WithAllowHTTP(),
		b24.WithRetry(b24.RetryPolicy{MaxAttempts: 2, BaseDelay: 3 * time.Second, MaxDelay: 3 * time.Second}))
	require.NoError(t, err)
	var log progressLog
	res, err := c.CRMItem.BatchImport(context.Background(), b24.EntityDeal, deals(5, true), b24.WithProgress(log.add))
	require.Error(t, err)
	_, _, _, notSent := res.Counts()
	assert.Equal(t, 5, notSent)

	waits := log.waits()
	require.NotEmpty(t, waits)
	w := waits[0]
	assert.Equal(t, b24.WaitUnreachable, w.Reason)
	assert.Equal(t, "connection refused", w.Cause)
	assert.Equal(t, 1, w.Attempt)
	assert.Equal(t, 2, w.MaxAttempts)
	assert.True(t, w.Until.After(w.Since))
	assert.NotContains(t, w.Cause+w.Method, "secret0123")
}

func TestWaitReasonString(t *testing.T) {
	for r, want := range map[b24.WaitReason]string{b24.WaitNone: "none", b24.WaitRateLimit: "rate limit",
		b24.WaitOperatingLimit: "operating-time limit", b24.WaitUnreachable: "portal unreachable",
		b24.WaitRetry: "retry after refusal", b24.WaitReason(9): "wait(9)"} {
		assert.Equal(t, want, r.String())
	}
}
