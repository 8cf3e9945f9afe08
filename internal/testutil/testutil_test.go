package testutil

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestSyncBufferConcurrentWriters: writes from several goroutines while
// another reads all arrive whole (run with -race to check the locking).
func TestSyncBufferConcurrentWriters(t *testing.T) {
	var buf SyncBuffer
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				n, err := fmt.Fprintf(&buf, "w%d-%d\n", w, i)
				if err != nil || n == 0 {
					t.Errorf("write: %d, %v", n, err)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			_ = buf.String() // reading while writers run
		}
	}()
	wg.Wait()
	<-done
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	for w := range writers {
		for i := range lines {
			if l := fmt.Sprintf("w%d-%d", w, i); !seen[l] {
				t.Fatalf("line %q is missing or torn", l)
			}
		}
	}
}

func TestSyncBufferZeroValue(t *testing.T) {
	var buf SyncBuffer
	if buf.String() != "" {
		t.Fatalf("zero value holds %q", buf.String())
	}
	_, _ = buf.Write([]byte("a"))
	_, _ = buf.Write([]byte("b"))
	if got := buf.String(); got != "ab" {
		t.Fatalf("got %q, want %q", got, "ab")
	}
}
