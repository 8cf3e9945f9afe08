package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/b24kit/b24"
)

// tokenFile is the JSON kept in -token-file.
type tokenFile struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// newOAuth builds the OAuth credential; every rotated pair is written back
// to the token file before it is used, since the old refresh token dies.
func newOAuth(cfg *config) (*b24.OAuth, error) {
	if cfg.clientID == "" || cfg.clientSecret == "" {
		return nil, errors.New("OAuth needs B24_CLIENT_ID (or -client-id) and B24_CLIENT_SECRET")
	}
	if cfg.tokenFile == "" {
		return nil, errors.New("OAuth needs -token-file (or B24_TOKEN_FILE): the tokens are read from it and rotated ones written back")
	}
	tok, err := readTokenFile(cfg.tokenFile)
	if err != nil {
		return nil, err
	}
	path := cfg.tokenFile
	oa, err := b24.NewOAuth(b24.OAuthConfig{
		Endpoint:     cfg.oauthEndpoint,
		ClientID:     cfg.clientID,
		ClientSecret: cfg.clientSecret,
		TokenURL:     cfg.tokenURL,
		Token:        tok,
		OnRefresh: func(_ context.Context, t b24.Token) error {
			return writeTokenFile(path, t)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("OAuth: %s", trimB24(err.Error()))
	}
	return oa, nil
}

func readTokenFile(path string) (b24.Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return b24.Token{}, fmt.Errorf("token file: %w", err)
	}
	var tf tokenFile
	if err := json.Unmarshal(b, &tf); err != nil {
		return b24.Token{}, fmt.Errorf("token file %s: not the JSON {access_token, refresh_token, expiry}", path)
	}
	if tf.AccessToken == "" && tf.RefreshToken == "" {
		return b24.Token{}, fmt.Errorf("token file %s: no access_token or refresh_token", path)
	}
	return b24.Token{AccessToken: tf.AccessToken, RefreshToken: tf.RefreshToken, Expiry: tf.Expiry}, nil
}

// writeTokenFile replaces the token file atomically (temp file, sync,
// rename) with permissions 0600, so a crash never leaves half a token.
func writeTokenFile(path string, t b24.Token) error {
	b, err := json.MarshalIndent(tokenFile{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".b24import-token-*")
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("token file: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	return nil
}

func trimB24(s string) string {
	for _, p := range []string{"b24: invalid input: ", "b24: "} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}
