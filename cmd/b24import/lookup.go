package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/b24kit/b24"
)

// lookupChunk is how many keys one crm.item.list call asks for; the
// answer's page (50 items) then holds them all unless the portal has
// copies, which further pages fetch.
const lookupChunk = 50

// defaultSettleWait is how long after the last run's last journal write a
// resume waits before looking up the rows that run left in flight: the
// portal may still be executing its last call (it cuts requests off after
// 60 s), and a row it has not written yet would be looked up as missing
// and sent a second time.
const defaultSettleWait = 75 * time.Second

// settleDelay is what is left of wait since the journal's last write.
func settleDelay(lastWrite, now time.Time, wait time.Duration) time.Duration {
	if lastWrite.IsZero() || wait <= 0 {
		return 0
	}
	return max(0, lastWrite.Add(wait).Sub(now))
}

// waitForLastRun waits, cancellably, until the last run's calls can no longer be
// executing on the portal.
func (imp *importer) waitForLastRun(ctx context.Context) error {
	d := settleDelay(imp.journalMTime, time.Now(), imp.cfg.settleWait)
	if d <= 0 {
		return nil
	}
	fmt.Fprintf(imp.stderr, "b24import: the last run stopped %s ago with calls in flight; waiting %s so the portal finishes them before they are looked up (-settle-wait 0 skips this)\n",
		(imp.cfg.settleWait - d).Round(time.Second), d.Round(time.Second))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
	byKey := map[string][]int{}
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
			byKey[key] = append(byKey[key], rw.line)
		}
	}
	imp.keyClash = map[string]bool{}
	for k, lines := range byKey {
		if len(lines) > 1 {
			imp.keyClash[k] = true // rows sharing a key cannot be told apart
		}
	}
	found, err := imp.lookupKeys(ctx, byKey)
	if err != nil {
		return err
	}
	n := 0
	for key, id := range found {
		if imp.keyClash[key] {
			continue
		}
		line := byKey[key][0]
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

// lookupKeys finds which keys exist in the portal; it returns key → id
// (the oldest item when there are several).
func (imp *importer) lookupKeys(ctx context.Context, byKey map[string][]int) (map[string]int64, error) {
	et := imp.cfg.entity
	useXML := !(et >= b24.EntityLead && et <= b24.EntityCompany)
	groups := map[string][]string{} // originatorId → originIds; "" → xmlIds
	for key := range byKey {
		if useXML {
			groups[""] = append(groups[""], key)
			continue
		}
		orig, id := splitKey(key)
		groups[orig] = append(groups[orig], id)
	}
	found := map[string]int64{}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		vals := groups[g]
		sort.Strings(vals)
		for i := 0; i < len(vals); i += lookupChunk {
			chunk := vals[i:min(i+lookupChunk, len(vals))]
			filter := map[string]any{"@xmlId": chunk}
			sel := []string{"id", "xmlId"}
			if !useXML {
				filter = map[string]any{"=originatorId": g, "@originId": chunk}
				sel = []string{"id", "originatorId", "originId"}
			}
			for start := 0; ; start += 50 {
				var page struct {
					Items []struct {
						ID           json.RawMessage `json:"id"`
						OriginatorID any             `json:"originatorId"`
						OriginID     any             `json:"originId"`
						XMLID        any             `json:"xmlId"`
					} `json:"items"`
				}
				params := map[string]any{"entityTypeId": int(et), "select": sel, "filter": filter,
					"order": map[string]string{"id": "ASC"}, "start": start}
				if err := imp.client.Call(ctx, "crm.item.list", params, &page); err != nil {
					return nil, err
				}
				for _, it := range page.Items {
					id, err := parseID(it.ID)
					if err != nil {
						return nil, fmt.Errorf("crm.item.list: %v", err)
					}
					key := asString(it.XMLID)
					if !useXML {
						key = asString(it.OriginatorID) + "\x00" + asString(it.OriginID)
					}
					if old, ok := found[key]; !ok || id < old {
						found[key] = id
					}
				}
				if len(page.Items) < 50 {
					break
				}
			}
		}
	}
	return found, nil
}

func splitKey(key string) (originator, origin string) {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

// parseID reads an id sent as a number or a numeric string.
func parseID(raw json.RawMessage) (int64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strconv.ParseInt(s, 10, 64)
	}
	var n int64
	err := json.Unmarshal(raw, &n)
	return n, err
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
