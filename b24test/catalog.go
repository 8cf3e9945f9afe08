package b24test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/b24kit/b24"
)

// Category is a pipeline of an entity type (crm.category.list) with its
// stages (crm.status.list with ENTITY_ID DEAL_STAGE, DEAL_STAGE_N,
// DYNAMIC_T_STAGE_N, ...). Stage ids are written in full, with the
// pipeline's prefix where the portal has one ("C7:NEW").
type Category struct {
	ID      int
	Name    string
	Default bool
	Stages  []Status
}

// Status is one entry of a status list: a stage, a source, a deal type.
type Status struct {
	ID   string // STATUS_ID
	Name string // NAME, as the portal shows it
}

// UserField is a user field of an entity type, as crm.item.fields reports
// it. Name is the camelCase name ("ufCrm_1721244707107"); Type the
// portal's type ("string", "double", "integer", "boolean", "date",
// "datetime", "money", "enumeration", "user", ...); Items the choices of
// an enumeration.
type UserField struct {
	Name      string
	Type      string
	Title     string
	Multiple  bool
	Mandatory bool
	Items     []b24.EnumItem
}

// WithCategories replaces the pipelines of entity type et (deals and
// smart processes have them). By default deals have one, "General" (id 0),
// with the stages of a new portal, and every smart process one, "Default".
func WithCategories(et b24.EntityTypeID, cats ...Category) Option {
	return func(c *config) {
		if c.categories == nil {
			c.categories = map[int][]Category{}
		}
		c.categories[int(et)] = slices.Clone(cats)
	}
}

// WithStatuses replaces a status list that is not a pipeline's stages:
// "STATUS" (lead statuses), "SOURCE", "DEAL_TYPE", "QUOTE_STATUS", ...
func WithStatuses(entityID string, statuses ...Status) Option {
	return func(c *config) {
		if c.statuses == nil {
			c.statuses = map[string][]Status{}
		}
		c.statuses[entityID] = slices.Clone(statuses)
	}
}

// WithUserFields adds user fields to entity type et's crm.item.fields
// answer, so that code reading their types and choices can be tested.
func WithUserFields(et b24.EntityTypeID, fields ...UserField) Option {
	return func(c *config) {
		if c.userFields == nil {
			c.userFields = map[int][]UserField{}
		}
		c.userFields[int(et)] = append(c.userFields[int(et)], fields...)
	}
}

// defaultDealStages are a new portal's deal stages, English interface.
var defaultDealStages = []Status{
	{"NEW", "New"}, {"PREPARATION", "Preparing documents"}, {"PREPAYMENT_INVOICE", "Prepayment invoice"},
	{"EXECUTING", "In progress"}, {"FINAL_INVOICE", "Final invoice"}, {"WON", "Deal won"},
	{"LOSE", "Deal lost"}, {"APOLOGY", "Analyze failure"},
}

// defaultStatuses are a new portal's other status lists.
var defaultStatuses = map[string][]Status{
	"STATUS": {{"NEW", "Unassigned"}, {"IN_PROCESS", "In progress"}, {"PROCESSED", "Processed"},
		{"JUNK", "Junk lead"}, {"CONVERTED", "Good lead"}},
	"SOURCE": {{"CALL", "Call"}, {"EMAIL", "E-mail"}, {"WEB", "Website"}, {"ADVERTISING", "Advertising"},
		{"PARTNER", "Existing client"}, {"RECOMMENDATION", "By recommendation"}, {"OTHER", "Other"}},
	"DEAL_TYPE":    {{"SALE", "Sales"}, {"COMPLEX", "Integrated sale"}, {"GOODS", "Merchandise sale"}, {"SERVICES", "Service sale"}, {"SERVICE", "After-sales service"}},
	"QUOTE_STATUS": {{"DRAFT", "New"}, {"SENT", "Sent to client"}, {"APPROVED", "Approved"}, {"DECLAINED", "Declined"}},
}

// categoriesOf returns the pipelines of entity type et.
func (s *Server) categoriesOf(et int) ([]Category, bool) {
	if cats, ok := s.cfg.categories[et]; ok {
		return cats, true
	}
	switch {
	case et == 2:
		return []Category{{ID: 0, Name: "General", Default: true, Stages: defaultDealStages}}, true
	case et == 31 || et >= 128 || slices.Contains(s.cfg.smart, et):
		prefix := fmt.Sprintf("DT%d_1:", et)
		return []Category{{ID: 1, Name: "Default", Default: true, Stages: []Status{
			{prefix + "NEW", "Start"}, {prefix + "PREPARATION", "Preparation"}, {prefix + "CLIENT", "In progress"},
			{prefix + "SUCCESS", "Success"}, {prefix + "FAIL", "Failure"}}}}, true
	}
	return nil, false
}

