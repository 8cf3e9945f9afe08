package b24

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// Update changes the item of entity type et with id, with
// crm.item.update. Only the fields item sets are sent; to empty a field,
// put [Clear] under its name in item.Fields. Setting Phones (or Emails,
// Webs, IMs) replaces that kind's values: the item is read first to learn
// the ids the portal gave them, values already there are kept, changed
// ones rewritten and the rest deleted or added, as crm.item.update's fm
// field requires. History fields (CreatedTime, ...) are import-only: an
// item that sets one is refused with [CodeImportOnly] before anything is
// sent.
//
// The item is validated first, like an import's; a refusal wraps an
// [*ItemError] and matches [ErrInvalidInput]. An id the portal does not
// have fails with an error matching [ErrNotFound]. An update that adds no
// multifield value is sent again when its answer is lost (sending it twice
// changes nothing more); one that adds values is not, and fails with an
// error matching [ErrOutcomeUnknown].
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-update.html
func (s *CRMItemService) Update(ctx context.Context, et EntityTypeID, id int64, item Item) error {
	if et <= 0 {
		return invalidInput("crm.item.update: entity type %d is not valid", int(et))
	}
	if id <= 0 {
		return invalidInput("crm.item.update: id %d is not valid", id)
	}
	v := newItemValidator(et, false, time.Now)
	v.update = true
	if ie := v.check(&item); ie != nil {
		return &invalidItemError{method: methodUpdate, item: ie}
	}
	fields, needFM, err := planUpdate(&item, nil, false)
	if err != nil {
		return invalidInput("crm.item.update: %v", err)
	}
	if needFM {
		cur, err := getPortalItem(ctx, s.client, et, id)
		if err != nil {
			return err
		}
		if fields, _, err = planUpdate(&item, cur, false); err != nil {
			return invalidInput("crm.item.update: %v", err)
		}
		if len(fields) == 0 {
			return nil // the multifields hold those values already
		}
	}
	if len(fields) == 0 {
		return invalidInput("crm.item.update: the item sets no field to update")
	}
	job := &updateJob{target: id, fields: fields}
	body, err := json.Marshal(map[string]any{"entityTypeId": int(et), "id": id, "fields": fields})
	if err != nil {
		return invalidInput("crm.item.update: %v", err)
	}
	req := &request{method: methodUpdate, body: body, read: job.idempotent(), budgetMethod: methodUpdate, weight: 1}
	_, err = s.client.do(ctx, req)
	return err
}

// BatchUpdate updates each record's item by its ID, as [CRMItemService.Update]
// does, up to 50 updates in one batch request, several requests in flight,
// paced by the client's limits on crm.item.update's own operating budget.
// It returns one result per record, like [CRMItemService.BatchImport]:
// ItemImported with ActionUpdated (ActionFound when its multifields held
// those values already, so nothing was sent), ItemRejected with the
// portal's or the validator's reason (an id without an item is refused
// with NOT_FOUND), ItemUnknown when an update that adds multifield values
// lost its answer, ItemNotSent when the run stopped first. The error is
// nil only when every record was updated.
//
// WithConcurrency, WithPacking, WithProgress, WithOriginalUFNames and
// WithTotal apply; the other options concern imports.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-update.html
func (s *CRMItemService) BatchUpdate(ctx context.Context, et EntityTypeID, records []ItemRecord, opts ...ImportOption) (*BatchImportResult, error) {
	seq := func(yield func(ItemRecord) bool) {
		for _, r := range records {
			if !yield(r) {
				return
			}
		}
	}
	opts = append([]ImportOption{WithTotal(len(records))}, opts...)
	return collect(ctx, len(records), s.UpdateSeq(ctx, et, seq, opts...))
}

// UpdateSeq is the streaming form of [CRMItemService.BatchUpdate]: it reads
// records lazily and yields one result per record as requests complete
// (use ItemResult.Index or Ref). Breaking out of the loop stops it.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-update.html
func (s *CRMItemService) UpdateSeq(ctx context.Context, et EntityTypeID, records iter.Seq[ItemRecord], opts ...ImportOption) iter.Seq[ItemResult] {
	var rows iter.Seq[inputRow]
	if records != nil {
		rows = func(yield func(inputRow) bool) {
			var cur Item // the engine copies each row out before the next
			for r := range records {
				cur = r.Item
				if !yield(inputRow{item: &cur, target: r.ID}) {
					return
				}
			}
		}
	}
	return s.runSeq(ctx, et, rows, true, opts)
}
