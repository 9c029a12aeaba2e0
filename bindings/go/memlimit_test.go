// SPDX-License-Identifier: MIT

package memlimit

// Tests against the real library. `go test` in this directory re-executes the test
// binary with the repository's build/libmemlimit.so (or $MEMLIMIT_PRELOAD) in
// LD_PRELOAD when the library is not loaded yet; with -tags memlimit_link it is
// linked instead. Rounds are provoked by a soft limit of 1 byte and allocation.

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if !Available() && os.Getenv("MEMLIMIT_TEST_CHILD") == "" && os.Getenv("MEMLIMIT_TEST_REEXEC") == "" {
		lib, ok := os.LookupEnv("MEMLIMIT_PRELOAD")
		if !ok {
			lib, _ = filepath.Abs("../../build/libmemlimit.so")
		}
		if _, err := os.Stat(lib); err == nil {
			env := append(os.Environ(), "LD_PRELOAD="+lib, "MEMLIMIT_TEST_REEXEC=1")
			exe, _ := os.Executable()
			err = syscall.Exec(exe, os.Args, env)
			panic(err)
		}
	}
	os.Exit(m.Run())
}

var serial sync.Mutex

func need(t *testing.T) {
	t.Helper()
	if !Available() {
		t.Fatalf("libmemlimit is not loaded: run make at the top of the repository (TestMain preloads build/libmemlimit.so), or set MEMLIMIT_PRELOAD")
	}
	serial.Lock()
	t.Cleanup(serial.Unlock)
}

var sink []byte

// churnUntil allocates 1 MiB blocks through C (malloc takes the library's slow path;
// Go's own heap is mapped through cgo's mmap, too) until pred() or the timeout.
func churnUntil(timeout time.Duration, pred func() bool) bool {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if pred() {
			return true
		}
		cChurn()
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		sink = b
		time.Sleep(500 * time.Microsecond)
	}
	return pred()
}

// lowLimit sets a soft limit of 1 byte (every round asks for everything) until the
// test ends.
func lowLimit(t *testing.T) {
	prev, err := SetLimit(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		SetLimit(prev)
		churnUntil(5*time.Second, func() bool { return !Reached() })
	})
}

func TestStatsAndLimits(t *testing.T) {
	need(t)
	s, err := ReadStats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Samples == 0 || s.Usage <= 0 || s.PeakUsage < s.Usage {
		t.Fatalf("implausible stats %+v", s)
	}
	if s.Level != CurrentLevel() {
		t.Fatalf("level %v in stats, %v now", s.Level, CurrentLevel())
	}
	prev, _ := SetLimit(-1)
	if prev != s.SoftLimit {
		t.Fatalf("SetLimit(-1) = %d, stats say %d", prev, s.SoftLimit)
	}
	if old, _ := SetLimit(3 << 30); old != prev {
		t.Fatalf("SetLimit returned %d, want %d", old, prev)
	}
	if s2, _ := ReadStats(); s2.SoftLimit != 3<<30 {
		t.Fatalf("soft limit %d after SetLimit(3 GiB)", s2.SoftLimit)
	}
	if old, _ := SetLimit(prev); old != 3<<30 {
		t.Fatalf("SetLimit returned %d, want 3 GiB", old)
	}
	if s.Source == SourceNone && s.DetectedLimit != 0 {
		t.Fatalf("a detected limit without a source: %+v", s)
	}
}

func TestReachedFollowsTheLimit(t *testing.T) {
	need(t)
	func() {
		prev, _ := SetLimit(1)
		defer SetLimit(prev)
		if !churnUntil(10*time.Second, Reached) {
			t.Fatal("Reached() stayed false with a soft limit of 1 byte")
		}
		if CurrentLevel() < LevelSoft {
			t.Fatalf("level %v while reached", CurrentLevel())
		}
	}()
	if !churnUntil(5*time.Second, func() bool { return !Reached() }) {
		t.Fatal("Reached() stayed true after the limit was restored")
	}
}

