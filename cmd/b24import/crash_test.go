package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/b24kit/b24"
	"github.com/b24kit/b24/b24test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Crash safety beyond the single kill of the e2e tests: for several seeds,
// a run is killed with SIGKILL at random moments (some before the first
// answer, some mid-import, several times in a row), sometimes leaving a
// torn last journal line behind, against a portal that also drops answers
// after executing. The final resumed run must end with every row in the
// portal exactly once and the journal and report accounting for all.

// tornLines are prefixes of journal lines a process could die writing.
var tornLines = []string{`{"line":7,"status":"impo`, `{"send":[2,3,4,`, `{"line":12,"status":"imported","id":`, `{`}

// tearJournal appends a torn line (no newline) to the journal.
func tearJournal(t *testing.T, path string, torn string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if os.IsNotExist(err) {
		return // killed before the journal existed
	}
	require.NoError(t, err)
	_, err = f.WriteString(torn)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestCrashKill9AtRandomPointsWithKeys(t *testing.T) {
	t.Parallel()
	seeds := []uint64{1, 2, 3, 4}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 0xb24))
			srv := fakePortal(t, b24test.WithSeed(int64(seed)),
				b24test.WithLatency(80*time.Millisecond, 4*time.Millisecond, 40*time.Millisecond))
			srv.InjectFault(b24test.Fault{Method: "crm.item.batchImport", Kind: b24test.FaultDropAfterExecute, Probability: 0.05})
			srv.InjectFault(b24test.Fault{Method: "crm.item.batchImport", Kind: b24test.FaultPartialSave, Keep: 5, Probability: 0.05})
			const rows = 600
			input := writeDeals(t, rows, true)
			journal, report := runPaths(t)
			args := dealArgs(input, "-concurrency", "2", "-packing", "1", "-journal", journal, "-report", report)

			kills := 0
			for range 2 + rng.IntN(3) {
				d := time.Duration(30+rng.IntN(700)) * time.Millisecond
				if !killAt(t, srv.WebhookURL(), d, args...) {
					break
				}
				kills++
				if rng.IntN(2) == 0 {
					tearJournal(t, journal, tornLines[rng.IntN(len(tornLines))])
				}
				// Calls the dead process left in flight finish on the
				// portal before the next run looks them up.
				time.Sleep(300 * time.Millisecond)
			}
			t.Logf("seed %d: %d kills, %d rows stored before the final run", seed, kills, srv.ItemCount(b24.EntityDeal))

			res := runCLI(t, srv.WebhookURL(), args...)
			require.Equal(t, exitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			assert.Contains(t, res.stdout, fmt.Sprintf("imported %d, rejected 0, unknown 0", rows))
			got := titles(srv)
			assert.Len(t, got, rows, "every row exists")
			for title, n := range got {
				assert.Equal(t, 1, n, "%s exists exactly once", title)
			}
			rep := readReport(t, report)
			require.Len(t, rep, rows, "the report accounts for every row")
			ids := map[string]bool{}
			for line, r := range rep {
				assert.Equal(t, stImported, r[1], "line %s", line)
				assert.False(t, ids[r[2]], "id %s reported twice", r[2])
				ids[r[2]] = true
			}
			stored := map[string]bool{}
			for _, it := range srv.Items(b24.EntityDeal) {
				stored[fmt.Sprint(it.ID)] = true
			}
			assert.Equal(t, stored, ids, "the report's ids are the stored items")
		})
	}
}

func TestCrashKill9WithoutKeysNeverDuplicates(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{5, 6} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 0xb24))
			srv := fakePortal(t, b24test.WithSeed(int64(seed)),
				b24test.WithLatency(60*time.Millisecond, 3*time.Millisecond, 40*time.Millisecond))
			const rows = 300
			input := writeDeals(t, rows, false)
			journal, report := runPaths(t)
			args := dealArgs(input, "-concurrency", "4", "-packing", "1", "-journal", journal, "-report", report)
			for range 2 {
				if !killAt(t, srv.WebhookURL(), time.Duration(100+rng.IntN(700))*time.Millisecond, args...) {
					break
				}
				tearJournal(t, journal, tornLines[rng.IntN(len(tornLines))])
				time.Sleep(300 * time.Millisecond)
			}
			res := runCLI(t, srv.WebhookURL(), args...)
			require.Contains(t, []int{exitOK, exitIncomplete}, res.code, res.stderr)
			for title, n := range titles(srv) {
				assert.Equal(t, 1, n, "%s is not duplicated", title)
			}
			rep := readReport(t, report)
			require.Len(t, rep, rows, "every row is accounted for")
			imported := 0
			for line, r := range rep {
				switch r[1] {
				case stImported:
					imported++
				case stUnknown:
					assert.Equal(t, codeInFlight, r[3], "line %s", line)
				default:
					t.Errorf("line %s ended %s", line, r[1])
				}
			}
			assert.GreaterOrEqual(t, srv.ItemCount(b24.EntityDeal), imported)
		})
	}
}
