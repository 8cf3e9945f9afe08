package b24_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bad-input matrix: every bad argument named in the issues, given to
// the public API against a live fake portal. Each must fail with a clear
// "b24: " error (matching ErrInvalidInput, or a per-item rejection with a
// client-side code) and the portal must not have seen a single request.

// quietPortal is a fake portal whose request count must stay at zero.
func quietPortal(t *testing.T) *b24test.Server {
	t.Helper()
	srv := fakePortal(t)
	// Cleanups run last first: this one sees the portal before it closes.
	t.Cleanup(func() { assert.Zero(t, srv.Stats().Requests, "bad input must not send anything") })
	return srv
}

// assertInvalid checks a clear invalid-input error.
func assertInvalid(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, b24.ErrInvalidInput)
	assert.True(t, strings.HasPrefix(err.Error(), "b24: "), "error %q lacks the b24: prefix", err)
	assert.Less(t, len(err.Error()), 400, "error text stays short: %q", err)
}

func TestBadInputCredentials(t *testing.T) {
	long := "https://example.com/rest/1/" + strings.Repeat("a", 1<<20) + "/x/y"
	for name, raw := range map[string]string{
		"empty": "", "blank": "  \t\n", "relative": "/rest/1/abc/", "no scheme": "example.com/rest/1/abc/",
		"ftp": "ftp://example.com/rest/1/abc/", "javascript": "javascript:alert(1)", "no rest path": "https://example.com/",
		"no secret": "https://example.com/rest/1/", "empty user": "https://example.com/rest//abc/",
		"user info": "https://u:p@example.com/rest/1/abc/", "space in secret": "https://example.com/rest/1/a%20b/",
		"non-UTF-8 secret": "https://example.com/rest/1/ab\xff/", "control char": "https://example.com/rest/1/ab\x00c/",
		"extra segments": "https://example.com/rest/1/abc/x/y", "bad host": "https://[::1/rest/1/abc/",
		"no host": "https:///rest/1/abc/", "oversized": long, "percent garbage": "https://example.com/rest/1/%zz/",
	} {
		t.Run("webhook "+name, func(t *testing.T) {
			w, err := b24.NewWebhook(raw)
			assert.Nil(t, w)
			assertInvalid(t, err)
		})
	}
	srv := quietPortal(t)
	good := srv.OAuthConfig()
	for name, mutate := range map[string]func(*b24.OAuthConfig){
		"empty endpoint":     func(c *b24.OAuthConfig) { c.Endpoint = "" },
		"relative endpoint":  func(c *b24.OAuthConfig) { c.Endpoint = "/rest/" },
		"ftp endpoint":       func(c *b24.OAuthConfig) { c.Endpoint = "ftp://example.com/rest/" },
		"user info endpoint": func(c *b24.OAuthConfig) { c.Endpoint = "https://u:p@example.com/rest/" },
		"bad token url":      func(c *b24.OAuthConfig) { c.TokenURL = "oauth.example.com/token" },
		"no client id":       func(c *b24.OAuthConfig) { c.ClientID = "" },
		"no client secret":   func(c *b24.OAuthConfig) { c.ClientSecret = "" },
		"no tokens":          func(c *b24.OAuthConfig) { c.Token = b24.Token{} },
	} {
		t.Run("oauth "+name, func(t *testing.T) {
			cfg := good
			mutate(&cfg)
			o, err := b24.NewOAuth(cfg)
			assert.Nil(t, o)
			assertInvalid(t, err)
			assert.NotContains(t, err.Error(), good.ClientSecret)
			assert.NotContains(t, err.Error(), good.Token.RefreshToken)
		})
	}
}

