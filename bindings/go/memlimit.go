// SPDX-License-Identifier: MIT

// Package memlimit binds libmemlimit, a soft memory limit for native programs (like
// GOMEMLIMIT for the C side of a process), with back-pressure and reclaim callbacks.
//
// The library must be in the process: run the program with
// LD_PRELOAD=/usr/local/lib/libmemlimit.so, or build with the memlimit_link tag to
// link it. Without it Reached is false, CurrentLevel is LevelNone, and the calls that
// need it return ErrNotLoaded.
//
//	if memlimit.Reached() { // back-pressure, like go-rtml's IsMemLimitReached
//		// defer the job
//	}
//	reg, err := memlimit.Register(0, func(level memlimit.Level, want uint64) uint64 {
//		freed := cache.Evict(want) // want is 0 at LevelModerate
//		debug.FreeOSMemory()       // Go's heap shrinks only after a collection
//		return freed
//	})
//	defer reg.Unregister()
//
// Callbacks run on the library's own thread (named "memlimit"), which the Go runtime
// attaches for the call; they may allocate, take your locks and unregister
// (themselves included), but must not wait for a goroutine that is inside
// Unregister of the same callback (Unregister waits for the call in progress). A
// panic in a callback is recovered: the first is printed with its stack, later ones
// are counted (Registration.Panics); the call counts as 0 bytes freed.
//
// The Go heap is only returned to the system after a collection: a callback that
// drops references should run debug.FreeOSMemory (or see FreeOSMemoryOnPressure),
// or usage will not fall.
package memlimit

// #cgo CFLAGS: -I${SRCDIR}/../../src
// #include "bridge.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/cgo"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Level says how close usage is to the limits (enum memlimit_level).
type Level int32

const (
	LevelNone     Level = 0 // below 90% of the soft limit
	LevelModerate Level = 1 // at 90% of the soft limit: the allocator is trimmed
	LevelSoft     Level = 2 // at the soft limit, until usage falls below 95% of it
	LevelCritical Level = 3 // at the hard limit or 97% of the cgroup limit
)

func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case LevelModerate:
		return "moderate"
	case LevelSoft:
		return "soft"
	case LevelCritical:
		return "critical"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// Source says where the detected limit came from (enum memlimit_source).
type Source int32

const (
	SourceNone     Source = 0 // no limit found: the library only watches
	SourceCgroupV1 Source = 1
	SourceCgroupV2 Source = 2
	SourceMemTotal Source = 3 // physical memory was the smallest
)

// Stats is struct memlimit_stats. Bytes; a limit of 0 means none.
type Stats struct {
	SoftLimit, HardLimit, DetectedLimit int64
	Source                              Source
	SourcePath                          string
	Usage, PeakUsage                    int64
	Level                               Level
	Samples, Trims, TrimmedBytes        uint64
	CallbackRounds, CallbackCalls       uint64
	CallbackBytes, FailedAllocs         uint64
}

// ErrNotLoaded is returned when libmemlimit is not in the process.
var ErrNotLoaded = errors.New("memlimit: libmemlimit is not loaded in this process; run the program " +
	"with it preloaded: LD_PRELOAD=/usr/local/lib/libmemlimit.so <program> (or memlimit-run -- <program>), " +
	"or build with -tags memlimit_link")

var (
	loaded    bool
	levelWord *int32 // what memlimit_level loads, when reading it is the same (fast_*.go)
	noLevel   int32  // levelWord without the library: LevelNone
)

func init() {
	loaded = C.ml_go_resolve() != 0
	levelWord = findLevelWord()
}

// Available reports whether libmemlimit is in the process.
func Available() bool { return loaded }

// Reached is true from the moment usage reaches the soft limit until it falls below
// 95% of it, like go-rtml's IsMemLimitReached: ask it before admitting work. False
// without the library.
//
// Below LevelSoft the answer is false without a cgo call (which costs ~40 ns): the
// library's level is read directly (fast_amd64.go), so the call costs about what it
// costs in C. From LevelSoft up it calls memlimit_reached through cgo, which
// re-samples usage so that the answer clears when memory is freed.
func Reached() bool {
	if w := levelWord; w != nil && atomic.LoadInt32(w) < int32(LevelSoft) {
		return false
	}
	return reachedSlow()
}

func reachedSlow() bool {
	if !loaded || (levelWord == nil && C.ml_go_level() < C.int(LevelSoft)) {
		return false
	}
	return bool(C.ml_go_reached())
}

// CurrentLevel is the current level; LevelNone without the library.
func CurrentLevel() Level {
	if w := levelWord; w != nil {
		return Level(atomic.LoadInt32(w))
	}
	if !loaded {
		return LevelNone
	}
	return Level(C.ml_go_level())
}

// SetLimit sets the soft limit in bytes, like debug.SetMemoryLimit: 0 turns it off,
// a negative value only queries. It returns the previous soft limit (0 if none).
// Every int64 is valid (the C API takes an int64_t); the only error is ErrNotLoaded.
func SetLimit(bytes int64) (int64, error) {
	if !loaded {
		return 0, ErrNotLoaded
	}
	return int64(C.ml_go_set_limit(C.int64_t(bytes))), nil
}

