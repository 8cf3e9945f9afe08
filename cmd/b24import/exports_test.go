package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// Exports as other systems write them, generated here: each must import
// with flags and at most a mapping file, never an edit.

// exportPortal is a fake portal set up as a Russian one: its pipeline's
// stages, three people (two of them "Петров И."), a numeric user field
// and a list.
func exportPortal(t *testing.T) *b24test.Server {
	return fakePortal(t,
		b24test.WithCategories(b24.EntityDeal,
			b24test.Category{ID: 0, Name: "Общая", Default: true, Stages: []b24test.Status{
				{ID: "NEW", Name: "Новая"}, {ID: "PREPARATION", Name: "Подготовка документов"},
				{ID: "EXECUTING", Name: "В работе"}, {ID: "WON", Name: "Сделка успешна"}, {ID: "LOSE", Name: "Сделка провалена"}}},
			b24test.Category{ID: 7, Name: "Партнёры", Stages: []b24test.Status{
				{ID: "C7:NEW", Name: "Новая"}, {ID: "C7:WON", Name: "Closed Won"}}}),
		b24test.WithUsers(
			b24test.User{ID: 1, Name: "Иван", LastName: "Петров", Email: "ivan@example.ru", Active: true},
			b24test.User{ID: 2, Name: "Игорь", LastName: "Петров", Email: "igor@example.ru", Active: true},
			b24test.User{ID: 3, Name: "Анна", LastName: "Сидорова", Email: "anna@example.ru", Active: true},
			b24test.User{ID: 4, Name: "Sam", LastName: "Sales", Email: "sam@example.com", Active: true}),
		b24test.WithUserFields(b24.EntityDeal,
			b24test.UserField{Name: "ufCrm_1721244707107", Type: "double", Title: "Скидка, %"},
			b24test.UserField{Name: "ufCrm_5", Type: "enumeration", Title: "Канал", Items: []b24.EnumItem{{ID: 44, Value: "Сайт"}, {ID: 45, Value: "Звонок"}}},
			b24test.UserField{Name: "ufCrm_6", Type: "money", Title: "Бюджет клиента"}),
	)
}

// ruExcelExport is an Excel "CSV (semicolon)" file as a Russian Excel
// saves it: Windows-1251, a sep= line, a trailing ";" on every line,
// dates with a time.
const ruExcelExport = "sep=;\r\n" +
	"ID;Название сделки;Стадия сделки;Сумма;Валюта;Ответственный;Дата начала;Дата создания;Компания;Скидка, %;Канал;Бюджет клиента;\r\n" +
	"101;Поставка бумаги;Подготовка документов;1 154 556,00;RUB;Сидорова А.;05.12.2023 09:43;05.12.2023 09:43;ООО Ромашка;90408,56;Сайт;600 RUB;\r\n" +
	"102;Ремонт офиса;В работе;12 000,50;RUB;ivan@example.ru;06.12.2023 10:00;06.12.2023 10:00;ИП Иванов;;Звонок;;\r\n" +
	"103;Аудит;Сделка успешна;5 000,00;RUB;Петров И.;07.12.2023 11:15;07.12.2023 11:15;АО Вектор;1,5;Сайт;;\r\n" +
	"104;Консалтинг;Отложено;700,00;RUB;Сидорова А.;08.12.2023 12:00;08.12.2023 12:00;АО Вектор;;Почта;;\r\n" +
	"105;Поздняя;Новая;100,00;RUB;Сидорова А.;01.12.2023 08:00;01.12.2023 08:00;;;;;\r\n"

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func cp1251(t *testing.T, s string) []byte {
	b, err := charmap.Windows1251.NewEncoder().String(s)
	require.NoError(t, err)
	return []byte(b)
}

// reportRows reads a report whole.
func reportRows(t *testing.T, path string) map[string][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	out := map[string][]string{}
	for _, r := range recs[1:] {
		out[r[0]] = r
	}
	return out
}

