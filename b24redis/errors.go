package b24redis

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable matches (with errors.Is) every error that b24redis returns
// because Redis could not be reached or could not answer: a refused or lost
// connection, a timeout, a server that is loading its data or is read-only.
// Without [WithFallback] the limiter and the budget return such an error
// and the client's call fails before anything is sent to the portal.
var ErrUnavailable = errors.New("b24: redis unavailable")

// UnavailableError is the error behind [ErrUnavailable]: which operation
// failed and the Redis client's error.
type UnavailableError struct {
	Op  string // "limiter", "operating budget", "token store load", ...
	Err error
}

func (e *UnavailableError) Error() string {
	return "b24: redis " + e.Op + ": redis unavailable: " + e.Err.Error()
}

// Unwrap returns the Redis client's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrUnavailable].
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// opError is a Redis error that is not about reachability (a reply error
// such as WRONGTYPE: a misconfiguration that a fallback must not hide).
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "b24: redis " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// transientReplies are reply errors of a server that is up but cannot serve
// yet (restarting, failing over): they count as unavailable.
var transientReplies = []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS"}

// wrapErr classifies err from a Redis command run for op. Context errors
// are returned as they are, so callers see context.Canceled unchanged.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if isUnavailable(err) {
		return &UnavailableError{Op: op, Err: err}
	}
	return &opError{op: op, err: err}
}

func isUnavailable(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range transientReplies {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	// Every other error came without a server reply: a refused or lost
	// connection, a timeout, a closed client or an exhausted pool.
	return true
}