func TestCallbackOnTheMemlimitThread(t *testing.T) {
	need(t)
	type call struct {
		tid   int
		level Level
		want  uint64
	}
	var mu sync.Mutex
	var seen []call
	before, _ := ReadStats()
	r, err := Register(0, func(level Level, want uint64) uint64 {
		mu.Lock()
		seen = append(seen, call{syscall.Gettid(), level, want})
		mu.Unlock()
		return 4096
	})
	if err != nil {
		t.Fatal(err)
	}
	lowLimit(t)
	n := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	if !churnUntil(10*time.Second, func() bool { return n() >= 2 }) {
		t.Fatal("the callback was not called")
	}
	if err := r.Unregister(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	c := seen[0]
	mu.Unlock()
	comm, _ := os.ReadFile("/proc/self/task/" + strconv.Itoa(c.tid) + "/comm")
	if strings.TrimSpace(string(comm)) != "memlimit" {
		t.Fatalf("the callback ran on thread %d named %q", c.tid, comm)
	}
	if c.level < LevelSoft || c.want == 0 {
		t.Fatalf("called with %v, want %d", c.level, c.want)
	}
	after, _ := ReadStats()
	if after.CallbackRounds <= before.CallbackRounds || after.CallbackBytes-before.CallbackBytes < 4096*uint64(n()) {
		t.Fatalf("stats did not count the calls: before %+v after %+v", before, after)
	}
	if r.Calls() < 2 {
		t.Fatalf("Calls() = %d", r.Calls())
	}
}

func TestPriorityOrder(t *testing.T) {
	need(t)
	var mu sync.Mutex
	var order []string
	add := func(s string) func(Level, uint64) uint64 {
		return func(Level, uint64) uint64 { mu.Lock(); order = append(order, s); mu.Unlock(); return 0 }
	}
	late, _ := Register(5, add("late"))
	early, _ := Register(-5, add("early"))
	defer late.Unregister()
	defer early.Unregister()
	lowLimit(t)
	if !churnUntil(10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) >= 2 }) {
		t.Fatal("callbacks not called")
	}
	mu.Lock()
	defer mu.Unlock()
	if order[0] != "early" || order[1] != "late" {
		t.Fatalf("order %v", order)
	}
}

// A priority outside C's int is an error: converted, 1<<31 would wrap to -1<<31 and
// run first instead of last.
func TestRegisterPriorityOutOfRange(t *testing.T) {
	need(t)
	if strconv.IntSize == 32 {
		t.Skip("every int fits a C int here")
	}
	big := int64(math.MaxInt32) + 1
	for _, p := range []int64{big, -big - 1, math.MaxInt64} {
		r, err := Register(int(p), func(Level, uint64) uint64 { return 0 })
		if err == nil {
			r.Unregister()
			t.Fatalf("Register(%d) registered a callback (with priority %d)", p, int32(p))
		}
		if r != nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("Register(%d) = %v, %v", p, r, err)
		}
	}
	for _, p := range []int{math.MaxInt32, math.MinInt32} {
		r, err := Register(p, func(Level, uint64) uint64 { return 0 })
		if err != nil {
			t.Fatalf("Register(%d): %v", p, err)
		}
		r.Unregister()
	}
}

// slowCallbackRunning registers a callback that takes 300 ms and returns once it is
// running; done tells when it has finished.
func slowCallbackRunning(t *testing.T) (*Registration, *atomic.Bool) {
	var started, done atomic.Bool
	r, _ := Register(0, func(Level, uint64) uint64 {
		started.Store(true)
		time.Sleep(300 * time.Millisecond)
		done.Store(true)
		return 0
	})
	lowLimit(t)
	if !churnUntil(10*time.Second, started.Load) {
		t.Fatal("not called")
	}
	return r, &done
}

func TestUnregisterWaitsForTheRunningCall(t *testing.T) {
	need(t)
	r, done := slowCallbackRunning(t)
	if err := r.Unregister(); err != nil {
		t.Fatal(err)
	}
	if !done.Load() {
		t.Fatal("Unregister returned while the callback ran")
	}
	calls := r.Calls()
	churnUntil(300*time.Millisecond, func() bool { return false })
	if r.Calls() != calls {
		t.Fatal("called after Unregister")
	}
	if err := r.Unregister(); err != nil {
		t.Fatal("a second Unregister:", err)
	}
}

func TestConcurrentUnregisterWaitsToo(t *testing.T) {
	need(t)
	r, done := slowCallbackRunning(t)
	var wg sync.WaitGroup
	var early atomic.Int32
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Unregister(); err != nil || !done.Load() {
				early.Add(1)
			}
		}()
	}
	wg.Wait()
	if early.Load() != 0 {
		t.Fatalf("%d of 3 concurrent Unregister calls returned while the callback ran", early.Load())
	}
}

