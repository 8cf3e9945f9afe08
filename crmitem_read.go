package b24

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/b24kit/b24/internal/wire"
)

// FieldInfo describes one field of an entity type, as crm.item.fields
// reports it.
type FieldInfo struct {
	// Name is the field's camelCase name, the key of the map
	// [CRMItemService.Fields] returns: "title", "stageId", "ufCrm_1721244707107".
	Name string
	// UpperName is the upper-case spelling: "TITLE", "UF_CRM_1721244707107".
	UpperName string
	// Type is the portal's field type: "string", "integer", "double",
	// "boolean", "date", "datetime", "money", "enumeration", "file", "url",
	// "user", "crm_status", "crm_category", "crm_currency", "crm_company",
	// "crm_contact", "crm_entity", "crm_multifield", "location", ...
	Type string
	// Title is the field's name in the portal's language. For user fields
	// it is the label the portal shows in forms when it has one.
	Title string
	// ListLabel, FormLabel and FilterLabel are a user field's labels.
	ListLabel, FormLabel, FilterLabel string

	Required  bool // the portal refuses an item without it
	ReadOnly  bool // set by the portal; an import or update cannot set it
	Immutable bool // may be set on creation only
	Multiple  bool // holds a list of values
	Dynamic   bool // a user field

	// StatusType names the status list of a crm_status field, for
	// crm.status.list: "DEAL_STAGE", "DEAL_STAGE_9", "SOURCE",
	// "DYNAMIC_1268_STAGE_52".
	StatusType string
	// Items are the choices of an enumeration field.
	Items []EnumItem
	// Settings holds the field's settings as the portal sends them (for
	// example parentEntityTypeId of a link, DEFAULT_VALUE of a user field).
	Settings map[string]any
}

// IsUserField reports whether f is a user field (ufCrm…).
func (f FieldInfo) IsUserField() bool {
	return f.Dynamic || strings.HasPrefix(f.Name, "ufCrm") || strings.HasPrefix(f.UpperName, "UF_")
}

// EnumItem is one choice of an enumeration field: the id an item stores
// and the label people see.
type EnumItem struct {
	ID    int64
	Value string
}

// Fields returns the fields of entity type et, user fields included, keyed
// by camelCase name, with crm.item.fields.
//
// API docs: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-fields.html
func (s *CRMItemService) Fields(ctx context.Context, et EntityTypeID) (map[string]FieldInfo, error) {
	if et <= 0 {
		return nil, invalidInput("crm.item.fields: entity type %d is not valid", int(et))
	}
	var res struct {
		Fields map[string]fieldAnswer `json:"fields"`
	}
	if err := s.client.Call(ctx, "crm.item.fields", map[string]any{"entityTypeId": int(et)}, &res); err != nil {
		return nil, err
	}
	out := make(map[string]FieldInfo, len(res.Fields))
	for name, a := range res.Fields {
		fi := FieldInfo{Name: name, UpperName: string(a.UpperName), Type: string(a.Type),
			Title: string(a.Title), ListLabel: string(a.ListLabel), FormLabel: string(a.FormLabel),
			FilterLabel: string(a.FilterLabel), Required: bool(a.IsRequired), ReadOnly: bool(a.IsReadOnly),
			Immutable: bool(a.IsImmutable), Multiple: bool(a.IsMultiple), Dynamic: bool(a.IsDynamic),
			StatusType: string(a.StatusType)}
		if t := bytes.TrimSpace(a.Settings); len(t) > 0 && t[0] == '{' {
			_ = json.Unmarshal(t, &fi.Settings) // settings are informative: an odd one must not fail the call
		}
		if fi.IsUserField() && fi.FormLabel != "" && (fi.Title == "" || fi.Title == fi.UpperName) {
			fi.Title = fi.FormLabel
		}
		for _, it := range a.Items {
			fi.Items = append(fi.Items, EnumItem{ID: int64(it.ID), Value: string(it.Value)})
		}
		out[name] = fi
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("b24: crm.item.fields: the answer lists no fields for entity type %d", int(et))
	}
	return out, nil
}

// fieldAnswer is one field of a crm.item.fields answer.
type fieldAnswer struct {
	Type        wire.FlexString `json:"type"`
	Title       wire.FlexString `json:"title"`
	UpperName   wire.FlexString `json:"upperName"`
	ListLabel   wire.FlexString `json:"listLabel"`
	FormLabel   wire.FlexString `json:"formLabel"`
	FilterLabel wire.FlexString `json:"filterLabel"`
	StatusType  wire.FlexString `json:"statusType"`
	IsRequired  flexBool        `json:"isRequired"`
	IsReadOnly  flexBool        `json:"isReadOnly"`
	IsImmutable flexBool        `json:"isImmutable"`
	IsMultiple  flexBool        `json:"isMultiple"`
	IsDynamic   flexBool        `json:"isDynamic"`
	Items       []struct {
		ID    wire.FlexInt    `json:"ID"`
		Value wire.FlexString `json:"VALUE"`
	} `json:"items"`
	Settings json.RawMessage `json:"settings"` // an object, or [] when empty
}

// flexBool reads true/false, "Y"/"N", 1/0 and "true"/"false".
type flexBool bool

// UnmarshalJSON accepts the forms the portal uses for flags.
func (b *flexBool) UnmarshalJSON(v []byte) error {
	v = bytes.TrimSpace(v)
	var s string
	if len(v) > 0 && v[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
	} else {
		s = string(v)
	}
	switch strings.ToLower(s) {
	case "true", "y", "1":
		*b = true
	default:
		*b = false
	}
	return nil
}
