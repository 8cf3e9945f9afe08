package b24

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// WaitReason says why an import is waiting instead of sending.
type WaitReason int

// Reasons an import waits; see [Wait].
const (
	WaitNone WaitReason = iota
	// WaitRateLimit: the client's request-rate limiter holds the next
	// request back (the portal's bucket is spent).
	WaitRateLimit
	// WaitOperatingLimit: the method's operating-time budget is spent;
	// Wait.Method names it and Wait.Until, when known, is when part of the
	// window drops out.
	WaitOperatingLimit
	// WaitUnreachable: the portal could not be reached (connection
	// refused, DNS, TLS); the request is retried at Wait.Until, attempt
	// Wait.Attempt+1 of Wait.MaxAttempts.
	WaitUnreachable
	// WaitRetry: the portal refused a call before running it (its own rate
	// limit, a temporary error); the call is retried at Wait.Until.
	WaitRetry
)

// String names the reason.
func (r WaitReason) String() string {
	switch r {
	case WaitNone:
		return "none"
	case WaitRateLimit:
		return "rate limit"
	case WaitOperatingLimit:
		return "operating-time limit"
	case WaitUnreachable:
		return "portal unreachable"
	case WaitRetry:
		return "retry after refusal"
	}
	return "wait(" + strconv.Itoa(int(r)) + ")"
}

// Wait is what an import is waiting for, in [Progress]: the longest of the
// waits of its calls that has lasted at least [WaitReportAfter]. The zero
// Wait (Reason WaitNone) means nothing waits that long.
type Wait struct {
	Reason WaitReason
	// Method is the method waited on: the one whose budget is spent, or
	// the one being retried.
	Method string
	// Since is when the wait began; Until when it is expected to end (zero
	// when unknown, as for the rate limiter or a budget waiting for a call
	// in flight).
	Since, Until time.Time
	// Attempt is the attempt that failed and MaxAttempts the retry
	// policy's bound (WaitUnreachable, WaitRetry).
	Attempt, MaxAttempts int
	// Cause is a short reason, free of secrets: "connection refused",
	// "QUERY_LIMIT_EXCEEDED".
	Cause string
}

// WaitReportAfter is how long a wait lasts before [Progress] reports it:
// pacing by the rate limiter takes a fraction of a second per request and
// is not news.
const WaitReportAfter = time.Second

// waitObserver is told about the waits of one request. The import engine
// sets one on the requests it makes (request.observe) when someone watches
// its progress; nil costs nothing.
type waitObserver interface {
	beginWait(w Wait) (token uint64)
	endWait(token uint64)
}

// waitBoard collects the waits of an import's requests; progress reports
// the most telling one.
type waitBoard struct {
	mu     sync.Mutex
	next   uint64
	active map[uint64]Wait
}

func (b *waitBoard) beginWait(w Wait) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active == nil {
		b.active = make(map[uint64]Wait)
	}
	b.next++
	b.active[b.next] = w
	return b.next
}

func (b *waitBoard) endWait(token uint64) {
	b.mu.Lock()
	delete(b.active, token)
	b.mu.Unlock()
}

// rank orders reasons by what they tell: an unreachable portal before a
// refusal, before the operating budget, before plain pacing.
func (r WaitReason) rank() int {
	switch r {
	case WaitUnreachable:
		return 4
	case WaitRetry:
		return 3
	case WaitOperatingLimit:
		return 2
	case WaitRateLimit:
		return 1
	}
	return 0
}

// current is the wait to report at now: of the waits older than
// WaitReportAfter, the most telling, the oldest of those.
func (b *waitBoard) current(now time.Time) Wait {
	b.mu.Lock()
	defer b.mu.Unlock()
	var best Wait
	for _, w := range b.active {
		if now.Sub(w.Since) < WaitReportAfter {
			continue
		}
		if w.Reason.rank() > best.Reason.rank() || w.Reason == best.Reason && w.Since.Before(best.Since) {
			best = w
		}
	}
	return best
}

// sameWait reports whether a and b would read the same to a person.
func sameWait(a, b Wait) bool {
	return a.Reason == b.Reason && a.Method == b.Method && a.Attempt == b.Attempt && a.Until.Equal(b.Until) && a.Since.Equal(b.Since)
}

// watchedBudget is an operating budget that says until when it holds a
// call back (the in-process one does).
type watchedBudget interface {
	AcquireWatched(ctx context.Context, method string, n int, watch func(until time.Time)) (func(*ResponseTime, bool), error)
}

// waitCause is a short, secret-free reason for a retry wait.
func waitCause(err error) (WaitReason, string) {
	var nd *notDeliveredError
	if !errors.As(err, &nd) {
		return WaitRetry, errorCode(err)
	}
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return WaitUnreachable, "connection refused"
	case errors.As(err, &dns):
		return WaitUnreachable, "host not found"
	case errors.Is(err, syscall.ECONNRESET):
		return WaitUnreachable, "connection reset"
	case errors.Is(err, context.DeadlineExceeded):
		return WaitUnreachable, "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return WaitUnreachable, "timeout"
	}
	return WaitUnreachable, "network error"
}
