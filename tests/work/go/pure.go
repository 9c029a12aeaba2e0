// SPDX-License-Identifier: MIT

// A Go program without cgo: statically linked, no libc, nothing to preload into.
package main

import "fmt"

func main() {
	s := 0
	for i := 0; i < 100; i++ {
		b := make([]byte, 1<<20)
		b[5] = byte(i)
		s += int(b[5])
	}
	fmt.Println(s)
}