func TestUnregisterInsideItsOwnCallback(t *testing.T) {
	need(t)
	var r *Registration
	var mu sync.Mutex
	mu.Lock()
	r, _ = Register(0, func(Level, uint64) uint64 {
		mu.Lock()
		defer mu.Unlock()
		if err := r.Unregister(); err != nil {
			panic(err)
		}
		return 0
	})
	mu.Unlock()
	lowLimit(t)
	if !churnUntil(10*time.Second, func() bool { return r.Calls() >= 1 }) {
		t.Fatal("not called")
	}
	churnUntil(300*time.Millisecond, func() bool { return false })
	if r.Calls() != 1 || r.Panics() != 0 {
		t.Fatalf("calls %d panics %d, want 1 and 0", r.Calls(), r.Panics())
	}
}

func TestPanicIsReportedOnceAndTheThreadSurvives(t *testing.T) {
	if os.Getenv("MEMLIMIT_TEST_CHILD") == "panic" {
		bad, _ := Register(0, func(Level, uint64) uint64 { panic("boom from the callback") })
		var good atomic.Uint64
		ok, _ := Register(1, func(Level, uint64) uint64 { good.Add(1); return 0 })
		SetLimit(1)
		done := churnUntil(10*time.Second, func() bool { return bad.Calls() >= 3 && good.Load() >= 3 })
		println("child:", done, bad.Calls(), bad.Panics(), good.Load(), ok.Calls())
		return
	}
	need(t)
	out, err := childRun(t, "TestPanicIsReportedOnceAndTheThreadSurvives", "panic", true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var done bool
	var calls, panics, good, okCalls uint64
	i := strings.Index(out, "child:")
	if i < 0 {
		t.Fatalf("no result from the child:\n%s", out)
	}
	line := out[i:]
	if _, err := fmt.Sscan(line[len("child:"):], &done, &calls, &panics, &good, &okCalls); err != nil || !done || calls != panics || good < 3 {
		t.Fatalf("child: %q (%v)", line, err)
	}
	if strings.Count(out, "panic in a reclaim callback") != 1 || strings.Count(out, "boom from the callback") != 1 {
		t.Fatalf("the panic was not reported exactly once:\n%s", out)
	}
	if !strings.Contains(out, "goroutine ") {
		t.Fatalf("no stack in the report:\n%s", out)
	}
}

func TestNotLoadedIsAClearError(t *testing.T) {
	if os.Getenv("MEMLIMIT_TEST_CHILD") == "absent" {
		if Available() {
			println("child: loaded")
			return
		}
		_, e1 := Register(0, func(Level, uint64) uint64 { return 0 })
		_, e2 := ReadStats()
		_, e3 := SetLimit(1)
		if e1 != ErrNotLoaded || e2 != ErrNotLoaded || e3 != ErrNotLoaded || Reached() || CurrentLevel() != LevelNone {
			println("child: wrong errors", e1, e2, e3)
			return
		}
		println("child: ok:", e1.Error())
		return
	}
	if linked {
		t.Skip("linked with -tags memlimit_link: always loaded")
	}
	out, err := childRun(t, "TestNotLoadedIsAClearError", "absent", false)
	if err != nil || !strings.Contains(out, "child: ok:") || !strings.Contains(out, "LD_PRELOAD=") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func childRun(t *testing.T, name, mode string, preload bool) (string, error) {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^"+name+"$", "-test.v")
	env := []string{"MEMLIMIT_TEST_CHILD=" + mode}
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "LD_PRELOAD=") && !preload {
			continue
		}
		env = append(env, e)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestFreeOSMemoryOnPressure(t *testing.T) {
	need(t)
	r, err := FreeOSMemoryOnPressure(0, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Unregister()
	var gcs runtime.MemStats
	runtime.ReadMemStats(&gcs)
	before := gcs.NumForcedGC
	lowLimit(t)
	if !churnUntil(10*time.Second, func() bool { runtime.ReadMemStats(&gcs); return gcs.NumForcedGC > before }) {
		t.Fatal("no forced collection at SOFT")
	}
}

func TestFastPath(t *testing.T) {
	need(t)
	t.Logf("fast path: %s", fastPath())
	if directLoad && levelWord == nil {
		t.Fatal("no direct load of memlimit_level's word on amd64 (bridge.c's pattern no longer matches the library)")
	}
	if got, want := CurrentLevel(), cLevel(); got != want {
		t.Fatalf("CurrentLevel %v, memlimit_level through cgo %v", got, want)
	}
	lowLimit(t)
	if !churnUntil(10*time.Second, Reached) {
		t.Fatal("Reached() stayed false with a soft limit of 1 byte")
	}
	if got, want := CurrentLevel(), cLevel(); got != want || got < LevelSoft {
		t.Fatalf("CurrentLevel %v, memlimit_level through cgo %v, at a soft limit of 1 byte", got, want)
	}
}
