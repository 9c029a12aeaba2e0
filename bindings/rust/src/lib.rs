// SPDX-License-Identifier: MIT
//! Safe bindings for libmemlimit, a soft memory limit for native programs (like Go's
//! GOMEMLIMIT), with back-pressure and reclaim callbacks.
//!
//! By default the crate links nothing: it finds the library's functions at run time
//! in the process, where `LD_PRELOAD=/usr/local/lib/libmemlimit.so` put them. Without
//! the library, [`reached`] is `false`, [`level`] is [`Level::None`], and the calls
//! that need it return [`Error::NotLoaded`]. With the `link` feature the crate links
//! `-lmemlimit` instead.
//!
//! ```no_run
//! // back-pressure, like go-rtml's IsMemLimitReached()
//! if memlimit::reached() {
//!     // defer the job
//! }
//! // a cache that gives memory back; unregistered when `guard` is dropped
//! let guard = memlimit::register(0, |level, want| {
//!     // drop entries; at Level::Moderate `want` is 0 (drop what is cheap)
//!     let freed = 0;
//!     freed
//! })?;
//! # Ok::<(), memlimit::Error>(())
//! ```
//!
//! Callbacks run on the library's own thread (named `memlimit`), never inside an
//! allocation: they may allocate, take your locks and drop registrations (their own
//! included). They must not wait for a thread that is dropping their own
//! [`Registration`] (the drop waits for the call in progress). A callback that panics
//! is not called again (it is poisoned, like a `Mutex`): the panic is reported once,
//! by the panic hook, and does not cross into C.

use std::cell::{Cell, UnsafeCell};
use std::ffi::CStr;
use std::fmt;
use std::io;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How close usage is to the limits (`enum memlimit_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    /// Usage below 90% of the soft limit.
    None = 0,
    /// At 90% of the soft limit: the allocator is trimmed.
    Moderate = 1,
    /// At the soft limit, until usage falls below 95% of it.
    Soft = 2,
    /// At the hard limit or 97% of the cgroup limit.
    Critical = 3,
}

impl Level {
    fn from_raw(v: c_int) -> Level {
        match v {
            0 => Level::None,
            1 => Level::Moderate,
            2 => Level::Soft,
            _ => Level::Critical,
        }
    }
}

/// Where the detected limit came from (`enum memlimit_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// No limit found: the library only watches.
    None,
    /// `memory.limit_in_bytes` or `hierarchical_memory_limit`.
    CgroupV1,
    /// `memory.max` or `memory.high`.
    CgroupV2,
    /// Physical memory was the smallest.
    MemTotal,
}

/// A snapshot of `struct memlimit_stats`. Bytes; a limit of 0 means none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    pub soft_limit: u64,
    pub hard_limit: u64,
    pub detected_limit: u64,
    pub source: Source,
    pub source_path: String,
    pub usage: u64,
    pub peak_usage: u64,
    pub level: Level,
    pub samples: u64,
    pub trims: u64,
    pub trimmed_bytes: u64,
    pub callback_rounds: u64,
    pub callback_calls: u64,
    pub callback_bytes: u64,
    pub failed_allocs: u64,
}

/// Why a call failed.
#[derive(Debug)]
pub enum Error {
    /// libmemlimit is not in this process.
    NotLoaded,
    /// The library refused (`errno`): e.g. 128 callbacks are already registered.
    Os(io::Error),
    /// [`set_limit`] was given more than `i64::MAX` bytes: the C API takes an
    /// `int64_t`, and nothing was changed.
    LimitOutOfRange(u64),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoaded => write!(
                f,
                "libmemlimit is not loaded in this process; run the program with it preloaded: \
                 LD_PRELOAD=/usr/local/lib/libmemlimit.so <program> (or memlimit-run -- <program>), \
                 or build with the `link` feature"
            ),
            Error::Os(e) => write!(f, "libmemlimit: {}", e),
            Error::LimitOutOfRange(v) => write!(
                f,
                "libmemlimit: a soft limit of {} bytes is out of range: the C API takes an \
                 int64_t, at most {} (0 turns the limit off)",
                v,
                i64::MAX
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::NotLoaded | Error::LimitOutOfRange(_) => None,
            Error::Os(e) => Some(e),
        }
    }
}

#[repr(C)]
struct RawStats {
    soft_limit: i64,
    hard_limit: i64,
    detected_limit: i64,
    source: c_int,
    source_path: [c_char; 256],
    usage: i64,
    peak_usage: i64,
    level: c_int,
    samples: u64,
    trims: u64,
    trimmed_bytes: u64,
    callback_rounds: u64,
    callback_calls: u64,
    callback_bytes: u64,
    failed_allocs: u64,
}

