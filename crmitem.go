package b24

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/b24kit/b24/internal/dedup"
	"github.com/b24kit/b24/internal/wire"
)

// CRMItemService imports, reads and updates CRM items of any entity type
// through the universal crm.item methods. Get it from [Client.CRMItem]; it
// is safe for concurrent use.
//
//   - Import: [CRMItemService.BatchImport], [CRMItemService.ImportSeq]
//     (streaming) and [CRMItemService.Import] (one item), with
//     crm.item.batchImport and crm.item.import. Rows with a dedup key are
//     looked up first ([WithExisting]) and again after a failure, with
//     crm.item.list, so none is created twice.
//   - Read: [CRMItemService.Get] (crm.item.get), [CRMItemService.List]
//     (crm.item.list, every page of a large list) and
//     [CRMItemService.Fields] (crm.item.fields).
//   - Update: [CRMItemService.Update], [CRMItemService.BatchUpdate] and
//     [CRMItemService.UpdateSeq] (crm.item.update).
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/index.html
type CRMItemService service

// EntityTypeID identifies a CRM entity type in the universal crm.item API.
// Smart processes use their own id (EntityTypeID(1030)); see
// [EntityTypeID.IsSmartProcess].
type EntityTypeID int

// Entity types with fixed ids.
const (
	EntityLead         EntityTypeID = 1
	EntityDeal         EntityTypeID = 2
	EntityContact      EntityTypeID = 3
	EntityCompany      EntityTypeID = 4
	EntityQuote        EntityTypeID = 7
	EntitySmartInvoice EntityTypeID = 31
)

// String returns "lead", "deal", "contact", "company", "quote", "invoice",
// "smart process N" for a smart process, or "entity type N" otherwise.
func (e EntityTypeID) String() string {
	switch e {
	case EntityLead:
		return "lead"
	case EntityDeal:
		return "deal"
	case EntityContact:
		return "contact"
	case EntityCompany:
		return "company"
	case EntityQuote:
		return "quote"
	case EntitySmartInvoice:
		return "invoice"
	}
	if e.IsSmartProcess() {
		return "smart process " + strconv.Itoa(int(e))
	}
	return "entity type " + strconv.Itoa(int(e))
}

// IsSmartProcess reports whether e is a user-defined smart process: the
// portal gives them ids from 128 up (smart invoices, 31, are not one).
func (e EntityTypeID) IsSmartProcess() bool { return e >= 128 }

// hasMultifields reports whether the import reads PHONE/EMAIL/WEB/IM for
// the entity type: only leads, contacts and companies have them.
func (e EntityTypeID) hasMultifields() bool {
	return e == EntityLead || e == EntityContact || e == EntityCompany
}

// ParseEntityTypeID reads an entity type from its name (lead, deal,
// contact, company, quote, invoice; case-insensitive) or a positive number.
func ParseEntityTypeID(s string) (EntityTypeID, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "lead":
		return EntityLead, nil
	case "deal":
		return EntityDeal, nil
	case "contact":
		return EntityContact, nil
	case "company":
		return EntityCompany, nil
	case "quote":
		return EntityQuote, nil
	case "invoice", "smartinvoice", "smart-invoice", "smart_invoice":
		return EntitySmartInvoice, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 {
		return 0, invalidInput("entity type %s: want lead, deal, contact, company, quote, invoice or a positive number", quoteName(s))
	}
	return EntityTypeID(n), nil
}

// YesNo is a Bitrix24 Y/N flag. The zero value means "not set", which is not
// the same as [No]: an unset flag takes the portal's default.
type YesNo string

// YesNo values.
const (
	Yes YesNo = "Y"
	No  YesNo = "N"
)

// YesNoOf returns [Yes] for true and [No] for false.
func YesNoOf(b bool) YesNo {
	if b {
		return Yes
	}
	return No
}

// Bool reports whether the flag is [Yes].
func (y YesNo) Bool() bool { return y == Yes }

