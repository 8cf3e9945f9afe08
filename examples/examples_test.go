// Package examples_test builds and runs every example program, so that the
// examples, which are documentation, keep compiling and keep working.
package examples_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestExamples(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./...")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/...: %v\n%s", err, out)
	}
	cases := []struct {
		name string
		want []string
	}{
		{"webhook", []string{"row 0: imported as lead", "row 2: rejected: CRM_FIELD_ERROR_REQUIRED", "row 3: rejected: B24_FIELD_TYPO", "summary: 2 imported, 2 rejected"}},
		{"oauth", []string{"imported 2 deals; token refreshed and saved 1 time(s); saved pair is current: true"}},
		{"streaming", []string{"5000/5000 done", "imported 5000 of 5000 companies (0 other); the portal holds 5000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(filepath.Join(bin, tc.name)).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.name, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
				}
			}
		})
	}
}
