package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"b24import", "-entity", "deal", "-webhook", "https://x/rest/1/secret/", "-client-secret=s3", "my file.csv"})
	assert.Equal(t, `b24import -entity deal -webhook '<hidden>' -client-secret='<hidden>' 'my file.csv'`, got)
	assert.NotContains(t, got, "secret/")
}