// ReadStats returns the library's limits, their source, usage, peak and counts.
func ReadStats() (Stats, error) {
	if !loaded {
		return Stats{}, ErrNotLoaded
	}
	var c C.struct_memlimit_stats
	if rc, err := C.ml_go_stats(&c); rc != 0 {
		return Stats{}, fmt.Errorf("memlimit_stats: %w", err)
	}
	return Stats{
		SoftLimit:      int64(c.soft_limit),
		HardLimit:      int64(c.hard_limit),
		DetectedLimit:  int64(c.detected_limit),
		Source:         Source(c.source),
		SourcePath:     C.GoString(&c.source_path[0]),
		Usage:          int64(c.usage),
		PeakUsage:      int64(c.peak_usage),
		Level:          Level(c.level),
		Samples:        uint64(c.samples),
		Trims:          uint64(c.trims),
		TrimmedBytes:   uint64(c.trimmed_bytes),
		CallbackRounds: uint64(c.callback_rounds),
		CallbackCalls:  uint64(c.callback_calls),
		CallbackBytes:  uint64(c.callback_bytes),
		FailedAllocs:   uint64(c.failed_allocs),
	}, nil
}

// A Registration is a registered callback.
type Registration struct {
	fn       func(Level, uint64) uint64
	mu       sync.Mutex    // guards handle
	handle   C.int         // > 0 until Unregister starts
	done     chan struct{} // closed once unregistered
	cgo      cgo.Handle
	runner   atomic.Int64 // the thread calling fn, while it runs
	calls    atomic.Uint64
	panics   atomic.Uint64
	reported atomic.Bool
}

// Register registers fn(level, want) -> bytes freed. At LevelModerate want is 0
// (drop what is cheap to rebuild); at LevelSoft and LevelCritical it is how many
// bytes usage is above the target (95% of the soft limit). Callbacks with a lower
// priority run first; priority is a C int, and one outside its range is an error
// (nothing is registered). The first registration starts the library's thread.
func Register(priority int, fn func(level Level, want uint64) (freed uint64)) (*Registration, error) {
	if !loaded {
		return nil, ErrNotLoaded
	}
	if fn == nil {
		return nil, errors.New("memlimit: Register with a nil callback")
	}
	// C.int(priority) would wrap: 1<<31 would become -1<<31, the first to run
	if int64(priority) < math.MinInt32 || int64(priority) > math.MaxInt32 {
		return nil, fmt.Errorf("memlimit: Register: priority %d out of range (a C int: %d to %d)",
			priority, math.MinInt32, math.MaxInt32)
	}
	r := &Registration{fn: fn, done: make(chan struct{})}
	r.cgo = cgo.NewHandle(r)
	h, err := C.ml_go_register(C.uintptr_t(r.cgo), C.int(priority))
	if h < 0 {
		r.cgo.Delete()
		return nil, fmt.Errorf("memlimit_register: %w", err)
	}
	r.handle = h
	return r, nil
}

// Unregister removes the callback: once it returns, the callback is not running and
// never runs again (called from inside the callback itself, that call finishes
// first). Calling it again, or from several goroutines, is safe: the others wait for
// the first.
func (r *Registration) Unregister() error {
	r.mu.Lock()
	h := r.handle
	r.handle = 0
	r.mu.Unlock()
	if h <= 0 {
		if int64(syscall.Gettid()) != r.runner.Load() { // not from inside the callback
			<-r.done
		}
		return nil
	}
	defer close(r.done)
	if rc, err := C.ml_go_unregister(h); rc != 0 {
		return fmt.Errorf("memlimit_unregister: %w", err)
	}
	r.cgo.Delete()
	return nil
}

// Calls is how many times the callback was called.
func (r *Registration) Calls() uint64 { return r.calls.Load() }

// Panics is how many of those calls panicked.
func (r *Registration) Panics() uint64 { return r.panics.Load() }

//export goMemlimitReclaim
func goMemlimitReclaim(level C.int, want C.size_t, h C.uintptr_t) (freed C.size_t) {
	r := cgo.Handle(h).Value().(*Registration)
	r.calls.Add(1)
	r.runner.Store(int64(syscall.Gettid())) // the goroutine stays on this thread
	defer func() {
		r.runner.Store(0)
		if p := recover(); p != nil {
			r.panics.Add(1)
			freed = 0
			if !r.reported.Swap(true) {
				fmt.Fprintf(os.Stderr, "memlimit: panic in a reclaim callback (it stays registered; "+
					"this is reported once, later panics are counted in Registration.Panics): %v\n%s",
					p, debug.Stack())
			}
		}
	}()
	f := r.fn(Level(level), uint64(want))
	if most := ^C.size_t(0); f > uint64(most) { // a 32-bit size_t: saturate, not wrap
		return most
	}
	return C.size_t(f)
}

// FreeOSMemoryOnPressure registers a callback that runs debug.FreeOSMemory (a
// collection, then the free heap returned to the system) at LevelSoft and above,
// at most once per minInterval: opt-in, for programs whose garbage would otherwise
// wait for the next collection (GOGC lets the heap grow to twice the live data).
// It returns what the process's resident anonymous memory fell by.
func FreeOSMemoryOnPressure(priority int, minInterval time.Duration) (*Registration, error) {
	var last time.Time
	return Register(priority, func(level Level, want uint64) uint64 {
		if level < LevelSoft || (!last.IsZero() && time.Since(last) < minInterval) {
			return 0
		}
		last = time.Now()
		before := anonResident()
		debug.FreeOSMemory()
		if after := anonResident(); after < before {
			return before - after
		}
		return 0
	})
}

// anonResident is resident minus shared memory from /proc/self/statm, in bytes.
func anonResident() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0
	}
	res, _ := strconv.ParseUint(f[1], 10, 64)
	shared, _ := strconv.ParseUint(f[2], 10, 64)
	if shared > res {
		return 0
	}
	return (res - shared) * uint64(os.Getpagesize())
}
