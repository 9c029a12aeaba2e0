// SPDX-License-Identifier: MIT

// A Go service's heap: LIVE MiB held in 1 MiB buffers that are replaced one at a
// time, while each request makes 64 KiB of garbage; TOTAL MiB allocated in all. The
// runtime's default (GOGC=100) lets the heap grow to twice the live data before it
// collects, so a container that holds the live data with room to spare, but not
// twice it, kills the program unless GOMEMLIMIT tells the runtime the limit.
// Prints the debug.SetMemoryLimit in force and a checksum.
//
// usage: heap [LIVE=96] [TOTAL=4096]
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
)

func arg(i, def int) int {
	if len(os.Args) > i {
		if v, err := strconv.Atoi(os.Args[i]); err == nil {
			return v
		}
	}
	return def
}

var sink []byte

func main() {
	live, total := arg(1, 96), arg(2, 4096)
	held := make([][]byte, live)
	sum := 0
	for i := 0; i < total*16; i++ {
		g := make([]byte, 64<<10) // garbage at once
		g[i%len(g)] = byte(i)
		sink = g
		if i%16 == 0 { // every MiB, a new live buffer replaces the oldest
			b := make([]byte, 1<<20)
			for k := 0; k < len(b); k += 4096 {
				b[k] = byte(i)
			}
			held[(i/16)%live] = b
			sum += int(b[0])
		}
	}
	fmt.Println(debug.SetMemoryLimit(-1), sum)
}
