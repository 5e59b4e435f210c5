//go:build !unix

package main

import "time"

// cpuTime cannot read the process's CPU time here; the CPU column stays empty.
func cpuTime() (time.Duration, bool) { return 0, false }
