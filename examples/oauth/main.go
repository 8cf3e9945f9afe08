// Command oauth imports deals with an OAuth application's tokens and
// persists every rotated token pair, as Bitrix24 requires: each refresh
// returns a new refresh token and kills the old one. It runs against an
// in-process fake portal (b24test), which is its own authorization server.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
)

func main() {
	srv := b24test.NewServer()
	defer srv.Close()

	dir, err := os.MkdirTemp("", "b24-oauth-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tokenPath := filepath.Join(dir, "token.json")

	cfg := srv.OAuthConfig() // endpoint, client id/secret and a fresh pair
	var saves atomic.Int32
	cfg.OnRefresh = func(ctx context.Context, t b24.Token) error {
		saves.Add(1)
		return saveToken(tokenPath, t) // fail here and the call fails too: nothing is lost
	}
	oa, err := b24.NewOAuth(cfg)
	if err != nil {
		log.Fatal(err)
	}
	client, err := b24.NewClient(oa, srv.ClientOptions()...)
	if err != nil {
		log.Fatal(err)
	}

	srv.ExpireTokens() // as if an hour had passed: the first call must refresh

	deals := []b24.Item{
		{Title: "Wartungsvertrag 2025", Opportunity: 12500, CurrencyID: "EUR", OriginatorID: "erp", OriginID: "A-1"},
		{Title: "Поставка серверов", Opportunity: 990000, CurrencyID: "RUB", OriginatorID: "erp", OriginID: "A-2"},
	}
	res, err := client.CRMItem.BatchImport(context.Background(), b24.EntityDeal, deals)
	if err != nil {
		log.Fatal(err)
	}
	saved, err := loadToken(tokenPath)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("imported %d deals; token refreshed and saved %d time(s); saved pair is current: %v\n",
		len(res.Items), saves.Load(), saved.RefreshToken == oa.Token().RefreshToken)
}

type tokenJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Expiry       string `json:"expiry"`
}

// saveToken writes the pair with owner-only permissions, atomically.
func saveToken(path string, t b24.Token) error {
	b, err := json.Marshal(tokenJSON{t.AccessToken, t.RefreshToken, t.Expiry.Format("2006-01-02T15:04:05Z07:00")})
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func loadToken(path string) (tokenJSON, error) {
	var t tokenJSON
	b, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	return t, json.Unmarshal(b, &t)
}
