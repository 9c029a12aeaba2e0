// SPDX-License-Identifier: MIT

// ns per memlimit.Reached() call (scripts/bench): N calls in a loop, best of 5.
// usage: LD_PRELOAD=.../libmemlimit.so bench_reached [calls=100000000]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"memlimit"
)

func main() {
	n := 100000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if !memlimit.Available() {
		fmt.Fprintln(os.Stderr, memlimit.ErrNotLoaded)
		os.Exit(1)
	}
	best, hits := 1e18, 0
	for r := 0; r < 5; r++ {
		t := time.Now()
		for i := 0; i < n; i++ {
			if memlimit.Reached() {
				hits++
			}
		}
		if ns := float64(time.Since(t).Nanoseconds()) / float64(n); ns < best {
			best = ns
		}
	}
	fmt.Printf("%.3f %d\n", best, hits)
}