type ReclaimFn = unsafe extern "C" fn(c_int, usize, *mut c_void) -> usize;

#[cfg(feature = "link")]
mod sys {
    use super::{RawStats, ReclaimFn};
    use std::os::raw::{c_int, c_void};

    #[link(name = "memlimit")]
    extern "C" {
        fn memlimit_reached() -> bool;
        fn memlimit_level() -> c_int;
        fn memlimit_set_limit(bytes: i64) -> i64;
        fn memlimit_stats(out: *mut RawStats) -> c_int;
        fn memlimit_register(f: ReclaimFn, arg: *mut c_void, priority: c_int) -> c_int;
        fn memlimit_unregister(handle: c_int) -> c_int;
    }

    pub(super) fn loaded() -> bool {
        true
    }
    #[inline]
    pub(super) fn reached() -> bool {
        unsafe { memlimit_reached() }
    }
    #[inline]
    pub(super) fn level() -> c_int {
        unsafe { memlimit_level() }
    }
    pub(super) fn set_limit(bytes: i64) -> i64 {
        unsafe { memlimit_set_limit(bytes) }
    }
    pub(super) unsafe fn stats(out: *mut RawStats) -> c_int {
        memlimit_stats(out)
    }
    pub(super) unsafe fn register(f: ReclaimFn, arg: *mut c_void, priority: c_int) -> c_int {
        memlimit_register(f, arg, priority)
    }
    pub(super) fn unregister(handle: c_int) -> c_int {
        unsafe { memlimit_unregister(handle) }
    }
}

#[cfg(not(feature = "link"))]
mod sys {
    //! The functions looked up once with dlsym(RTLD_DEFAULT): the global scope, where
    //! LD_PRELOAD (or a link of the executable) put the library. Each pointer sits in
    //! an atomic; the hot path is one relaxed load and an indirect call, what a call
    //! through the PLT costs.
    use super::{RawStats, ReclaimFn};
    use std::mem;
    use std::os::raw::{c_char, c_int, c_void};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    use std::sync::Once;

    #[cfg_attr(target_os = "linux", link(name = "dl"))]
    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }

    const N: usize = 6;
    const NAMES: [&[u8]; N] = [
        b"memlimit_reached\0",
        b"memlimit_level\0",
        b"memlimit_set_limit\0",
        b"memlimit_stats\0",
        b"memlimit_register\0",
        b"memlimit_unregister\0",
    ];
    #[allow(clippy::declare_interior_mutable_const)]
    const ZERO: AtomicUsize = AtomicUsize::new(0);
    static FNS: [AtomicUsize; N] = [ZERO; N];
    static LOADED: AtomicBool = AtomicBool::new(false);
    static INIT: Once = Once::new();

    extern "C" fn absent_reached() -> bool {
        false
    }
    extern "C" fn absent_level() -> c_int {
        0
    }

    #[cold]
    fn resolve() {
        INIT.call_once(|| {
            let mut found = [0usize; N];
            for (i, name) in NAMES.iter().enumerate() {
                found[i] =
                    unsafe { dlsym(std::ptr::null_mut(), name.as_ptr() as *const c_char) } as usize;
            }
            let all = found.iter().all(|&p| p != 0);
            if !all {
                // reached() and level() answer "no limit" without the library
                found = [0; N];
                found[0] = absent_reached as *const () as usize;
                found[1] = absent_level as *const () as usize;
            }
            for (slot, p) in FNS.iter().zip(found.iter()) {
                slot.store(*p, Relaxed);
            }
            LOADED.store(all, Relaxed);
        });
    }

    #[inline]
    fn get(i: usize) -> usize {
        let p = FNS[i].load(Relaxed);
        if p != 0 {
            return p;
        }
        resolve();
        FNS[i].load(Relaxed)
    }

    pub(super) fn loaded() -> bool {
        resolve();
        LOADED.load(Relaxed)
    }
    #[inline]
    pub(super) fn reached() -> bool {
        let f: extern "C" fn() -> bool = unsafe { mem::transmute(get(0)) };
        f()
    }
    #[inline]
    pub(super) fn level() -> c_int {
        let f: extern "C" fn() -> c_int = unsafe { mem::transmute(get(1)) };
        f()
    }
    // the rest are called only once loaded() said yes
    pub(super) fn set_limit(bytes: i64) -> i64 {
        let f: extern "C" fn(i64) -> i64 = unsafe { mem::transmute(get(2)) };
        f(bytes)
    }
    pub(super) unsafe fn stats(out: *mut RawStats) -> c_int {
        let f: unsafe extern "C" fn(*mut RawStats) -> c_int = mem::transmute(get(3));
        f(out)
    }
    pub(super) unsafe fn register(cb: ReclaimFn, arg: *mut c_void, priority: c_int) -> c_int {
        let f: unsafe extern "C" fn(ReclaimFn, *mut c_void, c_int) -> c_int =
            mem::transmute(get(4));
        f(cb, arg, priority)
    }
    pub(super) fn unregister(handle: c_int) -> c_int {
        let f: extern "C" fn(c_int) -> c_int = unsafe { mem::transmute(get(5)) };
        f(handle)
    }
}