// Date is a calendar date without time or zone, sent as "2006-01-02". The
// zero Date means "not set" and is omitted.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// NewDate returns the date year-month-day. It does not normalise: use
// [Date.IsValid] to check a date built from untrusted parts.
func NewDate(year int, month time.Month, day int) Date {
	return Date{Year: year, Month: month, Day: day}
}

// DateOf returns the calendar date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// ParseDate reads "2006-01-02". An RFC 3339 datetime is accepted too; its
// date in its own offset is used. The empty string gives the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return DateOf(t), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return DateOf(t), nil
	}
	return Date{}, invalidInput("date %s: want YYYY-MM-DD", quoteName(s))
}

// IsZero reports whether d is the zero Date ("not set").
func (d Date) IsZero() bool { return d == Date{} }

// IsValid reports whether d is a real calendar date in years 1 to 9999.
func (d Date) IsValid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 {
		return false
	}
	return DateOf(d.In(time.UTC)) == d
}

// In returns midnight at the start of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// String formats d as "2006-01-02"; the zero Date gives "".
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return string(d.appendText(nil))
}

func (d Date) appendText(dst []byte) []byte {
	dst = appendPadded(dst, d.Year, 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, int(d.Month), 2)
	dst = append(dst, '-')
	return appendPadded(dst, d.Day, 2)
}

func appendPadded(dst []byte, n, width int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var buf [20]byte
	digits := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := len(digits); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, digits...)
}

// MarshalText formats d as "2006-01-02" (empty for the zero Date).
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	if !d.IsValid() {
		return nil, invalidInput("date %d-%d-%d is not a calendar date", d.Year, d.Month, d.Day)
	}
	return d.appendText(nil), nil
}

// UnmarshalText parses the forms [ParseDate] accepts.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// File is the content of a file user field. It marshals to the pair the
// portal reads, ["name", "<base64 content>"]; put it (or a []File for a
// multiple field) in [Item.Fields].
type File struct {
	Name    string
	Content []byte
}

// MarshalJSON encodes f as ["name", "<base64>"], as in an [Item].
func (f File) MarshalJSON() ([]byte, error) { return valueWalker{}.file(nil, &f) }

// UnmarshalJSON reads ["name", "<base64>"].
func (f *File) UnmarshalJSON(b []byte) error {
	var pair []string
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return invalidInput(`file: want ["name", "<base64>"]`)
	}
	content, err := base64.StdEncoding.DecodeString(pair[1])
	if err != nil {
		return invalidInput("file %s: content is not base64", quoteName(pair[0]))
	}
	f.Name, f.Content = pair[0], content
	return nil
}

// Multifield is one phone number, e-mail address, web address or messenger
// handle of a lead, contact or company. ValueType is the portal's upper-case
// kind: WORK, MOBILE, HOME, FAX, OTHER for phones; WORK, HOME, OTHER for
// e-mail; TELEGRAM, SKYPE, ... for IMs.
type Multifield struct {
	Value     string
	ValueType string
}

// MarshalJSON encodes m as {"VALUE": ..., "VALUE_TYPE": ...}, the form the
// import reads.
func (m Multifield) MarshalJSON() ([]byte, error) { return encodeMultifield(valueSink{}, nil, m) }

