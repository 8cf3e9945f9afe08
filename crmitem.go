package b24

import (
	"strconv"
	"strings"
)

// CRMItemService imports and reads CRM items through the universal crm.item
// methods. Get it from [Client.CRMItem].
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

// usesXMLIDKey reports whether the entity type's dedup key is xmlId (smart
// invoices and smart processes) rather than originatorId+originId.
func (e EntityTypeID) usesXMLIDKey() bool {
	switch e {
	case EntityLead, EntityDeal, EntityContact, EntityCompany, 5, EntityQuote, 14:
		return false
	}
	return e > 0
}

// ParseEntityTypeID reads an entity type from its name (lead, deal,
// contact, company, quote, invoice; case-insensitive) or a positive number.
func ParseEntityTypeID(s string) (EntityTypeID, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
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
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, invalidInput("entity type %q: want lead, deal, contact, company, quote, invoice or a positive number", truncate(s, 40))
	}
	return EntityTypeID(n), nil
}
