package b24test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
)

// HandlerFunc implements a REST method on the fake portal. params holds the
// call's parameters as the portal reads them (JSON values, or strings from a
// form or a batch command); the result is marshalled into the answer's
// "result". Return an [*Error] to answer with a portal error; any other
// error answers 500 ERROR_CORE.
type HandlerFunc func(ctx context.Context, params map[string]any) (result any, err error)

// Error is a portal error answer returned by a [HandlerFunc]:
// {"error": Code, "error_description": Description} with HTTP Status
// (400 when zero).
type Error struct {
	Status      int
	Code        string
	Description string
}

// Error implements error.
func (e *Error) Error() string { return "b24test: " + e.Code + ": " + e.Description }

// customHandlers are the methods registered with Handle.
type customHandlers struct {
	mu sync.RWMutex
	m  map[string]HandlerFunc
}

// Handle registers fn as the method's implementation (matched
// case-insensitively), replacing a built-in one; a nil fn removes the
// registration. Registered methods go through the same authentication,
// limits, faults and batch handling as the built-in ones.
func (s *Server) Handle(method string, fn HandlerFunc) {
	key := strings.ToLower(method)
	s.custom.mu.Lock()
	defer s.custom.mu.Unlock()
	if fn == nil {
		delete(s.custom.m, key)
		return
	}
	if s.custom.m == nil {
		s.custom.m = make(map[string]HandlerFunc)
	}
	s.custom.m[key] = fn
}

// customHandler returns the registered handler for a lower-case method,
// adapted to the internal signature, or nil.
func (s *Server) customHandler(lower string) func(x *exchange, p map[string]any) outcome {
	s.custom.mu.RLock()
	fn := s.custom.m[lower]
	s.custom.mu.RUnlock()
	if fn == nil {
		return nil
	}
	return func(x *exchange, p map[string]any) outcome {
		res, err := fn(x.ctx, p)
		if err == nil {
			return outcome{result: res}
		}
		var e *Error
		if errors.As(err, &e) {
			status := e.Status
			if status == 0 {
				status = http.StatusBadRequest
			}
			return outcome{err: &apiErr{status, e.Code, e.Description}}
		}
		return outcome{err: &apiErr{http.StatusInternalServerError, "ERROR_CORE", err.Error()}}
	}
}
