package b24

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/b24kit/b24/internal/wire"
)

// typedField is one typed Item field: its wire name, Go name and kind. The
// table [itemFields] is the one list of them; encoding, validation and
// decoding all read it, and each kind holds its own encoding, checks and
// decoding side by side, so the three cannot drift apart.
type typedField struct {
	wire   string
	goName string
	kind   fieldKind
}

// fieldKind is the codec of one Go type of typed fields, bound to the field
// it reads through its accessor: how it is written (unset fields are not
// sent), what validation refuses, and how it is read back, leniently. A new
// kind is one type with these three methods.
type fieldKind interface {
	// encode writes the field as member m of the item's object, unless it
	// is unset (written false). It refuses only what cannot be written.
	encode(s valueSink, dst []byte, it *Item, m member) (out []byte, written bool, err error)
	// check returns what validation refuses and where inside the value
	// ("[2]" in a list), or "" for problem.
	check(it *Item) (path, problem string)
	// decode sets the field from a JSON value that is not null.
	decode(it *Item, v json.RawMessage) error
}

// itemFields lists the typed fields in declaration order, which is also the
// order they are encoded in. The multifields, Parents and Fields follow
// them. TestItemTagsMatchTable keeps it in step with the struct.
var itemFields = [...]typedField{
	{"title", "Title", stringField(func(it *Item) *string { return &it.Title })},
	{"typeId", "TypeID", stringField(func(it *Item) *string { return &it.TypeID })},
	{"categoryId", "CategoryID", int64Field(func(it *Item) *int64 { return &it.CategoryID })},
	{"stageId", "StageID", stringField(func(it *Item) *string { return &it.StageID })},
	{"isRecurring", "IsRecurring", yesNoField(func(it *Item) *YesNo { return &it.IsRecurring })},
	{"probability", "Probability", intField(func(it *Item) *int { return &it.Probability })},
	{"currencyId", "CurrencyID", stringField(func(it *Item) *string { return &it.CurrencyID })},
	{"isManualOpportunity", "IsManualOpportunity", yesNoField(func(it *Item) *YesNo { return &it.IsManualOpportunity })},
	{"opportunity", "Opportunity", floatField(func(it *Item) *float64 { return &it.Opportunity })},
	{"taxValue", "TaxValue", floatField(func(it *Item) *float64 { return &it.TaxValue })},
	{"companyId", "CompanyID", int64Field(func(it *Item) *int64 { return &it.CompanyID })},
	{"contactId", "ContactID", int64Field(func(it *Item) *int64 { return &it.ContactID })},
	{"contactIds", "ContactIDs", idsField(func(it *Item) *[]int64 { return &it.ContactIDs })},
	{"companyIds", "CompanyIDs", idsField(func(it *Item) *[]int64 { return &it.CompanyIDs })},
	{"quoteId", "QuoteID", int64Field(func(it *Item) *int64 { return &it.QuoteID })},
	{"begindate", "Begindate", dateField(func(it *Item) *Date { return &it.Begindate })},
	{"closedate", "Closedate", dateField(func(it *Item) *Date { return &it.Closedate })},
	{"opened", "Opened", yesNoField(func(it *Item) *YesNo { return &it.Opened })},
	{"comments", "Comments", stringField(func(it *Item) *string { return &it.Comments })},
	{"assignedById", "AssignedByID", int64Field(func(it *Item) *int64 { return &it.AssignedByID })},
	{"sourceId", "SourceID", stringField(func(it *Item) *string { return &it.SourceID })},
	{"sourceDescription", "SourceDescription", stringField(func(it *Item) *string { return &it.SourceDescription })},
	{"leadId", "LeadID", int64Field(func(it *Item) *int64 { return &it.LeadID })},
	{"additionalInfo", "AdditionalInfo", stringField(func(it *Item) *string { return &it.AdditionalInfo })},
	{"observers", "Observers", idsField(func(it *Item) *[]int64 { return &it.Observers })},
	{"utmSource", "UTMSource", stringField(func(it *Item) *string { return &it.UTMSource })},
	{"utmMedium", "UTMMedium", stringField(func(it *Item) *string { return &it.UTMMedium })},
	{"utmCampaign", "UTMCampaign", stringField(func(it *Item) *string { return &it.UTMCampaign })},
	{"utmContent", "UTMContent", stringField(func(it *Item) *string { return &it.UTMContent })},
	{"utmTerm", "UTMTerm", stringField(func(it *Item) *string { return &it.UTMTerm })},
	{"honorific", "Honorific", stringField(func(it *Item) *string { return &it.Honorific })},
	{"name", "Name", stringField(func(it *Item) *string { return &it.Name })},
	{"secondName", "SecondName", stringField(func(it *Item) *string { return &it.SecondName })},
	{"lastName", "LastName", stringField(func(it *Item) *string { return &it.LastName })},
	{"birthdate", "Birthdate", dateField(func(it *Item) *Date { return &it.Birthdate })},
	{"post", "Post", stringField(func(it *Item) *string { return &it.Post })},
	{"companyTitle", "CompanyTitle", stringField(func(it *Item) *string { return &it.CompanyTitle })},
	{"mycompanyId", "MycompanyID", int64Field(func(it *Item) *int64 { return &it.MycompanyID })},
	{"originatorId", "OriginatorID", stringField(func(it *Item) *string { return &it.OriginatorID })},
	{"originId", "OriginID", stringField(func(it *Item) *string { return &it.OriginID })},
	{"xmlId", "XMLID", stringField(func(it *Item) *string { return &it.XMLID })},
	{"createdTime", "CreatedTime", timeField(func(it *Item) *time.Time { return &it.CreatedTime })},
	{"updatedTime", "UpdatedTime", timeField(func(it *Item) *time.Time { return &it.UpdatedTime })},
	{"movedTime", "MovedTime", timeField(func(it *Item) *time.Time { return &it.MovedTime })},
	{"createdBy", "CreatedBy", int64Field(func(it *Item) *int64 { return &it.CreatedBy })},
	{"updatedBy", "UpdatedBy", int64Field(func(it *Item) *int64 { return &it.UpdatedBy })},
	{"movedBy", "MovedBy", int64Field(func(it *Item) *int64 { return &it.MovedBy })},
}

