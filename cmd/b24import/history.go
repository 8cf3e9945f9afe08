package main

import (
	"fmt"
	"time"

	"github.com/b24kit/b24"
)

// historyGuard applies the portal's rule for history (createdTime): an
// item may not be older than the newest item already in the portal, nor,
// within the file, than the row before it (the library checks that one in
// a real run; a dry run checks it here, as the library would).
type historyGuard struct {
	newest time.Time // the portal's newest item; zero: unknown or none

	last     time.Time // the last accepted createdTime in the file
	undated  bool      // an accepted row without createdTime came before
	haveLast bool
}

// againstPortal refuses a row older than the portal's newest item.
func (h *historyGuard) againstPortal(it *b24.Item) *rowError {
	if h == nil || h.newest.IsZero() || it.CreatedTime.IsZero() {
		return nil
	}
	if it.CreatedTime.Before(h.newest.Truncate(time.Second)) {
		return &rowError{code: b24.CodeHistoryOrder, desc: fmt.Sprintf(
			"createdTime %s is earlier than the creation time of the portal's newest %s (%s): the portal refuses history older than its newest item; import into an empty portal, or oldest first",
			it.CreatedTime.Format(time.RFC3339), "item", h.newest.In(it.CreatedTime.Location()).Format(time.RFC3339))}
	}
	return nil
}

// inFile applies the file-order rule of the library's validator to a
// row that passed every other check, and remembers it.
func (h *historyGuard) inFile(it *b24.Item) *rowError {
	c := it.CreatedTime
	if c.IsZero() {
		h.undated = true
		return nil
	}
	switch {
	case h.undated:
		// The library's own words, so a dry run reads like the real run.
		return &rowError{code: b24.CodeHistoryOrder, desc: "createdTime set on an item that follows one without createdTime: the portal dates that one now, so it would refuse this one; import dated items first"}
	case h.haveLast && c.Unix() < h.last.Unix():
		return &rowError{code: b24.CodeHistoryOrder, desc: fmt.Sprintf("createdTime %s is earlier than the previous item's %s: import history oldest first",
			c.Format(time.RFC3339), time.Unix(h.last.Unix(), 0).In(c.Location()).Format(time.RFC3339))}
	}
	h.last, h.haveLast = c, true
	return nil
}