func TestBadInputClient(t *testing.T) {
	srv := quietPortal(t)
	hook, err := b24.NewWebhook(srv.WebhookURL())
	require.NoError(t, err)
	oa, err := b24.NewOAuth(srv.OAuthConfig())
	require.NoError(t, err)
	var nilHook *b24.Webhook
	var nilOAuth *b24.OAuth
	cases := map[string]struct {
		creds b24.Credentials
		opts  []b24.Option
	}{
		"nil credentials":              {nil, nil},
		"typed nil webhook":            {nilHook, nil},
		"typed nil oauth":              {nilOAuth, nil},
		"zero webhook":                 {&b24.Webhook{}, nil},
		"zero oauth":                   {&b24.OAuth{}, nil},
		"http webhook without opt-in":  {hook, nil},
		"http oauth without opt-in":    {oa, nil},
		"zero rate":                    {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(0, 10)}},
		"negative rate":                {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(-1, 10)}},
		"NaN rate":                     {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(math.NaN(), 10)}},
		"infinite rate":                {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(math.Inf(1), 10)}},
		"zero burst":                   {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(2, 0)}},
		"negative burst":               {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(2, -5)}},
		"zero operating budget":        {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithOperatingLimit(0, time.Minute)}},
		"negative operating window":    {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithOperatingLimit(time.Second, -time.Minute)}},
		"nil http client":              {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithHTTPClient(nil)}},
		"nil logger":                   {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithLogger(nil)}},
		"nil limiter":                  {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithLimiter(nil)}},
		"nil operating budget":         {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithOperatingBudget(nil)}},
		"negative retry attempts":      {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRetry(b24.RetryPolicy{MaxAttempts: -1})}},
		"negative attempt timeout":     {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRetry(b24.RetryPolicy{AttemptTimeout: -time.Second})}},
		"empty user agent":             {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithUserAgent("")}},
		"multi-line user agent":        {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithUserAgent("a\r\nX-Evil: 1")}},
		"tiny response cap":            {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithMaxResponseSize(0)}},
		"bad option after a good one":  {hook, []b24.Option{b24.WithAllowHTTP(), b24.WithRateLimit(5, 10), b24.WithRateLimit(5, 0)}},
		"bad option before the opt-in": {hook, []b24.Option{b24.WithRateLimit(0, 1), b24.WithAllowHTTP()}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var c *b24.Client
			var err error
			assert.NotPanics(t, func() { c, err = b24.NewClient(tc.creds, tc.opts...) })
			assert.Nil(t, c)
			assertInvalid(t, err)
			assert.NotContains(t, err.Error(), srv.WebhookURL())
		})
	}
}

func TestBadInputCall(t *testing.T) {
	srv := quietPortal(t)
	c := srv.Client()
	var out map[string]any
	var nilPtr *map[string]any
	cases := map[string]struct {
		method         string
		params, result any
	}{
		"empty method":           {"", nil, nil},
		"blank method":           {"  ", nil, nil},
		"method with query":      {"crm.item.list?auth=x", nil, nil},
		"method with path":       {"../../oauth/token", nil, nil},
		"method with newline":    {"crm.item.list\n", nil, nil},
		"non-ASCII method":       {"crm.itém.list", nil, nil},
		"non-UTF-8 method":       {"crm.item.\xff", nil, nil},
		"oversized method":       {strings.Repeat("a", 10000), nil, nil},
		"NaN param":              {"crm.item.list", map[string]any{"x": math.NaN()}, nil},
		"infinite param":         {"crm.item.list", map[string]float64{"x": math.Inf(-1)}, nil},
		"channel param":          {"crm.item.list", map[string]any{"x": make(chan int)}, nil},
		"func param":             {"crm.item.list", map[string]any{"x": func() {}}, nil},
		"complex param":          {"crm.item.list", map[string]any{"x": complex(1, 2)}, nil},
		"array params":           {"crm.item.list", []int{1, 2}, nil},
		"string params":          {"crm.item.list", "entityTypeId=2", nil},
		"number params":          {"crm.item.list", 42, nil},
		"invalid raw json":       {"crm.item.list", []byte(`{"x":`), nil},
		"raw json array":         {"crm.item.list", json.RawMessage(`[1]`), nil},
		"non-pointer result":     {"crm.item.add", map[string]any{"entityTypeId": 2, "fields": map[string]any{"title": "x"}}, out},
		"nil pointer result":     {"crm.item.add", map[string]any{"entityTypeId": 2, "fields": map[string]any{"title": "x"}}, nilPtr},
		"struct value as result": {"crm.item.add", map[string]any{"entityTypeId": 2}, struct{ ID int }{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			assert.NotPanics(t, func() { err = c.Call(t.Context(), tc.method, tc.params, tc.result) })
			assertInvalid(t, err)
		})
	}
	t.Run("nil context", func(t *testing.T) {
		var nilCtx context.Context
		var err error
		assert.NotPanics(t, func() { err = c.Call(nilCtx, "profile", nil, nil) })
		assertInvalid(t, err)
	})
}

func TestBadInputImportOptions(t *testing.T) {
	srv := quietPortal(t)
	c := srv.Client()
	items := []b24.Item{{Title: "a"}, {Title: "b"}}
	for name, tc := range map[string]struct {
		et   b24.EntityTypeID
		opts []b24.ImportOption
	}{
		"zero entity type":     {0, nil},
		"negative entity type": {-2, nil},
		"zero concurrency":     {b24.EntityDeal, []b24.ImportOption{b24.WithConcurrency(0)}},
		"huge concurrency":     {b24.EntityDeal, []b24.ImportOption{b24.WithConcurrency(1 << 20)}},
		"zero chunk size":      {b24.EntityDeal, []b24.ImportOption{b24.WithChunkSize(0)}},
		"chunk above 20":       {b24.EntityDeal, []b24.ImportOption{b24.WithChunkSize(21)}},
		"negative total":       {b24.EntityDeal, []b24.ImportOption{b24.WithTotal(-1)}},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := c.CRMItem.BatchImport(t.Context(), tc.et, items, tc.opts...)
			assertInvalid(t, err)
			require.NotNil(t, res)
			require.Len(t, res.Items, len(items))
			for i, r := range res.Items {
				assert.Equal(t, b24.ItemNotSent, r.Status, "row %d", i)
			}
			var ie *b24.ImportError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, len(items), ie.NotSent)
		})
	}
	t.Run("nil and empty inputs send nothing and succeed", func(t *testing.T) {
		for _, in := range [][]b24.Item{nil, {}} {
			res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, in)
			require.NoError(t, err)
			assert.Empty(t, res.Items)
		}
	})
}

