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

// fieldKind is the Go type of a typed Item field.
type fieldKind uint8

const (
	kindString   fieldKind = iota
	kindInt                // int64
	kindSmallInt           // int
	kindFloat
	kindYesNo
	kindDate
	kindTime
	kindIDs
)

// typedField describes one typed Item field: its wire name, Go name, kind
// and an accessor returning a pointer to it. One table drives encoding,
// decoding and validation so they cannot drift apart.
type typedField struct {
	wire   string
	goName string
	kind   fieldKind
	str    func(*Item) *string
	i64    func(*Item) *int64
	num    func(*Item) *int
	flt    func(*Item) *float64
	yn     func(*Item) *YesNo
	date   func(*Item) *Date
	tm     func(*Item) *time.Time
	ids    func(*Item) *[]int64
}

func fStr(w, g string, f func(*Item) *string) typedField {
	return typedField{wire: w, goName: g, kind: kindString, str: f}
}
func fInt(w, g string, f func(*Item) *int64) typedField {
	return typedField{wire: w, goName: g, kind: kindInt, i64: f}
}
func fFlt(w, g string, f func(*Item) *float64) typedField {
	return typedField{wire: w, goName: g, kind: kindFloat, flt: f}
}
func fYN(w, g string, f func(*Item) *YesNo) typedField {
	return typedField{wire: w, goName: g, kind: kindYesNo, yn: f}
}
func fDate(w, g string, f func(*Item) *Date) typedField {
	return typedField{wire: w, goName: g, kind: kindDate, date: f}
}
func fTime(w, g string, f func(*Item) *time.Time) typedField {
	return typedField{wire: w, goName: g, kind: kindTime, tm: f}
}
func fIDs(w, g string, f func(*Item) *[]int64) typedField {
	return typedField{wire: w, goName: g, kind: kindIDs, ids: f}
}

// itemFields lists the typed scalar fields in declaration order, which is
// also the order they are encoded in. The multifields, Parents and Fields
// follow them.
var itemFields = []typedField{
	fStr("title", "Title", func(it *Item) *string { return &it.Title }),
	fStr("typeId", "TypeID", func(it *Item) *string { return &it.TypeID }),
	fInt("categoryId", "CategoryID", func(it *Item) *int64 { return &it.CategoryID }),
	fStr("stageId", "StageID", func(it *Item) *string { return &it.StageID }),
	fYN("isRecurring", "IsRecurring", func(it *Item) *YesNo { return &it.IsRecurring }),
	{wire: "probability", goName: "Probability", kind: kindSmallInt, num: func(it *Item) *int { return &it.Probability }},
	fStr("currencyId", "CurrencyID", func(it *Item) *string { return &it.CurrencyID }),
	fYN("isManualOpportunity", "IsManualOpportunity", func(it *Item) *YesNo { return &it.IsManualOpportunity }),
	fFlt("opportunity", "Opportunity", func(it *Item) *float64 { return &it.Opportunity }),
	fFlt("taxValue", "TaxValue", func(it *Item) *float64 { return &it.TaxValue }),
	fInt("companyId", "CompanyID", func(it *Item) *int64 { return &it.CompanyID }),
	fInt("contactId", "ContactID", func(it *Item) *int64 { return &it.ContactID }),
	fIDs("contactIds", "ContactIDs", func(it *Item) *[]int64 { return &it.ContactIDs }),
	fIDs("companyIds", "CompanyIDs", func(it *Item) *[]int64 { return &it.CompanyIDs }),
	fInt("quoteId", "QuoteID", func(it *Item) *int64 { return &it.QuoteID }),
	fDate("begindate", "Begindate", func(it *Item) *Date { return &it.Begindate }),
	fDate("closedate", "Closedate", func(it *Item) *Date { return &it.Closedate }),
	fYN("opened", "Opened", func(it *Item) *YesNo { return &it.Opened }),
	fStr("comments", "Comments", func(it *Item) *string { return &it.Comments }),
	fInt("assignedById", "AssignedByID", func(it *Item) *int64 { return &it.AssignedByID }),
	fStr("sourceId", "SourceID", func(it *Item) *string { return &it.SourceID }),
	fStr("sourceDescription", "SourceDescription", func(it *Item) *string { return &it.SourceDescription }),
	fInt("leadId", "LeadID", func(it *Item) *int64 { return &it.LeadID }),
	fStr("additionalInfo", "AdditionalInfo", func(it *Item) *string { return &it.AdditionalInfo }),
	fIDs("observers", "Observers", func(it *Item) *[]int64 { return &it.Observers }),
	fStr("utmSource", "UTMSource", func(it *Item) *string { return &it.UTMSource }),
	fStr("utmMedium", "UTMMedium", func(it *Item) *string { return &it.UTMMedium }),
	fStr("utmCampaign", "UTMCampaign", func(it *Item) *string { return &it.UTMCampaign }),
	fStr("utmContent", "UTMContent", func(it *Item) *string { return &it.UTMContent }),
	fStr("utmTerm", "UTMTerm", func(it *Item) *string { return &it.UTMTerm }),
	fStr("honorific", "Honorific", func(it *Item) *string { return &it.Honorific }),
	fStr("name", "Name", func(it *Item) *string { return &it.Name }),
	fStr("secondName", "SecondName", func(it *Item) *string { return &it.SecondName }),
	fStr("lastName", "LastName", func(it *Item) *string { return &it.LastName }),
	fDate("birthdate", "Birthdate", func(it *Item) *Date { return &it.Birthdate }),
	fStr("post", "Post", func(it *Item) *string { return &it.Post }),
	fStr("companyTitle", "CompanyTitle", func(it *Item) *string { return &it.CompanyTitle }),
	fInt("mycompanyId", "MycompanyID", func(it *Item) *int64 { return &it.MycompanyID }),
	fStr("originatorId", "OriginatorID", func(it *Item) *string { return &it.OriginatorID }),
	fStr("originId", "OriginID", func(it *Item) *string { return &it.OriginID }),
	fStr("xmlId", "XMLID", func(it *Item) *string { return &it.XMLID }),
	fTime("createdTime", "CreatedTime", func(it *Item) *time.Time { return &it.CreatedTime }),
	fTime("updatedTime", "UpdatedTime", func(it *Item) *time.Time { return &it.UpdatedTime }),
	fTime("movedTime", "MovedTime", func(it *Item) *time.Time { return &it.MovedTime }),
	fInt("createdBy", "CreatedBy", func(it *Item) *int64 { return &it.CreatedBy }),
	fInt("updatedBy", "UpdatedBy", func(it *Item) *int64 { return &it.UpdatedBy }),
	fInt("movedBy", "MovedBy", func(it *Item) *int64 { return &it.MovedBy }),
}