func TestExportRussianExcel(t *testing.T) {
	t.Parallel()
	srv := exportPortal(t)
	input := writeFile(t, "excel-ru.csv", cp1251(t, ruExcelExport))
	_, report := runPaths(t)
	flags := []string{"-ignore-unknown", "-tz", "Europe/Moscow", "-map", "ID=-"}

	dry := runCLI(t, srv.WebhookURL(), dealArgs(input, append(flags, "-dry-run", "-report", report)...)...)
	assert.Equal(t, exitIncomplete, dry.code, dry.stderr)
	assert.Contains(t, dry.stderr, "read as Windows-1251 (detected); Excel's sep=; line skipped; date-times without a zone are read in Europe/Moscow")
	assert.Contains(t, dry.stdout, `stageId (column "Стадия сделки"): 1 row, e.g. line 6: "Отложено" is not a stage of pipeline "Общая"; accepted: "Новая" (NEW), "Подготовка документов" (PREPARATION)`)
	assert.Contains(t, dry.stdout, `assignedById (column "Ответственный"): 1 row, e.g. line 5: "Петров И." is ambiguous: 2 users fit (1 Иван Петров <ivan@example.ru>; 2 Игорь Петров <igor@example.ru>)`)
	assert.Contains(t, dry.stdout, `ufCrm_5 (column "Канал"): 1 row, e.g. line 6: "Почта" is not a choice of this list; accepted: "Сайт", "Звонок"`)
	assert.Contains(t, dry.stdout, `B24_HISTORY_ORDER: 1 row, e.g. line 7: createdTime 2023-12-01T08:00:00+03:00 is earlier than the previous item's 2023-12-06T10:00:00+03:00`)
	assert.Contains(t, dry.stdout, "dry run: 2 rows valid, 3 would be rejected")
	assert.Zero(t, writes(srv, "crm.item.list"), "the newest item is read; nothing is written")
	dryReport := reportRows(t, report)

	res := runCLI(t, srv.WebhookURL(), dealArgs(input, append(flags, "-report", report)...)...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 2, rejected 3")
	real := reportRows(t, report)
	require.Len(t, real, len(dryReport))
	for line, d := range dryReport {
		r := real[line]
		if d[1] == "valid" {
			assert.Equal(t, stImported, r[1], "line %s: valid in the dry run, imported in the real one", line)
		} else {
			assert.Equal(t, d[1:2], r[1:2], "line %s", line)
			assert.Equal(t, d[5:], r[5:], "line %s: the same code and reason", line)
		}
		assert.Equal(t, d[4], r[4], "line %s: the title column", line)
	}

	items := srv.Items(b24.EntityDeal)
	require.Len(t, items, 2)
	first := items[0].Fields
	assert.Equal(t, "Поставка бумаги", first["title"])
	assert.Equal(t, "PREPARATION", first["stageId"], "the stage by its Russian name")
	assert.EqualValues(t, 1154556, first["opportunity"])
	assert.EqualValues(t, 3, first["assignedById"], `"Сидорова А." is user 3`)
	assert.Equal(t, "2023-12-05", first["begindate"], "the date part of 05.12.2023 09:43")
	assert.Equal(t, 90408.56, first["ufCrm_1721244707107"], "a double user field with a comma decimal")
	assert.EqualValues(t, 44, first["ufCrm_5"], "the list by its label")
	assert.Equal(t, "600|RUB", first["ufCrm_6"])
	assert.NotContains(t, first, "companyTitle")
	created, _ := time.Parse(time.RFC3339, items[0].Fields["createdTime"].(string))
	assert.Equal(t, time.Date(2023, 12, 5, 6, 43, 0, 0, time.UTC), created.UTC(), "read in -tz Europe/Moscow")
	assert.EqualValues(t, 1, items[1].Fields["assignedById"], "by e-mail")
}

func TestExportHubSpotStyle(t *testing.T) {
	t.Parallel()
	srv := exportPortal(t)
	input := writeFile(t, "hubspot.csv", []byte("Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal owner,Pipeline\n"+
		"9001,Acme renewal,Closed Won,1200.50,2024-10-28 14:53,2024-10-01 09:00,Sam Sales,Партнёры\n"+
		"9002,Globex,New,99,10/29/2024,2024-10-02 09:00,sam@example.com,Партнёры\n"))
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-map", "Record ID=-", "-tz", "UTC")...)
	require.Equal(t, exitOK, res.code, res.stderr)
	items := srv.Items(b24.EntityDeal)
	require.Len(t, items, 2)
	assert.Equal(t, "C7:WON", items[0].Fields["stageId"], "a stage name within the row's pipeline, found by its name")
	assert.EqualValues(t, 7, items[0].Fields["categoryId"])
	assert.Equal(t, "2024-10-28", items[0].Fields["closedate"])
	assert.Equal(t, "2024-10-29", items[1].Fields["closedate"], "10/29/2024 can only be a US date")
	assert.EqualValues(t, 4, items[0].Fields["assignedById"])
	assert.Equal(t, "C7:NEW", items[1].Fields["stageId"])
}

func TestExportUpperSnakeDump(t *testing.T) {
	t.Parallel()
	srv := exportPortal(t)
	input := writeFile(t, "rest.csv", []byte("TITLE;OPPORTUNITY;CURRENCY_ID;STAGE_ID;ASSIGNED_BY_ID;CLOSEDATE;UF_CRM_1721244707107\n"+
		"Dump one;10,5;EUR;WON;3;2024-07-17T10:00:00+03:00;7,25\n"))
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-print-map")...)
	require.Equal(t, exitOK, res.code, res.stderr)
	for _, want := range []string{"TITLE                = title", "STAGE_ID             = stageId", "ASSIGNED_BY_ID       = assignedById", "# system name"} {
		assert.Contains(t, res.stdout, want)
	}
	res = runCLI(t, srv.WebhookURL(), dealArgs(input)...)
	require.Equal(t, exitOK, res.code, res.stderr)
	it := srv.Items(b24.EntityDeal)[0].Fields
	assert.Equal(t, "WON", it["stageId"])
	assert.Equal(t, 10.5, it["opportunity"])
	assert.Equal(t, "2024-07-17", it["closedate"])
}

func TestExportUTF16AndMappingFile(t *testing.T) {
	t.Parallel()
	srv := exportPortal(t)
	text := "Name\tSumme\tNotiz\tIntern\r\nMüller GmbH\t1.234,50\t\"Ärger, \"\"groß\"\"\"\tx\r\n"
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(text)
	require.NoError(t, err)
	input := writeFile(t, "unicode.txt", []byte(b))
	mapFile := writeFile(t, "map.txt", []byte("# German export\nName = title\nSumme = opportunity # the amount\n\"Notiz\" = comments\nIntern = -\n"))
	res := runCLI(t, srv.WebhookURL(), dealArgs(input, "-map", mapFile)...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stderr, "read as UTF-16LE (detected)")
	it := srv.Items(b24.EntityDeal)[0].Fields
	assert.Equal(t, "Müller GmbH", it["title"])
	assert.Equal(t, 1234.5, it["opportunity"])
	assert.Equal(t, `Ärger, "groß"`, it["comments"])
}

func TestExportEveryHeaderProblemInOneRun(t *testing.T) {
	t.Parallel()
	srv := exportPortal(t)
	input := writeFile(t, "bad.csv", []byte("Deal - Title,Deal - Value,Deal - Label,oportunity,Org name\nA,1,x,2,y\n"))
	res := runCLI(t, srv.WebhookURL(), dealArgs(input)...)
	assert.Equal(t, exitFatal, res.code)
	assert.Contains(t, res.stderr, "3 problems:")
	assert.Contains(t, res.stderr, `column 3 "Deal - Label" is not a field of deal`)
	assert.Contains(t, res.stderr, `column 4 "oportunity" is not a field of deal (did you mean "opportunity"?)`)
	assert.Contains(t, res.stderr, `column 5 "Org name" is not a field of deal`)
	assert.Contains(t, res.stderr, "-print-map")
	assert.Zero(t, writes(srv, "crm.item.list"))

	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-print-map")...)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "Deal - Title = title")
	assert.Contains(t, res.stdout, "Org name     = -")
	mapFile := writeFile(t, "map.txt", []byte(res.stdout+"oportunity = opportunity\n"))
	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-map", mapFile)...)
	assert.Equal(t, exitFatal, res.code, "the printed map carries the clash of two columns on opportunity")
	assert.Contains(t, res.stderr, "is already mapped to - (skipped)")
}

func TestOfflineLookupsNeedThePortal(t *testing.T) {
	t.Parallel()
	input := writeFile(t, "d.csv", []byte("title;stageId;assignedById\nA;Подготовка документов;7\nB;Closed Won;Петров И.\n"))
	res := runCLI(t, "", dealArgs(input, "-dry-run")...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, `"Closed Won" is not a stage id, and stage names other than a new portal's defaults are looked up in the portal`)
	assert.Contains(t, res.stdout, `"Петров И." is not a user id`)
	assert.Contains(t, res.stdout, "dry run: 1 rows valid, 1 would be rejected")
	assert.True(t, strings.Contains(res.stdout, "checked offline"), res.stdout)
}

func TestExportJSONLinesReadLikeCSV(t *testing.T) {
	t.Parallel()
	srv := exportPortal(t)
	input := writeFile(t, "deals.jsonl", []byte(
		`{"title":"J1","opportunity":"12 345,67","closedate":"15.06.2024","stageId":"Подготовка документов","assignedById":"Сидорова А.","ufCrm_5":"Звонок"}`+"\n"+
			`{"title":"J2","opportunity":"lots","assignedById":"Петров И."}`+"\n"))
	res := runCLI(t, srv.WebhookURL(), dealArgs(input)...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stderr, `item field "assignedById": "Петров И." is ambiguous`)
	assert.Contains(t, res.stderr, `item field "opportunity": "lots" is not a number`, "every problem of the row, in the CSV's words")
	items := srv.Items(b24.EntityDeal)
	require.Len(t, items, 1)
	it := items[0].Fields
	assert.Equal(t, 12345.67, it["opportunity"])
	assert.Equal(t, "2024-06-15", it["closedate"])
	assert.Equal(t, "PREPARATION", it["stageId"])
	assert.EqualValues(t, 3, it["assignedById"])
	assert.EqualValues(t, 45, it["ufCrm_5"])
}

func TestExportValueFilesOffline(t *testing.T) {
	t.Parallel()
	srv := fakePortal(t)
	input := writeFile(t, "pd.csv", []byte("Deal - Title,Deal - Stage,Deal - Owner,Deal - Value\nA,Qualified,Sam Sales,10\nB,Negotiations Started,Kim Lee,20\nC,Lost in space,Sam Sales,30\n"))
	stages := writeFile(t, "stages.txt", []byte("# Pipedrive stage = Bitrix24 stage id\nQualified = PREPARATION\nNegotiations Started = EXECUTING\n"))
	owners := writeFile(t, "owners.txt", []byte("Sam Sales = 1\nKim Lee = 1\n"))
	args := dealArgs(input, "-values", "stageId="+stages, "-values", "assignedById="+owners, "-report", filepath.Join(t.TempDir(), "r.csv"))
	// Offline, the dry run checks what it can: the files map every value.
	dry := runCLI(t, "", append([]string{"-dry-run"}, args...)...)
	assert.Equal(t, exitIncomplete, dry.code, dry.stderr)
	assert.Contains(t, dry.stdout, `stageId (column "Deal - Stage"): 1 row, e.g. line 4: "Lost in space" is not a stage id`)
	res := runCLI(t, srv.WebhookURL(), args...)
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stdout, "imported 2, rejected 1")
	items := srv.Items(b24.EntityDeal)
	require.Len(t, items, 2)
	assert.Equal(t, "PREPARATION", items[0].Fields["stageId"])
	assert.Equal(t, "EXECUTING", items[1].Fields["stageId"])
	assert.EqualValues(t, 1, items[1].Fields["assignedById"])

	bad := writeFile(t, "bad.txt", []byte("Qualified = PREPARATION\nQualified = WON\n"))
	res = runCLI(t, srv.WebhookURL(), dealArgs(input, "-values", "stageId="+bad)...)
	assert.Equal(t, exitFatal, res.code)
	assert.Contains(t, res.stderr, bad+`:2: label "Qualified" is already mapped at line 1`)
}