// member is the place of a field in the item's object: its name and how
// many members precede it.
type member struct {
	name string
	n    int
}

// start writes the member's name.
func (m member) start(s valueSink, dst []byte) []byte { return s.name(dst, m.n, m.name) }

// typedByWire finds a typed field by its exact wire name.
var typedByWire = func() map[string]*typedField {
	m := make(map[string]*typedField, len(itemFields))
	for i := range itemFields {
		m[itemFields[i].wire] = &itemFields[i]
	}
	return m
}()

// stringField is a text field: sent unless empty; must be UTF-8; read from
// a JSON string, or from a number or bool as its text.
type stringField func(*Item) *string

func (get stringField) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	v := *get(it)
	if v == "" {
		return dst, false, nil
	}
	dst, err := s.text(m.start(s, dst), v)
	return dst, true, err
}

func (get stringField) check(it *Item) (string, string) { return "", badString(*get(it)) }

func (get stringField) decode(it *Item, v json.RawMessage) error {
	if plain, ok := plainJSONString(bytes.TrimSpace(v)); ok {
		*get(it) = plain
		return nil
	}
	var s wire.FlexString
	if err := json.Unmarshal(v, &s); err != nil {
		return err
	}
	*get(it) = string(s)
	return nil
}

// int64Field is an id or count: sent unless 0; must not be negative; read
// from a JSON number or a numeric string.
type int64Field func(*Item) *int64

func (get int64Field) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	n := *get(it)
	if n == 0 {
		return dst, false, nil
	}
	return s.integer(m.start(s, dst), n), true, nil
}

func (get int64Field) check(it *Item) (string, string) { return "", badCount(*get(it)) }

func (get int64Field) decode(it *Item, v json.RawMessage) error {
	n, err := decodeFlexInt(v)
	if err == nil {
		*get(it) = n
	}
	return err
}

// intField is an int64Field held in an int (Probability).
type intField func(*Item) *int

func (get intField) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	n := *get(it)
	if n == 0 {
		return dst, false, nil
	}
	return s.integer(m.start(s, dst), int64(n)), true, nil
}

func (get intField) check(it *Item) (string, string) { return "", badCount(int64(*get(it))) }

func (get intField) decode(it *Item, v json.RawMessage) error {
	n, err := decodeFlexInt(v)
	if err == nil {
		*get(it) = int(n)
	}
	return err
}

func badCount(n int64) string {
	if n < 0 {
		return strconv.FormatInt(n, 10) + " is negative"
	}
	return ""
}

// decodeFlexInt reads an integer from a JSON number or a numeric string.
func decodeFlexInt(v json.RawMessage) (int64, error) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err == nil {
		return n, nil
	}
	var fn wire.FlexInt
	if err := json.Unmarshal(v, &fn); err != nil {
		return 0, err
	}
	return int64(fn), nil
}

// floatField is an amount: sent unless 0; NaN and ±Inf are refused; read
// from a JSON number or a numeric string ("" reads as 0).
type floatField func(*Item) *float64

func (get floatField) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	x := *get(it)
	if x == 0 {
		return dst, false, nil
	}
	if p := badFloat(x); p != "" {
		return dst, false, &valueError{problem: p}
	}
	return s.float(m.start(s, dst), x, 64), true, nil
}

func (get floatField) check(it *Item) (string, string) { return "", badFloat(*get(it)) }

