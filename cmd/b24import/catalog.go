package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/b24kit/b24"
)

// catalog is what the portal says about an entity type, read once before
// the rows: its fields, pipelines and stages, the status lists its
// columns use, its users, and the newest item's creation time (history
// may not be older). Lookups run on the loaded lists only.
type catalog struct {
	fields     map[string]b24.FieldInfo
	categories []category
	stages     map[string][]statusEntry // ENTITY_ID -> its stages or statuses
	users      []portalUser
	byName     map[string][]int // folded spelling of a name -> indexes into users
	byEmail    map[string][]int // lower-case e-mail -> indexes into users
	newest     time.Time        // createdTime of the newest item; zero: none
}

type category struct {
	id        int64
	name      string
	isDefault bool
}

type statusEntry struct{ id, name string }

type portalUser struct {
	id                        int64
	name, last, second, email string
	active                    bool
}

func (u portalUser) display() string {
	n := strings.TrimSpace(u.name + " " + u.last)
	if u.email != "" {
		n += " <" + u.email + ">"
	}
	return fmt.Sprintf("%d %s", u.id, n)
}

// loadFields reads the entity type's fields; the first call to the portal.
func (cat *catalog) loadFields(ctx context.Context, c *b24.Client, et b24.EntityTypeID) error {
	fields, err := c.CRMItem.Fields(ctx, et)
	if err != nil {
		return err
	}
	cat.fields = fields
	return nil
}

