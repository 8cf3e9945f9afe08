package b24

// CRMItemService imports and reads CRM items through the universal crm.item
// methods. Get it from [Client.CRMItem].
type CRMItemService service