/// True when libmemlimit is in this process (preloaded, or linked).
pub fn available() -> bool {
    sys::loaded()
}

/// True from the moment usage reaches the soft limit until it falls below 95% of it,
/// like go-rtml's `IsMemLimitReached()`: call it before admitting work. One atomic
/// load in the library; `false` without the library.
#[inline]
pub fn reached() -> bool {
    sys::reached()
}

/// The current level; [`Level::None`] without the library.
#[inline]
pub fn level() -> Level {
    Level::from_raw(sys::level())
}

fn need() -> Result<(), Error> {
    if sys::loaded() {
        Ok(())
    } else {
        Err(Error::NotLoaded)
    }
}

/// Sets the soft limit in bytes, like Go's `debug.SetMemoryLimit`; 0 turns it off.
/// Returns the previous soft limit (0 if none), or [`Error::LimitOutOfRange`] for
/// more than `i64::MAX` bytes (the C API's `int64_t`; the limit is left as it was).
pub fn set_limit(bytes: u64) -> Result<u64, Error> {
    need()?;
    // not a cast: one would wrap to a negative value, which only queries
    let b = i64::try_from(bytes).map_err(|_| Error::LimitOutOfRange(bytes))?;
    Ok(sys::set_limit(b).max(0) as u64)
}

/// The soft limit in force (0 if none).
pub fn limit() -> Result<u64, Error> {
    need()?;
    Ok(sys::set_limit(-1).max(0) as u64)
}

/// Limits and their source, usage, peak, counts of trims, rounds and callbacks.
pub fn stats() -> Result<Stats, Error> {
    need()?;
    let mut raw = std::mem::MaybeUninit::<RawStats>::zeroed();
    if unsafe { sys::stats(raw.as_mut_ptr()) } != 0 {
        return Err(Error::Os(io::Error::last_os_error()));
    }
    let r = unsafe { raw.assume_init() };
    let path = unsafe { CStr::from_ptr(r.source_path.as_ptr()) };
    let u = |v: i64| v.max(0) as u64;
    Ok(Stats {
        soft_limit: u(r.soft_limit),
        hard_limit: u(r.hard_limit),
        detected_limit: u(r.detected_limit),
        source: match r.source {
            1 => Source::CgroupV1,
            2 => Source::CgroupV2,
            3 => Source::MemTotal,
            _ => Source::None,
        },
        source_path: path.to_string_lossy().into_owned(),
        usage: u(r.usage),
        peak_usage: u(r.peak_usage),
        level: Level::from_raw(r.level),
        samples: r.samples,
        trims: r.trims,
        trimmed_bytes: r.trimmed_bytes,
        callback_rounds: r.callback_rounds,
        callback_calls: r.callback_calls,
        callback_bytes: r.callback_bytes,
        failed_allocs: r.failed_allocs,
    })
}

// ---- callbacks ----

type Callback = Box<dyn FnMut(Level, usize) -> usize + Send + 'static>;

struct Slot {
    f: UnsafeCell<Callback>, // only the memlimit thread touches it, one call at a time
    calls: AtomicU64,
    poisoned: AtomicBool,
    free_on_return: AtomicBool, // its Registration was dropped by the call itself
}

thread_local! {
    // the slot whose callback this thread is running (the memlimit thread only)
    static RUNNING: Cell<*const Slot> = const { Cell::new(ptr::null()) };
}

unsafe extern "C" fn trampoline(level: c_int, want: usize, arg: *mut c_void) -> usize {
    let slot = &*(arg as *const Slot);
    let mut freed = 0;
    if !slot.poisoned.load(Ordering::Relaxed) {
        slot.calls.fetch_add(1, Ordering::Relaxed);
        let prev = RUNNING.with(|r| r.replace(slot));
        let f = &mut *slot.f.get();
        match panic::catch_unwind(AssertUnwindSafe(|| f(Level::from_raw(level), want))) {
            Ok(n) => freed = n,
            Err(_) => {
                slot.poisoned.store(true, Ordering::Relaxed);
                use std::io::Write;
                let _ = writeln!(
                    io::stderr(),
                    "memlimit: a reclaim callback panicked (reported above); it returns 0 and is not called again"
                );
            }
        }
        RUNNING.with(|r| r.set(prev));
    }
    if slot.free_on_return.load(Ordering::Acquire) {
        drop(Box::from_raw(arg as *mut Slot));
    }
    freed
}

