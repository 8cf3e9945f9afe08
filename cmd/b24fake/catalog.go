package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

// catalogFile is the JSON of -catalog: what the portal says about itself.
//
//	{
//	  "categories": {"2": [{"id": 0, "name": "Общая", "default": true,
//	                        "stages": [{"id": "NEW", "name": "Новая"}, ...]}]},
//	  "statuses":   {"SOURCE": [{"id": "CALL", "name": "Звонок"}]},
//	  "users":      [{"id": 7, "name": "Иван", "lastName": "Петров", "email": "ivan@example.ru"}],
//	  "userFields": {"2": [{"name": "ufCrm_1721244707107", "type": "double", "title": "Скидка, %"},
//	                       {"name": "ufCrm_5", "type": "enumeration", "title": "Канал",
//	                        "items": [{"id": 44, "value": "Сайт"}]}]}
//	}
//
// Users are active unless "active": false.
type catalogFile struct {
	Categories map[string][]struct {
		ID      int          `json:"id"`
		Name    string       `json:"name"`
		Default bool         `json:"default"`
		Stages  []statusJSON `json:"stages"`
	} `json:"categories"`
	Statuses map[string][]statusJSON `json:"statuses"`
	Users    []struct {
		ID         int64  `json:"id"`
		Name       string `json:"name"`
		LastName   string `json:"lastName"`
		SecondName string `json:"secondName"`
		Email      string `json:"email"`
		Active     *bool  `json:"active"`
	} `json:"users"`
	UserFields map[string][]struct {
		Name      string `json:"name"`
		Type      string `json:"type"`
		Title     string `json:"title"`
		Multiple  bool   `json:"multiple"`
		Mandatory bool   `json:"mandatory"`
		Items     []struct {
			ID    int64  `json:"id"`
			Value string `json:"value"`
		} `json:"items"`
	} `json:"userFields"`
}

type statusJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func statuses(list []statusJSON) []b24test.Status {
	out := make([]b24test.Status, len(list))
	for i, s := range list {
		out[i] = b24test.Status{ID: s.ID, Name: s.Name}
	}
	return out
}

// loadCatalog reads a -catalog file into server options.
func loadCatalog(path string) ([]b24test.Option, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cf catalogFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("-catalog %s: %v", path, err)
	}
	entity := func(key string) (b24.EntityTypeID, error) {
		n, err := strconv.Atoi(key)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("-catalog %s: %q is not an entity type id", path, key)
		}
		return b24.EntityTypeID(n), nil
	}
	var opts []b24test.Option
	for key, cats := range cf.Categories {
		et, err := entity(key)
		if err != nil {
			return nil, err
		}
		var list []b24test.Category
		for _, c := range cats {
			list = append(list, b24test.Category{ID: c.ID, Name: c.Name, Default: c.Default, Stages: statuses(c.Stages)})
		}
		opts = append(opts, b24test.WithCategories(et, list...))
	}
	for id, list := range cf.Statuses {
		opts = append(opts, b24test.WithStatuses(id, statuses(list)...))
	}
	if len(cf.Users) > 0 {
		var users []b24test.User
		for _, u := range cf.Users {
			users = append(users, b24test.User{ID: u.ID, Name: u.Name, LastName: u.LastName, SecondName: u.SecondName,
				Email: u.Email, Active: u.Active == nil || *u.Active})
		}
		opts = append(opts, b24test.WithUsers(users...))
	}
	for key, fields := range cf.UserFields {
		et, err := entity(key)
		if err != nil {
			return nil, err
		}
		var list []b24test.UserField
		for _, f := range fields {
			uf := b24test.UserField{Name: f.Name, Type: f.Type, Title: f.Title, Multiple: f.Multiple, Mandatory: f.Mandatory}
			for _, it := range f.Items {
				uf.Items = append(uf.Items, b24.EnumItem{ID: it.ID, Value: it.Value})
			}
			list = append(list, uf)
		}
		opts = append(opts, b24test.WithUserFields(et, list...))
	}
	return opts, nil
}
