package b24test

import (
	"strconv"
	"strings"
	"time"
)

// User is a person of the portal, as user.get reports them.
type User struct {
	ID         int64
	Name       string
	LastName   string
	SecondName string
	Email      string
	Active     bool
}

// WithUsers replaces the portal's users (by default one, id 1, "Test
// User", the webhook's own), for code that finds users by name or e-mail.
func WithUsers(users ...User) Option {
	return func(c *config) { c.users = append([]User(nil), users...) }
}

// RealisticLatency is a preset for demos and by-hand trials: a call takes
// about what a loaded cloud portal takes (0.4 s plus 40 ms per imported
// item plus up to 0.3 s of jitter, so a 20-item batch import takes
// 1.2-1.5 s), which makes pacing, progress and ETAs behave as they would
// against a real portal. Add it to the cloud's default limits.
func RealisticLatency() Option {
	return WithLatency(400*time.Millisecond, 40*time.Millisecond, 300*time.Millisecond)
}

func (s *Server) usersList() []User {
	if s.cfg.users != nil {
		return s.cfg.users
	}
	return []User{{ID: 1, Name: "Test", LastName: "User", Email: "test.user@example.com", Active: true}}
}

// userPage is user.get's page size.
const userPage = 50

// handleUserGet answers user.get: filters on ID, EMAIL, NAME, LAST_NAME
// and ACTIVE (given at the top level or under FILTER), pages of 50 with
// start.
func handleUserGet(x *exchange, p map[string]any) outcome {
	filter := map[string]string{}
	take := func(m map[string]any) {
		for k, v := range m {
			key := strings.ToUpper(strings.TrimLeft(k, "=%"))
			switch key {
			case "ID", "EMAIL", "NAME", "LAST_NAME", "ACTIVE":
				filter[key] = stringValue(v)
			}
		}
	}
	take(p)
	if f, ok := param(p, "filter"); ok {
		if fm, ok := f.(map[string]any); ok {
			take(fm)
		}
	}
	var hits []User
	for _, u := range x.s.usersList() {
		if userMatches(u, filter) {
			hits = append(hits, u)
		}
	}
	start := int64(0)
	if v, ok := param(p, "start"); ok {
		if n, ok := intValue(v); ok && n > 0 {
			start = n
		}
	}
	page := []any{}
	for i := start; i < int64(len(hits)) && i < start+userPage; i++ {
		u := hits[i]
		page = append(page, map[string]any{"ID": strconv.FormatInt(u.ID, 10), "ACTIVE": u.Active, "NAME": u.Name,
			"LAST_NAME": u.LastName, "SECOND_NAME": u.SecondName, "EMAIL": u.Email})
	}
	out := outcome{result: page, total: len(hits), hasTotal: true}
	if start+userPage < int64(len(hits)) {
		out.next, out.hasNext = int(start+userPage), true
	}
	return out
}

func userMatches(u User, f map[string]string) bool {
	for k, v := range f {
		var got string
		switch k {
		case "ID":
			got = strconv.FormatInt(u.ID, 10)
		case "EMAIL":
			got = u.Email
		case "NAME":
			got = u.Name
		case "LAST_NAME":
			got = u.LastName
		case "ACTIVE":
			want := v == "Y" || v == "true" || v == "1"
			if u.Active != want {
				return false
			}
			continue
		}
		if !strings.EqualFold(got, v) {
			return false
		}
	}
	return true
}