/// A registered callback; dropping it unregisters (see [`Registration::unregister`]).
#[must_use = "dropping the Registration unregisters the callback at once"]
pub struct Registration {
    handle: c_int,
    slot: *mut Slot,
}

// The slot's closure is Send and is called only by the library's thread; what a
// Registration exposes from any thread are atomics.
unsafe impl Send for Registration {}
unsafe impl Sync for Registration {}

/// Registers `f(level, want) -> bytes freed`. At [`Level::Moderate`] `want` is 0
/// (drop what is cheap to rebuild); at [`Level::Soft`] and [`Level::Critical`] it is
/// how many bytes usage is above the target (95% of the soft limit). Callbacks with
/// a lower `priority` run first. The first registration starts the library's thread.
pub fn register<F>(priority: i32, f: F) -> Result<Registration, Error>
where
    F: FnMut(Level, usize) -> usize + Send + 'static,
{
    need()?;
    let slot = Box::into_raw(Box::new(Slot {
        f: UnsafeCell::new(Box::new(f)),
        calls: AtomicU64::new(0),
        poisoned: AtomicBool::new(false),
        free_on_return: AtomicBool::new(false),
    }));
    let h = unsafe { sys::register(trampoline, slot as *mut c_void, priority as c_int) };
    if h < 0 {
        let e = io::Error::last_os_error();
        drop(unsafe { Box::from_raw(slot) });
        return Err(Error::Os(e));
    }
    Ok(Registration { handle: h, slot })
}

impl Registration {
    /// How many times the callback was called.
    pub fn calls(&self) -> u64 {
        unsafe { (*self.slot).calls.load(Ordering::Relaxed) }
    }

    /// True once the callback panicked: it is not called again.
    pub fn is_poisoned(&self) -> bool {
        unsafe { (*self.slot).poisoned.load(Ordering::Relaxed) }
    }

    /// Unregisters: once this returns the callback is not running and never runs
    /// again (called from inside the callback itself, that call finishes first).
    /// Dropping the Registration does the same.
    pub fn unregister(mut self) -> Result<(), Error> {
        self.release()
    }

    fn release(&mut self) -> Result<(), Error> {
        let h = std::mem::replace(&mut self.handle, 0);
        if h <= 0 {
            return Ok(());
        }
        if sys::unregister(h) != 0 {
            // unknown to the library: leak the closure rather than free what might run
            return Err(Error::Os(io::Error::last_os_error()));
        }
        let slot = self.slot;
        if RUNNING.with(|r| ptr::eq(r.get(), slot)) {
            // dropped by its own callback: the trampoline frees it when the call returns
            unsafe { (*slot).free_on_return.store(true, Ordering::Release) };
        } else {
            drop(unsafe { Box::from_raw(slot) });
        }
        Ok(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("handle", &self.handle)
            .field("calls", &self.calls())
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::RawStats;
    use std::mem::{size_of, MaybeUninit};
    use std::ptr::addr_of;

    /// RawStats against struct memlimit_stats: MEMLIMIT_C_LAYOUT carries the C
    /// compiler's "size N source N source_path N usage N level N samples N
    /// failed_allocs N" (t_bind_rust.sh); without it, the x86-64 values.
    #[test]
    fn raw_stats_layout_matches_the_header() {
        let c = std::env::var("MEMLIMIT_C_LAYOUT").unwrap_or_else(|_| {
            "size 368 source 24 source_path 28 usage 288 level 304 samples 312 failed_allocs 360".into()
        });
        let s = MaybeUninit::<RawStats>::uninit();
        let p = s.as_ptr();
        let off = |q: *const u8| q as usize - p as usize;
        let rust = unsafe {
            format!(
                "size {} source {} source_path {} usage {} level {} samples {} failed_allocs {}",
                size_of::<RawStats>(),
                off(addr_of!((*p).source) as *const u8),
                off(addr_of!((*p).source_path) as *const u8),
                off(addr_of!((*p).usage) as *const u8),
                off(addr_of!((*p).level) as *const u8),
                off(addr_of!((*p).samples) as *const u8),
                off(addr_of!((*p).failed_allocs) as *const u8)
            )
        };
        assert_eq!(rust, c.split_whitespace().collect::<Vec<_>>().join(" "));
    }
}
