package b24redis_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWorkersExample builds and runs example/workers: three processes
// import 1200 deals into one fake portal through the shared Redis, and the
// access token expires halfway. The portal must hold every deal, refuse
// nothing, and see exactly one refresh.
func TestWorkersExample(t *testing.T) {
	needRedis(t)
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the example")
	}
	bin := filepath.Join(t.TempDir(), "workers")
	if out, err := exec.Command(gobin, "build", "-o", bin, "./example/workers").CombinedOutput(); err != nil {
		t.Fatalf("building the example: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-redis", sharedRedis).CombinedOutput()
	t.Logf("example output:\n%s", out)
	if err != nil {
		t.Fatalf("example failed: %v", err)
	}
	want := "portal: 1200 deals stored"
	got := string(out)
	for _, w := range []string{want, "0 requests refused by the rate limit, 0 by the operating limit, 1 token refreshes", "access token expired"} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
