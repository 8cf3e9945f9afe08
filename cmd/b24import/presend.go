package main

import (
	"context"

	"github.com/b24kit/b24/internal/dedup"
)

// A journal lists every row an earlier run may have sent, unless it was
// damaged: cut back to its header, say. A resumed run therefore looks up
// the keyed rows the journal does not list before it sends them, in
// blocks of lookupBlock rows (one crm.item.list request each), and skips
// the ones the portal already holds.
//
// Once the library looks up every keyed row before sending by default
// (b24.WithExisting(b24.ExistingSkip)), this gives way to that: the rows
// go to ImportSeq as they are, and a result with Action ActionFound is
// recorded like the ones found here.

// lookupBlock is how many rows a resumed run reads before it looks up the
// unlisted ones: as many keys as one lookup request settles.
const lookupBlock = dedup.KeysPerRequest

// sendBlock is how many rows are marked in the journal at once.
func (imp *importer) sendBlock() int {
	if imp.state != nil {
		return lookupBlock
	}
	return blockSize
}

// unlisted reports whether the journal says nothing about the row: no
// run sent it, unless the journal lost the lines that said so.
func (s *journalState) unlisted(line int) bool {
	_, ok := s.results[line]
	return !ok && !s.inFlight[line]
}

// skipExisting settles the rows of block that carry a dedup key, are not
// listed in the journal and are already in the portal (as imported, with
// their ids), and returns the rest, still to be sent.
func (imp *importer) skipExisting(ctx context.Context, block []row) ([]row, error) {
	st := imp.state
	if st == nil {
		return block, nil
	}
	byKey := map[dedup.Key][]int{} // folded key -> positions in block
	var keys []dedup.Key
	for i, rw := range block {
		if !st.unlisted(rw.line) {
			continue
		}
		key, ok := dedupKey(imp.cfg.entity, &rw.item)
		if !ok {
			continue
		}
		f := key.Fold()
		if len(byKey[f]) == 0 {
			keys = append(keys, key)
		}
		byKey[f] = append(byKey[f], i)
	}
	if len(keys) == 0 {
		return block, nil
	}
	found, err := dedup.Lookup(ctx, imp.listItems, int(imp.cfg.entity), keys)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return block, nil
	}
	skip := map[int]bool{}
	for key, id := range found {
		for _, i := range byKey[key] {
			skip[i] = true
			imp.settle(block[i].line, outcome{status: stImported, id: id,
				desc: "already in the portal: found by its dedup key (the journal did not list the row)"}, false)
		}
	}
	rest := block[:0:0]
	for i, rw := range block {
		if !skip[i] {
			rest = append(rest, rw)
		}
	}
	return rest, nil
}