// UnmarshalJSON reads {"VALUE": ..., "VALUE_TYPE": ...}.
func (m *Multifield) UnmarshalJSON(b []byte) error {
	var w struct {
		Value     wire.FlexString `json:"VALUE"`
		ValueType string          `json:"VALUE_TYPE"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return invalidInput(`multifield: want {"VALUE": ..., "VALUE_TYPE": ...}`)
	}
	m.Value, m.ValueType = string(w.Value), w.ValueType
	return nil
}

// Item is one CRM item to import, of any entity type: the crm.item API is
// universal, so fields that an entity type does not have are simply not set.
//
// Typed fields carry the portal's camelCase wire names (see the json tags,
// which document them; the encoding itself is [Item.MarshalJSON]). Strings,
// numbers and ID lists are omitted when zero, which the portal treats as
// "not set" anyway; [YesNo], [Date] and time.Time fields are omitted when
// zero, so [No] is sent and differs from unset. Everything else, user fields
// (ufCrm…) above all, goes in Fields.
//
// Exactly-once imports: set OriginatorID and OriginID (leads, deals,
// contacts, companies) or XMLID (smart invoices and smart processes) and
// no item is created twice: an import looks the keys up before sending
// (see [WithExisting]), and again when a call's outcome is unknown instead
// of sending the items again. One without the other is refused
// ([CodeIncompleteKey]).
type Item struct {
	Title               string  `json:"title,omitempty"`
	TypeID              string  `json:"typeId,omitempty"`
	CategoryID          int64   `json:"categoryId,omitempty"`
	StageID             string  `json:"stageId,omitempty"` // e.g. "C9:NEW" in pipeline 9
	IsRecurring         YesNo   `json:"isRecurring,omitempty"`
	Probability         int     `json:"probability,omitempty"`
	CurrencyID          string  `json:"currencyId,omitempty"`
	IsManualOpportunity YesNo   `json:"isManualOpportunity,omitempty"`
	Opportunity         float64 `json:"opportunity,omitempty"`
	TaxValue            float64 `json:"taxValue,omitempty"`
	CompanyID           int64   `json:"companyId,omitempty"`
	ContactID           int64   `json:"contactId,omitempty"`
	ContactIDs          []int64 `json:"contactIds,omitempty"`
	CompanyIDs          []int64 `json:"companyIds,omitempty"`
	QuoteID             int64   `json:"quoteId,omitempty"`
	Begindate           Date    `json:"begindate,omitzero"`
	Closedate           Date    `json:"closedate,omitzero"`
	Opened              YesNo   `json:"opened,omitempty"`
	Comments            string  `json:"comments,omitempty"` // BB code
	AssignedByID        int64   `json:"assignedById,omitempty"`
	SourceID            string  `json:"sourceId,omitempty"`
	SourceDescription   string  `json:"sourceDescription,omitempty"`
	LeadID              int64   `json:"leadId,omitempty"`
	AdditionalInfo      string  `json:"additionalInfo,omitempty"`
	Observers           []int64 `json:"observers,omitempty"` // user ids
	UTMSource           string  `json:"utmSource,omitempty"`
	UTMMedium           string  `json:"utmMedium,omitempty"`
	UTMCampaign         string  `json:"utmCampaign,omitempty"`
	UTMContent          string  `json:"utmContent,omitempty"`
	UTMTerm             string  `json:"utmTerm,omitempty"`

	// Person fields of leads and contacts.
	Honorific    string `json:"honorific,omitempty"`
	Name         string `json:"name,omitempty"`
	SecondName   string `json:"secondName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	Birthdate    Date   `json:"birthdate,omitzero"`
	Post         string `json:"post,omitempty"`
	CompanyTitle string `json:"companyTitle,omitempty"`
	MycompanyID  int64  `json:"mycompanyId,omitempty"`

	// OriginatorID names the system the item comes from and OriginID is its
	// id there (leads, deals, contacts, companies). Set both and imports
	// become exactly-once: after a failure whose outcome is unknown the
	// import finds items already saved by this pair instead of duplicating
	// them.
	OriginatorID string `json:"originatorId,omitempty"`
	OriginID     string `json:"originId,omitempty"`
	// XMLID is the external id of smart invoices and smart processes. Set it
	// and imports become exactly-once, as with OriginatorID/OriginID.
	XMLID string `json:"xmlId,omitempty"`

	// History fields: only a portal administrator may set them. Items with
	// CreatedTime must be imported oldest first and not before the newest
	// existing item; UpdatedTime needs CreatedTime; MovedTime lies between
	// them. Times are sent as RFC 3339 with offset, to the second.
	CreatedTime time.Time `json:"createdTime,omitzero"`
	UpdatedTime time.Time `json:"updatedTime,omitzero"`
	MovedTime   time.Time `json:"movedTime,omitzero"`
	CreatedBy   int64     `json:"createdBy,omitempty"`
	UpdatedBy   int64     `json:"updatedBy,omitempty"`
	MovedBy     int64     `json:"movedBy,omitempty"`

	// Multifields of leads, contacts and companies, sent as the upper-case
	// PHONE, EMAIL, WEB and IM lists the import reads.
	Phones []Multifield `json:"PHONE,omitempty"`
	Emails []Multifield `json:"EMAIL,omitempty"`
	Webs   []Multifield `json:"WEB,omitempty"`
	IMs    []Multifield `json:"IM,omitempty"`

	// Parents links the item to parent items: Parents[EntityTypeID(1220)] = 2
	// is sent as "parentId1220": 2.
	Parents map[EntityTypeID]int64 `json:"-"`

	// Fields holds every other field, merged flat into the same JSON
	// object: user fields in camelCase ("ufCrm_1721244707107"), fields this
	// type does not know. Values may be strings, numbers, bools, [YesNo],
	// [Date], time.Time, [File], slices and maps of those, or anything
	// encoding/json can marshal. Do not put typed fields here: validation
	// refuses them, and misspellings of them, which the portal would
	// silently drop.
	Fields map[string]any `json:"-"`

	// Ref is the caller's own reference for the item (a line number, a
	// key in another system); it is never sent. Every result carries it
	// back in ItemResult.Ref, so a streaming import need not keep its
	// input to know which row a result is about.
	Ref any `json:"-"`
}

// dedupKeyOf returns the key that identifies it on the portal, used to find
// items that may have been saved by a call whose outcome is unknown: both
// originatorId and originId for leads, deals, contacts and companies, xmlId
// for smart invoices and smart processes. ok is false when the item has no
// complete key (quotes have none).
func dedupKeyOf(et EntityTypeID, it *Item) (dedup.Key, bool) {
	return dedup.KeyOf(int(et), it.OriginatorID, it.OriginID, it.XMLID)
}

// Import creates one item with crm.item.import and returns its id. Unlike
// crm.item.add it keeps history fields (CreatedTime, ...) and runs no
// automation. The item is validated first, like every item of
// [CRMItemService.BatchImport]; a refusal wraps an [*ItemError] and matches
// [ErrInvalidInput]. Import is not retried when its outcome is unknown: for
// many items use BatchImport, which reconciles by dedup key.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/import/crm-item-import.html
func (s *CRMItemService) Import(ctx context.Context, entityTypeID EntityTypeID, item Item) (int64, error) {
	if entityTypeID <= 0 {
		return 0, invalidInput("crm.item.import: entity type %d is not valid", entityTypeID)
	}
	if ie := newItemValidator(entityTypeID, false, time.Now).check(&item); ie != nil {
		return 0, &invalidItemError{method: "crm.item.import", item: ie}
	}
	body := make([]byte, 0, 512)
	body = append(body, `{"entityTypeId":`...)
	body = strconv.AppendInt(body, int64(entityTypeID), 10)
	body = append(body, `,"fields":`...)
	body, err := item.appendJSON(body)
	if err != nil {
		return 0, invalidInput("crm.item.import: %v", err)
	}
	body = append(body, '}')
	var res struct {
		Item struct {
			ID wire.FlexInt `json:"id"`
		} `json:"item"`
	}
	if err := s.client.Call(ctx, "crm.item.import", body, &res); err != nil {
		return 0, err
	}
	if res.Item.ID <= 0 {
		return 0, fmt.Errorf("b24: crm.item.import: the answer has no item id")
	}
	return int64(res.Item.ID), nil
}

// invalidItemError is a local validation failure of a single-item call. It
// matches [ErrInvalidInput] and unwraps to the [*ItemError].
type invalidItemError struct {
	method string
	item   *ItemError
}

func (e *invalidItemError) Error() string {
	prefix := "b24: "
	if e.method != "" {
		prefix += e.method + ": "
	}
	return prefix + "invalid item: " + e.item.Code + ": " + e.item.Description
}

func (e *invalidItemError) Unwrap() []error { return []error{ErrInvalidInput, e.item} }

// quoteName quotes a caller-supplied name or value for an error message,
// cut to a readable length on a rune boundary.
func quoteName(s string) string {
	const limit = 64
	if len(s) > limit {
		cut := limit
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
