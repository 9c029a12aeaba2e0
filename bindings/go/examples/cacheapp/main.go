// SPDX-License-Identifier: MIT

// The cache app (tests/work/cacheapp.c) in Go: an import fills an in-memory index
// (an LRU of records) while each record also makes short-lived garbage. The index
// alone outgrows a 256 MiB container. With --callback it registers an eviction
// callback (evict, then debug.FreeOSMemory: Go's heap shrinks only after a
// collection) and completes the import; without, the kernel kills it part-way.
//
// The garbage is Go's to collect: it is made at GB/s and only a collection frees
// it, by default when the heap has doubled. So both runs give the collector
// memlimit's soft limit as its own (debug.SetMemoryLimit, unless GOMEMLIMIT is set):
// the collector keeps the garbage under it, the callback the live index.
//
// usage: LD_PRELOAD=.../libmemlimit.so cacheapp [--callback] [records=200000] [record bytes=2048]
package main

import (
	"bytes"
	"container/list"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"

	"memlimit"
)

type record struct {
	key  uint64
	data []byte
}

const overhead = 64 // per record: the list element and the record header (about)

var (
	mu          sync.Mutex
	lru         = list.New() // most recently used at the front
	cachedBytes uint64
	evicted     int
	rounds      int
)

// evict drops a sixteenth of the index at LevelModerate; above, what memlimit asks
// for and a quarter more. Runs on memlimit's thread: takes our lock, drops records,
// has the collector return their memory, returns the bytes it believes it freed.
func evict(level memlimit.Level, want uint64) uint64 {
	mu.Lock()
	goal := want + want/4
	if level == memlimit.LevelModerate {
		goal = cachedBytes / 16
	}
	var freed uint64
	for freed < goal {
		e := lru.Back()
		if e == nil {
			break
		}
		r := lru.Remove(e).(*record)
		n := uint64(len(r.data)) + overhead
		cachedBytes -= n
		freed += n
		evicted++
	}
	rounds++
	mu.Unlock()
	if freed > 0 {
		debug.FreeOSMemory()
	}
	return freed
}

func arg(i int, def int) int {
	if len(os.Args) > i {
		n, err := strconv.Atoi(os.Args[i])
		if err != nil {
			fmt.Fprintln(os.Stderr, "cacheapp:", err)
			os.Exit(2)
		}
		return n
	}
	return def
}

func main() {
	useCallback := len(os.Args) > 1 && os.Args[1] == "--callback"
	a := 1
	if useCallback {
		a = 2
	}
	records := arg(a, 200000)
	recSize := arg(a+1, 2048)
	if s, err := memlimit.ReadStats(); err == nil && s.SoftLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(s.SoftLimit)
	}
	if useCallback {
		reg, err := memlimit.Register(0, evict)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cacheapp: --callback:", err)
			os.Exit(2)
		}
		defer reg.Unregister()
	}
	seed, sum := uint64(42), uint64(0)
	for i := 0; i < records; i++ {
		// garbage: a parse buffer of 4 KiB to 256 KiB, used and dropped
		seed = seed*6364136223846793005 + 1442695040888963407
		g := 4096 + int((seed>>33)%(252<<10))
		buf := bytes.Repeat([]byte{byte(i)}, g)
		sum += uint64(buf[g/2])
		// the record that goes into the index
		r := &record{key: uint64(i), data: bytes.Repeat([]byte{byte(i * 7)}, recSize)}
		mu.Lock()
		lru.PushFront(r)
		cachedBytes += uint64(recSize) + overhead
		mu.Unlock()
		if (i+1)%20000 == 0 {
			fmt.Printf("imported %d records\n", i+1)
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	mu.Lock()
	fmt.Printf("cacheapp.go: imported %d of %d records; the index holds %d (%.1f MiB); evicted %d in %d callback rounds; max RSS %.1f MiB (checksum %d)\n",
		records, records, lru.Len(), float64(cachedBytes)/1048576, evicted, rounds, float64(ru.Maxrss)/1024, sum&0xff)
	mu.Unlock()
}
