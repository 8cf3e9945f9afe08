package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The files of a run: the input, the journal and the report must be three
// different files, compared as files (a hard link or a symbolic link to
// the input is the input), because writing one would destroy another.

// namedPath is a file of the run and the name it is given in messages.
type namedPath struct{ name, path string }

// distinctFiles returns an error naming the first two of files that are
// one file; empty paths (and "-", standard input) are skipped.
func distinctFiles(files ...namedPath) error {
	for i, a := range files {
		if a.path == "" || a.path == "-" {
			continue
		}
		for _, b := range files[i+1:] {
			if b.path == "" || b.path == "-" {
				continue
			}
			if sameFile(a.path, b.path) {
				return fmt.Errorf("%s and %s are the same file (%s, %s; links count as the same file): writing one would destroy the other; choose another path", a.name, b.name, a.path, b.path)
			}
		}
	}
	return nil
}

// sameFile reports whether paths a and b name one file: the same inode
// when both exist, else the same location once symbolic links are
// followed (a link to a file not created yet).
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	return location(a) == location(b)
}

// location is where path leads: its symbolic links followed as far as
// they go (also to a file that does not exist yet), as an absolute path
// within a directory whose own links are resolved.
func location(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	for range 40 { // the kernel's own bound on a chain of links
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(dir, filepath.Base(p))
	}
	return p
}

// atomicFile is a file written under a temporary name in the directory
// of its path and renamed into place when done, so that a run that dies
// (or a path that turns out to be a link) never leaves a half-written file
// where the previous one was, and never writes through a link.
type atomicFile struct {
	*os.File
	path string
}

// createAtomic starts writing the file that will be at path.
func createAtomic(path string) (*atomicFile, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, path: path}, nil
}

// commit syncs, closes and renames the file into place.
func (a *atomicFile) commit() error {
	err := a.Sync()
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.Name(), a.path)
	}
	if err != nil {
		os.Remove(a.Name())
		return err
	}
	return nil
}

// errNotAJournal marks a file that a -journal path names but that is not
// a journal.
var errNotAJournal = errors.New("not a b24import journal")
