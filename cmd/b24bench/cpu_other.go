//go:build !unix

package main

import "time"

// processCPU is not available here; the overhead regime then reports wall
// time only.
func processCPU() (user, sys time.Duration, ok bool) { return 0, 0, false }
