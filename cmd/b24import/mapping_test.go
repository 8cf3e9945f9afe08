package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/b24kit/b24"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMapFile(t *testing.T) {
	in := "\ufeff# comment\n\nНазвание сделки = title\n  Сумма=opportunity   # the amount\n\"a = b\" = comments\nЛишнее = -\nПусто =\nDeal #3 = stageId\n"
	rules, err := parseMapFile(strings.NewReader(in), "m.txt")
	require.NoError(t, err)
	assert.Equal(t, []mapRule{
		{"Название сделки", "title", "m.txt:3"},
		{"Сумма", "opportunity", "m.txt:4"},
		{"a = b", "comments", "m.txt:5"},
		{"Лишнее", "", "m.txt:6"},
		{"Пусто", "", "m.txt:7"},
		{"Deal", "", "m.txt:8"},
	}[:5], rules[:5])
	// "#" after the field starts a comment, so a source with "#" needs quotes.
	assert.Equal(t, mapRule{"Deal #3", "stageId", "m.txt:8"}, rules[5])

	bad := []struct{ in, want string }{
		{"title\n", `m.txt:1: no '=' in "title"`},
		{"ok = title\n= title\n", "m.txt:2: no source column before '='"},
		{"a = two words\n", `m.txt:1: field "two words" has a space`},
		{"\"open = title\n", "m.txt:1: unclosed quote"},
		{"x = title\n\xff = y\n", "m.txt:2: not UTF-8"},
	}
	for _, tc := range bad {
		_, err := parseMapFile(strings.NewReader(tc.in), "m.txt")
		if assert.Error(t, err, tc.in) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}

func TestLoadMapRules(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "map.txt")
	require.NoError(t, os.WriteFile(file, []byte("Сумма = opportunity\nСтадия = stageId\n"), 0o644))
	rules, err := loadMapRules([]string{file, "Этап=-,Owner=assignedById"})
	require.NoError(t, err)
	assert.Len(t, rules, 4)
	assert.Equal(t, "-map", rules[3].origin)

	_, err = loadMapRules([]string{file, "сумма=title"})
	require.Error(t, err)
	assert.Equal(t, `-map: column "сумма" is already mapped to opportunity at `+file+":1", err.Error())
	_, err = loadMapRules([]string{filepath.Join(dir, "nope.txt")})
	assert.ErrorContains(t, err, "no such file, and not a 'Source column=field' rule")
}

func TestResolveHeader(t *testing.T) {
	mc := &mappingConfig{et: b24.EntityDeal, rules: []mapRule{{"Old id", "", "-map"}, {"Этап", "stageId", "-map"}}}
	plan, err := resolveHeader([]string{"Название сделки", "STAGE_ID", "Assigned By Id", "Этап", "Old id", "E-mail", "Close Date", ""}, mc)
	require.Error(t, err, "a deal has no EMAIL and two columns go to stageId")
	assert.Contains(t, err.Error(), `column 4 "Этап" and column 2 "STAGE_ID" both go to stageId`)
	assert.Contains(t, err.Error(), `column 6 "E-mail"`)
	fields := map[string]string{}
	for _, c := range plan.cols {
		fields[c.name] = c.field
	}
	assert.Equal(t, "title", fields["Название сделки"])
	assert.Equal(t, "stageId", fields["STAGE_ID"])
	assert.Equal(t, "assignedById", fields["Assigned By Id"])
	assert.Equal(t, "closedate", fields["Close Date"])
	assert.Len(t, plan.cols, 7, "the trailing empty header cell is Excel's trailing delimiter")
}

func TestResolveHeaderWithPortalTitles(t *testing.T) {
	fields := map[string]b24.FieldInfo{
		"title":               {Name: "title", UpperName: "TITLE", Title: "Название"},
		"ufCrm_1721244707107": {Name: "ufCrm_1721244707107", UpperName: "UF_CRM_1721244707107", Title: "Скидка, %", Type: "double", Dynamic: true},
		"id":                  {Name: "id", UpperName: "ID", Title: "ID", ReadOnly: true},
	}
	plan, err := resolveHeader([]string{"название", "скидка %", "UF_CRM_1721244707107"}, &mappingConfig{et: b24.EntityDeal, fields: fields})
	require.Error(t, err, "two columns go to the user field")
	assert.Equal(t, "ufCrm_1721244707107", plan.cols[1].field, "the portal's title, folded")
	require.NotNil(t, plan.cols[1].info)
	assert.Equal(t, "double", plan.cols[1].info.Type)

	_, err = resolveHeader([]string{"ID", "title"}, &mappingConfig{et: b24.EntityDeal, fields: fields})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `column 1 "ID" is not a field of deal`, "id is read-only: never a target")
}

