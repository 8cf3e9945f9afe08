package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecretsCLI runs the command with -v, a journal and a report, over a
// webhook with a canary secret and over OAuth (refreshing along the way,
// then with a dead refresh token), through faults, and scans stdout,
// stderr, the journal and the report for every secret. The token file is
// the one place the tokens belong.
func TestSecretsCLI(t *testing.T) {
	t.Parallel()
	const secret = "canaryCliWebhookSecret42"
	srv := fakePortal(t, b24test.WithWebhookSecret(secret))
	require.Contains(t, srv.WebhookURL(), secret)
	srv.InjectFault(b24test.Fault{Method: "crm.item.batchImport", Kind: b24test.FaultDropAfterExecute, Times: 1})
	srv.InjectFault(b24test.Fault{Method: "crm.item.batchImport", Kind: b24test.FaultRefuse, Code: "INTERNAL_SERVER_ERROR", Status: 500, Times: 1})
	dir := t.TempDir()
	var scanned []string
	files := func(paths ...string) {
		for _, p := range paths {
			b, err := os.ReadFile(p)
			require.NoError(t, err, p)
			require.NotEmpty(t, b, p)
			scanned = append(scanned, string(b))
		}
	}

	// Webhook, from the environment and (worse practice) from the flag.
	j1, r1 := filepath.Join(dir, "j1.jsonl"), filepath.Join(dir, "r1.csv")
	res := runCLI(t, srv.WebhookURL(), "-entity", "deal", "-allow-http", "-v", "-journal", j1, "-report", r1, writeDeals(t, 45, true, 5))
	assert.Equal(t, exitIncomplete, res.code, res.stderr)
	assert.Contains(t, res.stderr, "level=DEBUG")
	scanned = append(scanned, res.stdout, res.stderr)
	files(j1, r1)
	res = runCLI(t, "", "-entity", "deal", "-allow-http", "-v", "-webhook", srv.WebhookURL(), writeDeals(t, 3, false))
	scanned = append(scanned, res.stdout, res.stderr)
	// A webhook URL that does not parse, and one the portal refuses.
	res = runCLI(t, "https://portal.example.com/rest/1/"+secret+"/x/y", "-entity", "deal", writeDeals(t, 1, false))
	assert.Equal(t, exitFatal, res.code)
	scanned = append(scanned, res.stdout, res.stderr)
	res = runCLI(t, strings.Replace(srv.WebhookURL(), "/rest/1/", "/rest/2/", 1), "-entity", "deal", "-allow-http", "-v", writeDeals(t, 2, false))
	assert.Equal(t, exitFatal, res.code)
	scanned = append(scanned, res.stdout, res.stderr)

	// OAuth with a token file; the first call refreshes.
	oc := srv.OAuthConfig()
	tokenPath := filepath.Join(dir, "token.json")
	b, err := json.Marshal(tokenFile{AccessToken: oc.Token.AccessToken, RefreshToken: oc.Token.RefreshToken, Expiry: oc.Token.Expiry})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tokenPath, b, 0o600))
	oauthRun := func(journal, report string, rows int) cliResult {
		srv.ExpireTokens()
		cmd, stdout, stderr := command("", "-entity", "deal", "-allow-http", "-v", "-token-file", tokenPath,
			"-journal", journal, "-report", report, writeDeals(t, rows, true))
		cmd.Env = append(cmd.Env, "B24_OAUTH_ENDPOINT="+oc.Endpoint, "B24_CLIENT_ID="+oc.ClientID,
			"B24_CLIENT_SECRET="+oc.ClientSecret, "B24_TOKEN_URL="+oc.TokenURL)
		err := cmd.Run()
		code := 0
		if err != nil {
			code = cmd.ProcessState.ExitCode()
		}
		return cliResult{code, stdout.String(), stderr.String()}
	}
	j2, r2 := filepath.Join(dir, "j2.jsonl"), filepath.Join(dir, "r2.csv")
	res = oauthRun(j2, r2, 30)
	require.Equal(t, exitOK, res.code, res.stderr)
	scanned = append(scanned, res.stdout, res.stderr)
	files(j2, r2)
	tok1, err := readTokenFile(tokenPath)
	require.NoError(t, err)

	srv.RevokeRefreshTokens()
	j3, r3 := filepath.Join(dir, "j3.jsonl"), filepath.Join(dir, "r3.csv")
	res = oauthRun(j3, r3, 4)
	assert.Equal(t, exitFatal, res.code, res.stderr)
	assert.Contains(t, res.stdout+res.stderr, "invalid_grant")
	scanned = append(scanned, res.stdout, res.stderr)

	all := strings.Join(scanned, "\n----\n")
	for _, c := range []string{secret, oc.ClientSecret, oc.Token.AccessToken, oc.Token.RefreshToken, tok1.AccessToken, tok1.RefreshToken} {
		require.GreaterOrEqual(t, len(c), 16)
		if i := strings.Index(all, c); i >= 0 {
			t.Errorf("secret %.6s… leaked: …%s…", c, all[max(0, i-160):min(len(all), i+len(c)+20)])
		}
	}
	assert.Positive(t, srv.ItemCount(b24.EntityDeal))
}