// TestBadInputItems gives BatchImport rows the portal would drop or mangle
// silently: each is rejected locally with a client-side code and nothing
// is sent, not even for the good neighbours' sake (they are all bad here).
func TestBadInputItems(t *testing.T) {
	srv := quietPortal(t)
	c := srv.Client()
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	bad := map[string]b24.Item{
		"non-UTF-8 title":           {Title: "caf\xe9"},
		"non-UTF-8 in Fields":       {Title: "a", Fields: map[string]any{"ufCrm1Text": "\xff\xfe"}},
		"non-UTF-8 nested":          {Title: "a", Fields: map[string]any{"ufCrm1List": []any{"ok", "\xc3"}}},
		"NaN amount":                {Title: "a", Opportunity: math.NaN()},
		"infinite tax":              {Title: "a", TaxValue: math.Inf(1)},
		"NaN in Fields":             {Title: "a", Fields: map[string]any{"ufCrm1Num": math.NaN()}},
		"Inf deep in Fields":        {Title: "a", Fields: map[string]any{"ufCrm1Map": map[string]any{"x": []any{math.Inf(-1)}}}},
		"channel in Fields":         {Title: "a", Fields: map[string]any{"ufCrm1Chan": make(chan int)}},
		"func in Fields":            {Title: "a", Fields: map[string]any{"ufCrm1Func": func() {}}},
		"complex in Fields":         {Title: "a", Fields: map[string]any{"ufCrm1Cplx": complex(1, 1)}},
		"empty Fields key":          {Title: "a", Fields: map[string]any{"": "x"}},
		"Fields key with space":     {Title: "a", Fields: map[string]any{"uf crm": "x"}},
		"Fields key with bracket":   {Title: "a", Fields: map[string]any{"ufCrm1[0]": "x"}},
		"isReccurring typo":         {Title: "a", Fields: map[string]any{"isReccurring": "Y"}},
		"upper-case UF without opt": {Title: "a", Fields: map[string]any{"UF_CRM_1721244707107": "x"}},
		"typed field in Fields":     {Title: "a", Fields: map[string]any{"TITLE": "b"}},
		"multifield in Fields":      {Title: "a", Fields: map[string]any{"phone": []any{"1"}}},
		"parent link in Fields":     {Title: "a", Fields: map[string]any{"parentId1220": 5}},
		"bad Y/N flag":              {Title: "a", Opened: b24.YesNo("yes")},
		"negative id":               {Title: "a", AssignedByID: -7},
		"negative id in list":       {Title: "a", ContactIDs: []int64{1, -2}},
		"updatedTime alone":         {Title: "a", UpdatedTime: past},
		"createdTime in the future": {Title: "a", CreatedTime: time.Now().Add(48 * time.Hour)},
		"movedTime before creation": {Title: "a", CreatedTime: past, MovedTime: past.Add(-time.Hour)},
		"phone without value":       {Title: "a", Phones: []b24.Multifield{{ValueType: "WORK"}}},
	}
	names := make([]string, 0, len(bad))
	items := make([]b24.Item, 0, len(bad))
	for name, it := range bad {
		names = append(names, name)
		items = append(items, it)
	}
	res, err := c.CRMItem.BatchImport(t.Context(), b24.EntityDeal, items)
	var ie *b24.ImportError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, len(items), ie.Rejected)
	for i, r := range res.Items {
		var itemErr *b24.ItemError
		if !assert.Equal(t, b24.ItemRejected, r.Status, "%s", names[i]) || !assert.True(t, errors.As(r.Err, &itemErr), "%s", names[i]) {
			continue
		}
		assert.Equal(t, i, itemErr.Index, "%s", names[i])
		assert.True(t, strings.HasPrefix(itemErr.Code, "B24_"), "%s: client-side code, got %q", names[i], itemErr.Code)
		assert.True(t, strings.HasPrefix(r.Err.Error(), "b24: item "), "%s: %q", names[i], r.Err)
		assert.True(t, len(r.Err.Error()) < 400, "%s: short text", names[i])
		// Validate says the same without an import.
		assert.Error(t, items[i].Validate(b24.EntityDeal), "%s", names[i])
	}
}
