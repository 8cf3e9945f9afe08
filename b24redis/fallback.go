package b24redis

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// fallback decides, while Redis fails, when to use the in-process limits
// and when to try Redis again; it logs each switch once.
type fallback struct {
	what    string
	recheck time.Duration
	log     *slog.Logger

	mu    sync.Mutex
	on    bool      // the in-process limits are in use
	until time.Time // do not try Redis before then
}

// probeTimeout bounds the call that tests whether Redis is back, so that
// the caller who tests waits hardly longer than those on the fallback.
const probeTimeout = 500 * time.Millisecond

// local reports whether the caller should use the in-process limits now.
// Once the recheck time has passed it lets exactly one caller try Redis
// (probe) while the others stay local.
func (f *fallback) local() (local, probe bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return false, false
	}
	now := time.Now()
	if now.Before(f.until) {
		return true, false
	}
	f.until = now.Add(f.recheck)
	return false, true
}

// redisCtx is ctx for a Redis call: bounded by probeTimeout when probing.
func redisCtx(ctx context.Context, probe bool) (context.Context, context.CancelFunc) {
	if probe {
		return context.WithTimeout(ctx, probeTimeout)
	}
	return ctx, func() {}
}

// switchable reports whether err, from a Redis call made for a caller
// whose own ctx is still live, should send that caller to the fallback.
func (f *fallback) switchable(err error, probe bool) bool {
	if f == nil {
		return false
	}
	var ue *UnavailableError
	return probe || errors.As(err, &ue)
}

// failed records that Redis could not be reached.
func (f *fallback) failed(err error) {
	f.mu.Lock()
	was := f.on
	f.on, f.until = true, time.Now().Add(f.recheck)
	f.mu.Unlock()
	if !was {
		f.log.LogAttrs(context.Background(), slog.LevelWarn, "b24: redis unreachable, using in-process limits",
			slog.String("component", f.what), slog.String("error", err.Error()))
	}
}

// succeeded records that Redis answered.
func (f *fallback) succeeded() {
	f.mu.Lock()
	was := f.on
	f.on = false
	f.mu.Unlock()
	if was {
		f.log.LogAttrs(context.Background(), slog.LevelWarn, "b24: redis reachable again, shared limits restored",
			slog.String("component", f.what))
	}
}