func (get floatField) decode(it *Item, v json.RawMessage) error {
	x, ok := wire.ParseFlexFloat(v)
	if !ok && string(bytes.TrimSpace(v)) != `""` {
		return fmt.Errorf("%s is not a number", quoteName(string(v)))
	}
	*get(it) = x
	return nil
}

// yesNoField is a Y/N flag: sent unless unset, so No is sent; validation
// accepts only Y and N; read from Y/N (any case), true/false or a JSON bool.
type yesNoField func(*Item) *YesNo

func (get yesNoField) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	y := *get(it)
	if y == "" {
		return dst, false, nil
	}
	dst, err := s.text(m.start(s, dst), string(y))
	return dst, true, err
}

func (get yesNoField) check(it *Item) (string, string) {
	if p := badYesNo(*get(it)); p != "" {
		return "", p + " (the portal reads anything else as N)"
	}
	return "", ""
}

func (get yesNoField) decode(it *Item, v json.RawMessage) error {
	var b bool
	if json.Unmarshal(v, &b) == nil {
		*get(it) = YesNoOf(b)
		return nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "":
		*get(it) = ""
	case "y", "true":
		*get(it) = Yes
	case "n", "false":
		*get(it) = No
	default:
		return fmt.Errorf(`%s: want "Y" or "N"`, quoteName(s))
	}
	return nil
}

// dateField is a calendar date: sent as "2006-01-02" unless zero;
// impossible dates are refused; read by [ParseDate].
type dateField func(*Item) *Date

func (get dateField) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	d := *get(it)
	if d.IsZero() {
		return dst, false, nil
	}
	if p := badDate(d); p != "" {
		return dst, false, &valueError{problem: p}
	}
	return s.date(m.start(s, dst), d), true, nil
}

func (get dateField) check(it *Item) (string, string) {
	if d := *get(it); !d.IsZero() {
		return "", badDate(d)
	}
	return "", ""
}

func (get dateField) decode(it *Item, v json.RawMessage) error {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return err
	}
	d, err := portalDate(s) // answers carry dates as datetimes at midnight
	if err != nil {
		return err
	}
	*get(it) = d
	return nil
}

// timeField is a history time: sent as RFC 3339 with offset, to the
// second, unless zero; years outside 1 to 9999 are refused; read from RFC
// 3339 with an offset ("" reads as unset).
type timeField func(*Item) *time.Time

func (get timeField) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	t := get(it)
	if t.IsZero() {
		return dst, false, nil
	}
	if p := badTime(*t); p != "" {
		return dst, false, &valueError{problem: p}
	}
	return s.time(m.start(s, dst), *t), true, nil
}

func (get timeField) check(it *Item) (string, string) {
	if t := *get(it); !t.IsZero() {
		return "", badTime(t)
	}
	return "", ""
}

func (get timeField) decode(it *Item, v json.RawMessage) error {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("%s: want RFC 3339 with an offset, e.g. 2024-07-17T10:00:00+03:00", quoteName(s))
	}
	*get(it) = t
	return nil
}

// idsField is a list of ids: sent unless empty; every id must be positive;
// read from a JSON list of numbers or numeric strings, or from one of them.
type idsField func(*Item) *[]int64

func (get idsField) encode(s valueSink, dst []byte, it *Item, m member) ([]byte, bool, error) {
	ids := *get(it)
	if len(ids) == 0 {
		return dst, false, nil
	}
	dst = s.openList(m.start(s, dst))
	for i, id := range ids {
		dst = s.integer(s.element(dst, i), id)
	}
	return s.closeList(dst), true, nil
}

func (get idsField) check(it *Item) (string, string) {
	for i, id := range *get(it) {
		if id <= 0 {
			return pathIndex(i), "id " + strconv.FormatInt(id, 10) + " is not positive"
		}
	}
	return "", ""
}

func (get idsField) decode(it *Item, v json.RawMessage) error {
	var ids []wire.FlexInt
	if t := bytes.TrimSpace(v); len(t) > 0 && t[0] != '[' {
		var one wire.FlexInt
		if err := json.Unmarshal(t, &one); err != nil {
			return err
		}
		ids = []wire.FlexInt{one}
	} else if err := json.Unmarshal(v, &ids); err != nil {
		return err
	}
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	*get(it) = out
	return nil
}

// multifieldKeys are the multifield lists: upper-case wire name, Go name,
// accessor. The import reads them only for leads, contacts and companies.
var multifieldKeys = [...]struct {
	wire, goName string
	get          func(*Item) *[]Multifield
}{
	{"PHONE", "Phones", func(it *Item) *[]Multifield { return &it.Phones }},
	{"EMAIL", "Emails", func(it *Item) *[]Multifield { return &it.Emails }},
	{"WEB", "Webs", func(it *Item) *[]Multifield { return &it.Webs }},
	{"IM", "IMs", func(it *Item) *[]Multifield { return &it.IMs }},
}
