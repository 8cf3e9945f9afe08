package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/internal/dedup"
)

// defaultSettleWait is how long after the last run's last request went out
// a resume waits before looking up the rows that run left in flight: the
// portal may still be executing its last call (it cuts requests off after
// 60 s), and a row it has not written yet would be looked up as missing
// and sent a second time. The library waits as long before it looks up
// the rows of a call whose answer was lost (b24.WithMaxExecutionTime).
const defaultSettleWait = b24.DefaultMaxExecutionTime

// settleDelay is what is left of wait since lastSend.
func settleDelay(lastSend, now time.Time, wait time.Duration) time.Duration {
	if lastSend.IsZero() || wait <= 0 {
		return 0
	}
	return max(0, lastSend.Add(wait).Sub(now))
}

// lastSend is when the last run's last request went out, by its journal's
// "went" lines; a journal without them (written before they existed, or
// by a run that died before any request went out) gives its last write,
// which comes no earlier.
func (imp *importer) lastSend() time.Time {
	if imp.state != nil && !imp.state.lastWent.IsZero() {
		return imp.state.lastWent
	}
	return imp.journalMTime
}

// waitForLastRun waits, cancellably, until the last run's calls can no longer be
// executing on the portal.
func (imp *importer) waitForLastRun(ctx context.Context) error {
	d := settleDelay(imp.lastSend(), time.Now(), imp.cfg.settleWait)
	if d <= 0 {
		return nil
	}
	fmt.Fprintf(imp.stderr, "b24import: the last run sent its last call %s ago and stopped before all answers came; waiting %s so the portal finishes them before they are looked up (-settle-wait 0 skips this)\n",
		(imp.cfg.settleWait - d).Round(time.Second), d.Round(time.Second))
	return imp.countdown(ctx, d, "settling after the crash")
}

// envDuration parses a duration from the environment, or returns def.
func envDuration(v string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	return def
}

// resolveInFlight settles the rows an earlier run left in doubt (sent, no
// answer recorded; or unknown) that carry a dedup key: each is looked up
// in the portal with crm.item.list, and the ones found are recorded as
// imported with their ids, so they are not sent again. The keyed rows not
// found are sent as usual; rows without a key are left to decide.
func (imp *importer) resolveInFlight(ctx context.Context) error {
	st := imp.state
	if st == nil {
		return nil
	}
	if len(st.inFlight) > 0 {
		if err := imp.waitForLastRun(ctx); err != nil {
			return err
		}
	}
	doubt := len(st.inFlight)
	for line, o := range st.results {
		if o.status == stUnknown && !st.inFlight[line] {
			doubt++
		}
	}
	if doubt == 0 {
		return nil
	}
	src, _, c, err := imp.openInput(true)
	if err != nil {
		return err
	}
	defer c.Close()
	byKey := map[dedup.Key][]int{} // folded key -> lines
	var keys []dedup.Key
	for {
		rw, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if rw.err != nil || !st.ambiguous(rw.line) {
			continue
		}
		if key, ok := dedupKey(imp.cfg.entity, &rw.item); ok {
			if len(byKey[key.Fold()]) == 0 {
				keys = append(keys, key)
			}
			byKey[key.Fold()] = append(byKey[key.Fold()], rw.line)
		}
	}
	imp.keyClash = map[dedup.Key]bool{}
	for k, lines := range byKey {
		if len(lines) > 1 {
			imp.keyClash[k] = true // rows sharing a key cannot be told apart
		}
	}
	found, err := dedup.Lookup(ctx, imp.listItems, int(imp.cfg.entity), keys)
	if err != nil {
		return err
	}
	n := 0
	for key, id := range found {
		lines := byKey[key] // found holds asked keys only; never index blindly
		if imp.keyClash[key] || len(lines) == 0 {
			continue
		}
		line := lines[0]
		o := outcome{status: stImported, id: id, desc: "found by its dedup key after an interrupted run"}
		if err := imp.jrnl.record(line, o); err != nil {
			return err
		}
		st.results[line] = o
		delete(st.inFlight, line)
		n++
	}
	if err := imp.jrnl.flush(); err != nil {
		return err
	}
	fmt.Fprintf(imp.stderr, "b24import: %d rows in doubt: %d have dedup keys, %d of those were found in the portal and will not be sent again\n",
		doubt, len(byKey), n)
	return nil
}

// listItems runs one crm.item.list request for dedup.Lookup.
func (imp *importer) listItems(ctx context.Context, params map[string]any) (json.RawMessage, error) {
	var raw json.RawMessage
	err := imp.client.Call(ctx, "crm.item.list", params, &raw)
	return raw, err
}
