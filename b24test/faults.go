package b24test

import (
	"net/http"
	"strings"
	"sync"
)

// FaultKind says what an injected [Fault] does.
type FaultKind int

const (
	// FaultRefuse answers the call with Code and Status before executing
	// anything; inside a batch it becomes that command's result_error.
	FaultRefuse FaultKind = iota + 1
	// FaultDropAfterExecute executes the call (a whole batch, when one of
	// its commands matches) and then closes the connection without
	// answering: the client cannot know the outcome.
	FaultDropAfterExecute
	// FaultPartialSave makes crm.item.batchImport save its first Keep items
	// and then fail with 500 ERROR_CORE, without reporting their ids.
	FaultPartialSave
	// FaultMove answers 302 with Location, as a portal that moved to another
	// address does.
	FaultMove
)

// String returns the kind's name.
func (k FaultKind) String() string {
	switch k {
	case FaultRefuse:
		return "refuse"
	case FaultDropAfterExecute:
		return "drop-after-execute"
	case FaultPartialSave:
		return "partial-save"
	case FaultMove:
		return "move"
	}
	return "unknown"
}

// Fault is a failure to inject into matching calls; see [Server.InjectFault].
type Fault struct {
	// Method limits the fault to one method, matched case-insensitively
	// ("" matches any). Inside a batch, commands are matched by their own
	// method as well as the batch call by "batch".
	Method string
	Kind   FaultKind
	// Code and Status are the error FaultRefuse answers. Without Code it is
	// INTERNAL_SERVER_ERROR; without Status it follows the code:
	// QUERY_LIMIT_EXCEEDED 503, OPERATION_TIME_LIMIT 429, expired_token and
	// other token codes 401, anything else 500.
	Code   string
	Status int
	// Keep is how many items FaultPartialSave lets crm.item.batchImport save.
	Keep int
	// Times is how many matching calls the fault hits (0 means 1).
	Times int
	// Probability, when above zero, makes the fault hit that fraction of
	// matching calls (drawn from the seeded source) for as long as it is
	// injected; Times is then ignored.
	Probability float64
	// Location is where FaultMove sends the client: a base such as
	// "https://new.example.com" gets the request's path and query appended.
	Location string
}

// faultSet is the list of injected faults.
type faultSet struct {
	mu   sync.Mutex
	list []*activeFault
}

type activeFault struct {
	Fault
	left int
}

// InjectFault adds f; faults are tried in the order they were injected and
// the first that matches a call hits it.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults.mu.Lock()
	s.faults.list = append(s.faults.list, &activeFault{Fault: f, left: f.Times})
	s.faults.mu.Unlock()
}

// FailNext makes the next n calls of any method fail with code, before
// executing, with the status the code usually has.
func (s *Server) FailNext(code string, n int) {
	s.InjectFault(Fault{Kind: FaultRefuse, Code: code, Times: n})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.list = nil
	s.faults.mu.Unlock()
}

// takeFault returns the first fault of kind matching method and uses it up, or
// nil.
func (s *Server) takeFault(kind FaultKind, method string) *Fault {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for i, f := range s.faults.list {
		if f.Kind != kind || (f.Method != "" && !strings.EqualFold(f.Method, method)) {
			continue
		}
		if f.Probability > 0 {
			if !s.chance(f.Probability) {
				continue
			}
		} else {
			f.left--
			if f.left <= 0 {
				s.faults.list = append(s.faults.list[:i:i], s.faults.list[i+1:]...)
			}
		}
		s.rec.count(func(st *Stats) { st.FaultsInjected++ })
		hit := f.Fault
		return &hit
	}
	return nil
}

// refusal is the error a FaultRefuse answers.
func (f *Fault) refusal() *apiErr {
	code, status := f.Code, f.Status
	if code == "" {
		code = "INTERNAL_SERVER_ERROR"
	}
	if status == 0 {
		switch code {
		case "QUERY_LIMIT_EXCEEDED":
			status = http.StatusServiceUnavailable
		case "OPERATION_TIME_LIMIT":
			status = http.StatusTooManyRequests
		case "expired_token", "invalid_token", "NO_AUTH_FOUND", "INVALID_CREDENTIALS", "insufficient_scope":
			status = http.StatusUnauthorized
		case "ACCESS_DENIED", "WRONG_AUTH_TYPE":
			status = http.StatusForbidden
		default:
			status = http.StatusInternalServerError
		}
	}
	return &apiErr{status: status, code: code, desc: "injected fault"}
}