// preload reads the lists the columns need.
func (cat *catalog) preload(ctx context.Context, c *b24.Client, et b24.EntityTypeID, cols []column) error {
	needStages, needUsers := false, false
	statusTypes := map[string]bool{}
	for i := range cols {
		col := &cols[i]
		if col.skip {
			continue
		}
		switch {
		case col.field == "stageId" || col.field == "categoryId":
			needStages = true
		case isUserRef(col):
			needUsers = true
		case col.info != nil && col.info.Type == "crm_status" && col.info.StatusType != "":
			statusTypes[col.info.StatusType] = true
		}
	}
	cat.stages = map[string][]statusEntry{}
	if needStages {
		if err := cat.loadStages(ctx, c, et); err != nil {
			return err
		}
	}
	for st := range statusTypes {
		if err := cat.loadStatus(ctx, c, st); err != nil {
			return err
		}
	}
	if needUsers {
		if err := cat.loadUsers(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// hasCategories reports the entity types with pipelines.
func hasCategories(et b24.EntityTypeID) bool {
	switch et {
	case b24.EntityLead, b24.EntityContact, b24.EntityCompany, b24.EntityQuote:
		return false
	}
	return true
}

// stageEntityID is the status list (crm.status.list ENTITY_ID) of the
// stages of pipeline cat of et.
func stageEntityID(et b24.EntityTypeID, cat int64) string {
	switch et {
	case b24.EntityLead:
		return "STATUS"
	case b24.EntityQuote:
		return "QUOTE_STATUS"
	case b24.EntityDeal:
		if cat == 0 {
			return "DEAL_STAGE"
		}
		return "DEAL_STAGE_" + strconv.FormatInt(cat, 10)
	case b24.EntitySmartInvoice:
		return "SMART_INVOICE_STAGE_" + strconv.FormatInt(cat, 10)
	}
	return fmt.Sprintf("DYNAMIC_%d_STAGE_%d", int(et), cat)
}

func (cat *catalog) loadStages(ctx context.Context, c *b24.Client, et b24.EntityTypeID) error {
	if hasCategories(et) {
		var res struct {
			Categories []struct {
				ID        json.Number `json:"id"`
				Name      string      `json:"name"`
				IsDefault string      `json:"isDefault"`
			} `json:"categories"`
		}
		if err := c.Call(ctx, "crm.category.list", map[string]any{"entityTypeId": int(et)}, &res); err != nil {
			return fmt.Errorf("reading the pipelines (crm.category.list): %w", err)
		}
		for _, r := range res.Categories {
			id, _ := r.ID.Int64()
			cat.categories = append(cat.categories, category{id: id, name: r.Name, isDefault: r.IsDefault == "Y"})
		}
	}
	if len(cat.categories) == 0 {
		return cat.loadStatus(ctx, c, stageEntityID(et, 0))
	}
	for _, k := range cat.categories {
		if err := cat.loadStatus(ctx, c, stageEntityID(et, k.id)); err != nil {
			return err
		}
	}
	return nil
}

func (cat *catalog) loadStatus(ctx context.Context, c *b24.Client, entityID string) error {
	if _, ok := cat.stages[entityID]; ok {
		return nil
	}
	var res []struct {
		StatusID string `json:"STATUS_ID"`
		Name     string `json:"NAME"`
	}
	if err := c.Call(ctx, "crm.status.list", map[string]any{"filter": map[string]any{"ENTITY_ID": entityID}, "order": map[string]string{"SORT": "ASC"}}, &res); err != nil {
		return fmt.Errorf("reading the status list %s (crm.status.list): %w", entityID, err)
	}
	list := make([]statusEntry, 0, len(res))
	for _, r := range res {
		list = append(list, statusEntry{id: r.StatusID, name: r.Name})
	}
	cat.stages[entityID] = list
	return nil
}

// maxUsers bounds the users read: a portal of more people than that is
// better served by ids or e-mails in the file.
const maxUsers = 20000

func (cat *catalog) loadUsers(ctx context.Context, c *b24.Client) error {
	for start := 0; start < maxUsers; start += 50 {
		var page []struct {
			ID         json.Number `json:"ID"`
			Name       string      `json:"NAME"`
			LastName   string      `json:"LAST_NAME"`
			SecondName string      `json:"SECOND_NAME"`
			Email      string      `json:"EMAIL"`
			Active     any         `json:"ACTIVE"`
		}
		if err := c.Call(ctx, "user.get", map[string]any{"start": start, "sort": "ID", "order": "ASC"}, &page); err != nil {
			return fmt.Errorf("reading the users (user.get): %w", err)
		}
		for _, u := range page {
			id, _ := u.ID.Int64()
			active := true
			switch a := u.Active.(type) {
			case bool:
				active = a
			case string:
				active = a == "Y" || a == "true" || a == "1"
			}
			cat.users = append(cat.users, portalUser{id: id, name: strings.TrimSpace(u.Name), last: strings.TrimSpace(u.LastName),
				second: strings.TrimSpace(u.SecondName), email: strings.TrimSpace(u.Email), active: active})
		}
		if len(page) < 50 {
			break
		}
	}
	cat.indexUsers()
	return nil
}

// indexUsers builds the name and e-mail indexes, so a lookup costs a map
// read, not a scan of every user, on every row.
func (cat *catalog) indexUsers() {
	cat.byName, cat.byEmail = map[string][]int{}, map[string][]int{}
	for i, u := range cat.users {
		seen := map[string]bool{}
		for _, k := range userKeys(u) {
			if !seen[k] {
				seen[k] = true
				cat.byName[k] = append(cat.byName[k], i)
			}
		}
		if u.email != "" {
			e := strings.ToLower(u.email)
			cat.byEmail[e] = append(cat.byEmail[e], i)
		}
	}
}

// loadNewest reads the creation time of the portal's newest item of et.
func (cat *catalog) loadNewest(ctx context.Context, c *b24.Client, et b24.EntityTypeID) error {
	var res struct {
		Items []struct {
			CreatedTime string `json:"createdTime"`
		} `json:"items"`
	}
	err := c.Call(ctx, "crm.item.list", map[string]any{"entityTypeId": int(et), "order": map[string]string{"id": "desc"},
		"select": []string{"id", "createdTime"}, "start": 0}, &res)
	if err != nil {
		return fmt.Errorf("reading the newest item (crm.item.list): %w", err)
	}
	if len(res.Items) > 0 {
		if t, err := time.Parse(time.RFC3339, res.Items[0].CreatedTime); err == nil {
			cat.newest = t
		}
	}
	return nil
}

// categoryID finds a pipeline by id or name.
func (cat *catalog) categoryID(et b24.EntityTypeID, cell string) (int64, error) {
	var names []string
	for _, k := range cat.categories {
		if foldValue(k.name) == foldValue(cell) {
			return k.id, nil
		}
		names = append(names, fmt.Sprintf("%q (%d)", k.name, k.id))
	}
	return 0, fmt.Errorf("%q is not a pipeline of %s; accepted: %s", cell, et, firstFew(names))
}

// defaultCategory is the pipeline of a row that names none.
func (cat *catalog) defaultCategory() (category, bool) {
	for _, k := range cat.categories {
		if k.isDefault {
			return k, true
		}
	}
	if len(cat.categories) > 0 {
		return cat.categories[0], true
	}
	return category{}, false
}

// stage finds a stage by id (with or without the pipeline's prefix) or
// name, within the row's pipeline (the default one when it names none).
func (cat *catalog) stage(et b24.EntityTypeID, catID int64, hasCat bool, cell string) (string, error) {
	pipeline := "the default pipeline"
	if !hasCat {
		catID = 0
		if k, ok := cat.defaultCategory(); ok {
			catID, pipeline = k.id, fmt.Sprintf("pipeline %q", k.name)
		}
	} else {
		for _, k := range cat.categories {
			if k.id == catID {
				pipeline = fmt.Sprintf("pipeline %q", k.name)
			}
		}
	}
	list, ok := cat.stages[stageEntityID(et, catID)]
	if !ok {
		return "", fmt.Errorf("%s has no pipeline %d", et, catID)
	}
	want := foldValue(cell)
	var accepted []string
	for _, s := range list {
		_, bare, cut := strings.Cut(s.id, ":")
		if strings.EqualFold(s.id, strings.TrimSpace(cell)) || cut && strings.EqualFold(bare, strings.TrimSpace(cell)) || foldValue(s.name) == want {
			return s.id, nil
		}
		accepted = append(accepted, fmt.Sprintf("%q (%s)", s.name, s.id))
	}
	return "", fmt.Errorf("%q is not a stage of %s; accepted: %s", cell, pipeline, firstFew(accepted))
}

// status finds a status (source, type, ...) by id or name.
func (cat *catalog) status(entityID, cell string) (string, error) {
	var accepted []string
	for _, s := range cat.stages[entityID] {
		if s.id == strings.TrimSpace(cell) || foldValue(s.name) == foldValue(cell) {
			return s.id, nil
		}
		accepted = append(accepted, fmt.Sprintf("%q (%s)", s.name, s.id))
	}
	return "", fmt.Errorf("%q is not in the portal's list %s; accepted: %s", cell, entityID, firstFew(accepted))
}

// userID finds a user by e-mail, or by name as people write it: "Ivan
// Petrov", "Petrov Ivan", "Petrov I.", "I. Petrov", with the middle name
// or without. Two people who fit are reported, not guessed between; an
// active user wins over a deactivated one.
func (cat *catalog) userID(cell string) (int64, error) {
	if cat.byName == nil {
		cat.indexUsers()
	}
	idx := cat.byName[foldName(cell)]
	if reEmail.MatchString(strings.TrimSpace(cell)) {
		idx = cat.byEmail[strings.ToLower(strings.TrimSpace(cell))]
	}
	hits := make([]portalUser, 0, len(idx))
	for _, i := range idx {
		hits = append(hits, cat.users[i])
	}
	if len(hits) > 1 {
		var active []portalUser
		for _, u := range hits {
			if u.active {
				active = append(active, u)
			}
		}
		if len(active) > 0 {
			hits = active
		}
	}
	switch len(hits) {
	case 1:
		return hits[0].id, nil
	case 0:
		var some []string
		for _, u := range cat.users {
			if u.active {
				some = append(some, fmt.Sprintf("%q", strings.TrimSpace(u.name+" "+u.last)))
			}
		}
		return 0, fmt.Errorf("%q is no user of the portal (by name or e-mail); accepted: %s, or a user id", cell, firstFew(some))
	}
	var who []string
	for _, u := range hits {
		who = append(who, u.display())
	}
	return 0, fmt.Errorf("%q is ambiguous: %d users fit (%s); write the user id or e-mail", cell, len(hits), strings.Join(who, "; "))
}

// userKeys are the folded spellings of a user's name.
func userKeys(u portalUser) []string {
	first, last, mid := u.name, u.last, u.second
	initial := func(s string) string {
		for _, r := range s {
			return string(r)
		}
		return ""
	}
	keys := []string{first + last, last + first, last + first + mid, first + mid + last,
		last + initial(first), initial(first) + last, last + initial(first) + initial(mid), initial(first) + initial(mid) + last}
	for i, k := range keys {
		keys[i] = foldName(k)
	}
	if u.name == "" && u.last == "" {
		return nil
	}
	return keys
}