// lookupCatalog loads a catalog from a fake portal set up for lookups.
func lookupCatalog(t *testing.T, cols []column) *catalog {
	srv := exportPortal(t)
	c := srv.Client()
	cat := &catalog{}
	require.NoError(t, cat.loadFields(context.Background(), c, b24.EntityDeal))
	require.NoError(t, cat.preload(context.Background(), c, b24.EntityDeal, cols))
	return cat
}

func TestLookupsAgainstThePortal(t *testing.T) {
	cols := []column{{field: "stageId"}, {field: "assignedById"}}
	cat := lookupCatalog(t, cols)

	id, err := cat.stage(b24.EntityDeal, 0, false, "подготовка  документов")
	require.NoError(t, err)
	assert.Equal(t, "PREPARATION", id, "names compare without case and repeated spaces")
	id, err = cat.stage(b24.EntityDeal, 7, true, "WON")
	require.NoError(t, err)
	assert.Equal(t, "C7:WON", id, "an id without its pipeline's prefix")
	_, err = cat.stage(b24.EntityDeal, 0, false, "Closed Won")
	require.Error(t, err, "Closed Won is a stage of another pipeline")
	assert.Equal(t, `"Closed Won" is not a stage of pipeline "Общая"; accepted: "Новая" (NEW), "Подготовка документов" (PREPARATION), "В работе" (EXECUTING), "Сделка успешна" (WON), "Сделка провалена" (LOSE)`, err.Error())
	k, err := cat.categoryID(b24.EntityDeal, "партнёры")
	require.NoError(t, err)
	assert.EqualValues(t, 7, k)

	for cell, want := range map[string]int64{"Сидорова А.": 3, "Анна Сидорова": 3, "сидорова анна": 3, "IGOR@example.ru": 2, "Sam Sales": 4, "Иван Петров": 1} {
		got, err := cat.userID(cell)
		if assert.NoError(t, err, cell) {
			assert.Equal(t, want, got, cell)
		}
	}
	_, err = cat.userID("Петров И.")
	require.Error(t, err)
	assert.Equal(t, `"Петров И." is ambiguous: 2 users fit (1 Иван Петров <ivan@example.ru>; 2 Игорь Петров <igor@example.ru>); write the user id or e-mail`, err.Error())
	_, err = cat.userID("Nobody Here")
	assert.ErrorContains(t, err, `"Nobody Here" is no user of the portal (by name or e-mail); accepted: "Иван Петров", "Игорь Петров"`)
}

func TestEnumerationAndTypedUserFields(t *testing.T) {
	cat := lookupCatalog(t, nil)
	vr := &valueResolver{et: b24.EntityDeal, portal: cat, maps: map[string]map[string]string{"ufCrm_5": {foldValue("web"): "Сайт"}}}
	co := &coercer{values: vr}
	enum := cat.fields["ufCrm_5"]
	c := &column{name: "Канал", field: "ufCrm_5", kind: kindUser, info: &enum}
	v, err := co.coerceCell(c, "звонок", map[string]any{})
	require.NoError(t, err)
	assert.EqualValues(t, 45, v)
	v, err = co.coerceCell(c, "Web", map[string]any{})
	require.NoError(t, err)
	assert.EqualValues(t, 44, v, "-values maps the label first")
	_, err = co.coerceCell(c, "Почта", map[string]any{})
	assert.EqualError(t, err, `"Почта" is not a choice of this list; accepted: "Сайт", "Звонок"`)

	dbl := b24.FieldInfo{Type: "double"}
	v, err = co.coerceCell(&column{field: "ufCrm_1", kind: kindUser, info: &dbl}, "90 408,56", nil)
	require.NoError(t, err)
	assert.Equal(t, 90408.56, v)
	money := b24.FieldInfo{Type: "money"}
	for in, want := range map[string]string{"600|usd": "600|USD", "600 USD": "600|USD", "$600": "600|USD", "1 200,50 ₽": "1200.5|RUB", "EUR 12": "12|EUR"} {
		v, err := co.coerceCell(&column{field: "ufCrm_2", kind: kindUser, info: &money}, in, nil)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, v, in)
		}
	}
	_, err = co.coerceCell(&column{field: "ufCrm_2", kind: kindUser, info: &money}, "600", nil)
	assert.ErrorContains(t, err, "has no currency")
	boolean := b24.FieldInfo{Type: "boolean"}
	v, err = co.coerceCell(&column{field: "ufCrm_3", kind: kindUser, info: &boolean}, "Да", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
}
