// SPDX-License-Identifier: MIT

// Back-pressure (tests/work/pool.c) in Go, as go-rtml's IsMemLimitReached is used: a
// pool of worker goroutines turns jobs into 1 MiB results that one slow writer ships
// and drops. The workers are faster than the writer, so the results waiting for it
// pile up. With --check each worker asks memlimit.Reached() before taking a job and,
// while it is true, puts the job back and retries a millisecond later; memory then
// stays near the soft limit and every job completes. Without it the backlog outgrows
// the container and the kernel kills the process part-way.
//
// As in the cache app, both runs give Go's collector memlimit's soft limit as its
// own (debug.SetMemoryLimit, unless GOMEMLIMIT is set). The results the writer
// dropped are garbage until a collection, and collections follow allocation: once
// every worker defers, nothing allocates, usage never falls and Reached() stays
// true. So --check also registers memlimit.FreeOSMemoryOnPressure, which collects
// (and returns the free heap) at the soft limit from memlimit's thread.
//
// usage: LD_PRELOAD=.../libmemlimit.so pool [--check] [jobs=600] [workers=4] [writer ms per result=2]
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"memlimit"
)

const resultBytes = 1 << 20

type result struct {
	job  int
	data []byte
}

var (
	mu                   sync.Mutex
	more                 = sync.NewCond(&mu)
	jobs                 []int // queue of job ids still to run
	out                  []*result
	backlogMax           int
	deferrals            int
	deferred             = map[int]bool{}
	firstDeferralBacklog = -1
	workersLeft          int
	check                bool
)

// takeJob returns the next job, or -1 when none is left. While memory is short the
// job goes back to the end of the queue and the worker waits before asking again.
func takeJob() int {
	for {
		mu.Lock()
		if len(jobs) == 0 {
			mu.Unlock()
			return -1
		}
		job := jobs[0]
		jobs = jobs[1:]
		if !(check && memlimit.Reached()) {
			mu.Unlock()
			return job
		}
		jobs = append(jobs, job) // deferred: retried after the others
		deferrals++
		deferred[job] = true
		if firstDeferralBacklog < 0 {
			firstDeferralBacklog = len(out)
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

func worker(wg *sync.WaitGroup) {
	defer wg.Done()
	for job := takeJob(); job >= 0; job = takeJob() {
		// the job's input, read whole, and its result
		in := make([]byte, resultBytes)
		for i := range in {
			in[i] = byte(i*31 + job)
		}
		r := &result{job: job, data: make([]byte, resultBytes)}
		for i := range r.data {
			r.data[i] = in[resultBytes-1-i] ^ 0x5a
		}
		mu.Lock()
		out = append(out, r)
		if len(out) > backlogMax {
			backlogMax = len(out)
		}
		more.Signal()
		mu.Unlock()
	}
	mu.Lock()
	workersLeft--
	more.Signal()
	mu.Unlock()
}

func arg(i, def int) int {
	if len(os.Args) > i {
		n, err := strconv.Atoi(os.Args[i])
		if err != nil {
			fmt.Fprintln(os.Stderr, "pool:", err)
			os.Exit(2)
		}
		return n
	}
	return def
}

func main() {
	a := 1
	if len(os.Args) > 1 && os.Args[1] == "--check" {
		check, a = true, 2
	}
	njobs, nworkers, writerMs := arg(a, 600), arg(a+1, 4), arg(a+2, 2)
	if check {
		reg, err := memlimit.FreeOSMemoryOnPressure(0, 20*time.Millisecond)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pool: --check:", err)
			os.Exit(2)
		}
		defer reg.Unregister()
	}
	if s, err := memlimit.ReadStats(); err == nil && s.SoftLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(s.SoftLimit)
	}
	for i := 0; i < njobs; i++ {
		jobs = append(jobs, i)
	}
	workersLeft = nworkers
	var wg sync.WaitGroup
	for i := 0; i < nworkers; i++ {
		wg.Add(1)
		go worker(&wg)
	}
	// the writer: ships one result every writerMs, in order of completion
	seen := make([]int, njobs)
	written, sum := 0, uint64(0)
	for {
		mu.Lock()
		for len(out) == 0 && workersLeft > 0 {
			more.Wait()
		}
		if len(out) == 0 {
			mu.Unlock()
			break
		}
		r := out[0]
		out[0] = nil
		out = out[1:]
		mu.Unlock()
		for i := 0; i < resultBytes; i += 4096 {
			sum += uint64(r.data[i])
		}
		seen[r.job]++
		time.Sleep(time.Duration(writerMs) * time.Millisecond)
		written++
		if written%10 == 0 {
			fmt.Printf("written %d results\n", written)
		}
	}
	wg.Wait()
	missing := 0
	for _, s := range seen {
		if s != 1 {
			missing++
		}
	}
	fmt.Printf("pool.go: %d of %d jobs done (%d missing or repeated), %d jobs deferred (%d deferrals), longest backlog %d MiB of results (first deferral at %d) (checksum %d)\n",
		written, njobs, missing, len(deferred), deferrals, backlogMax, firstDeferralBacklog, sum&0xff)
	if missing > 0 {
		os.Exit(1)
	}
}