// multifieldKeys are the upper-case keys of the multifield lists.
var multifieldKeys = [...]struct {
	wire, goName string
	get          func(*Item) *[]Multifield
}{
	{"PHONE", "Phones", func(it *Item) *[]Multifield { return &it.Phones }},
	{"EMAIL", "Emails", func(it *Item) *[]Multifield { return &it.Emails }},
	{"WEB", "Webs", func(it *Item) *[]Multifield { return &it.Webs }},
	{"IM", "IMs", func(it *Item) *[]Multifield { return &it.IMs }},
}

// typedByWire finds a typed field by its exact wire name.
var typedByWire = func() map[string]*typedField {
	m := make(map[string]*typedField, len(itemFields))
	for i := range itemFields {
		m[itemFields[i].wire] = &itemFields[i]
	}
	return m
}()

// decode sets the typed field from its JSON value, leniently.
func (f *typedField) decode(it *Item, v json.RawMessage) error {
	switch f.kind {
	case kindString:
		if plain, ok := plainJSONString(bytes.TrimSpace(v)); ok {
			*f.str(it) = plain
			return nil
		}
		var s wire.FlexString
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		*f.str(it) = string(s)
	case kindInt, kindSmallInt:
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			var fn wire.FlexInt
			if err := json.Unmarshal(v, &fn); err != nil {
				return err
			}
			n = int64(fn)
		}
		if f.kind == kindInt {
			*f.i64(it) = n
		} else {
			*f.num(it) = int(n)
		}
	case kindFloat:
		x, ok := wire.ParseFlexFloat(v)
		if !ok && string(bytes.TrimSpace(v)) != `""` {
			return fmt.Errorf("%s is not a number", quoteName(string(v)))
		}
		*f.flt(it) = x
	case kindYesNo:
		y, err := decodeYesNo(v)
		if err != nil {
			return err
		}
		*f.yn(it) = y
	case kindDate:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		d, err := ParseDate(s)
		if err != nil {
			return err
		}
		*f.date(it) = d
	case kindTime:
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
		*f.tm(it) = t
	case kindIDs:
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
		*f.ids(it) = out
	}
	return nil
}

func decodeYesNo(v json.RawMessage) (YesNo, error) {
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return YesNoOf(b), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", err
	}
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "y", "true":
		return Yes, nil
	case "n", "false":
		return No, nil
	}
	return "", fmt.Errorf(`%s: want "Y" or "N"`, quoteName(s))
}
