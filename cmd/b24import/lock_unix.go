//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockJournal takes an exclusive lock on the journal file (creating it
// empty if needed), so that two runs never append to one journal. The
// kernel drops the lock when the process ends, however it ends.
func lockJournal(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("journal %s is in use by another b24import run", path)
		}
		return nil, fmt.Errorf("journal %s: lock: %w", path, err)
	}
	return func() { f.Close() }, nil
}
