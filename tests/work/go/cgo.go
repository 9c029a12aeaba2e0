// SPDX-License-Identifier: MIT

// A Go program with cgo: Go's heap comes from the Go runtime's own mmap system
// calls, which no library sees; its C side allocates through malloc.
package main

/*
#include <stdlib.h>
#include <string.h>
static void *keep[64];
static size_t churn(int rounds) {
	size_t t = 0;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 64; i++) { keep[i] = malloc(1 << 20); memset(keep[i], r + i, 1 << 20); }
		for (int i = 0; i < 64; i++) { t += ((unsigned char *)keep[i])[4096]; free(keep[i]); }
	}
	return t;
}
*/
import "C"
import "fmt"

func main() {
	s := make([][]byte, 0)
	for i := 0; i < 200; i++ {
		b := make([]byte, 1<<20)
		b[0] = byte(i)
		s = append(s, b)
	}
	t := 0
	for _, b := range s {
		t += int(b[0])
	}
	fmt.Println(t, C.churn(10))
}