// stageListID is the ENTITY_ID of pipeline cat's stages.
func stageListID(et, cat int) string {
	switch {
	case et == 2 && cat == 0:
		return "DEAL_STAGE"
	case et == 2:
		return fmt.Sprintf("DEAL_STAGE_%d", cat)
	case et == 31:
		return fmt.Sprintf("SMART_INVOICE_STAGE_%d", cat)
	}
	return fmt.Sprintf("DYNAMIC_%d_STAGE_%d", et, cat)
}

// statusList returns the list ENTITY_ID names, with the pipeline it
// belongs to (-1 for none).
func (s *Server) statusList(entityID string) ([]Status, int, bool) {
	for _, et := range append([]int{2, 31}, s.cfg.smart...) {
		cats, _ := s.categoriesOf(et)
		for _, c := range cats {
			if stageListID(et, c.ID) == entityID {
				return c.Stages, c.ID, true
			}
		}
	}
	if l, ok := s.cfg.statuses[entityID]; ok {
		return l, -1, true
	}
	l, ok := defaultStatuses[entityID]
	return l, -1, ok
}

// handleCategoryList answers crm.category.list.
func handleCategoryList(x *exchange, p map[string]any) outcome {
	es, e := x.entityParam(p)
	if e != nil {
		return outcome{err: e}
	}
	cats, ok := x.s.categoriesOf(es.typeID)
	if !ok {
		return outcome{err: &apiErr{http.StatusBadRequest, "NOT_SUPPORTED", "Entity type does not support categories"}}
	}
	out := make([]any, 0, len(cats))
	for i, c := range cats {
		def := "N"
		if c.Default {
			def = "Y"
		}
		out = append(out, map[string]any{"id": c.ID, "name": c.Name, "sort": (i + 1) * 100, "entityTypeId": es.typeID, "isDefault": def})
	}
	return outcome{result: map[string]any{"categories": out}, total: len(out), hasTotal: true}
}

// handleStatusList answers crm.status.list, filtered by ENTITY_ID (every
// list when none is given).
func handleStatusList(x *exchange, p map[string]any) outcome {
	var want string
	if f, ok := param(p, "filter"); ok {
		if fm, ok := f.(map[string]any); ok {
			for k, v := range fm {
				if strings.EqualFold(strings.TrimLeft(k, "="), "ENTITY_ID") {
					want = stringValue(v)
				}
			}
		}
	}
	var ids []string
	if want != "" {
		ids = []string{want}
	} else {
		for id := range defaultStatuses {
			ids = append(ids, id)
		}
		for id := range x.s.cfg.statuses {
			if _, dup := defaultStatuses[id]; !dup {
				ids = append(ids, id)
			}
		}
		ids = append(ids, "DEAL_STAGE")
		slices.Sort(ids)
	}
	out := []any{}
	n := 0
	for _, id := range ids {
		list, cat, ok := x.s.statusList(id)
		if !ok {
			continue
		}
		for i, st := range list {
			n++
			row := map[string]any{"ID": fmt.Sprint(n), "ENTITY_ID": id, "STATUS_ID": st.ID, "NAME": st.Name,
				"NAME_INIT": st.Name, "SORT": fmt.Sprint((i + 1) * 10), "SYSTEM": "N"}
			if cat >= 0 {
				row["CATEGORY_ID"] = fmt.Sprint(cat)
			}
			out = append(out, row)
		}
	}
	return outcome{result: out}
}

// userFieldInfo renders the user fields of entity type et for
// crm.item.fields.
func (s *Server) userFieldInfo(et int, fields map[string]any) {
	for _, uf := range s.cfg.userFields[et] {
		info := fieldInfo(uf.Name, uf.Type, uf.Mandatory, false, uf.Multiple)
		info["isDynamic"] = true
		info["title"] = uf.Title
		info["formLabel"], info["listLabel"], info["filterLabel"] = uf.Title, uf.Title, uf.Title
		if uf.Type == "enumeration" {
			items := make([]any, 0, len(uf.Items))
			for _, it := range uf.Items {
				items = append(items, map[string]any{"ID": it.ID, "VALUE": it.Value})
			}
			info["items"] = items
		}
		fields[uf.Name] = info
	}
}
