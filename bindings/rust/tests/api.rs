// SPDX-License-Identifier: MIT
//! The safe wrapper against the real library: `cargo test` here runs with
//! build/libmemlimit.so preloaded (tests/preload), or linked (`--features link`).
//! Rounds are provoked by a soft limit of 1 byte and allocation. The tests share the
//! library's global state, so they take turns (SERIAL).

use memlimit::{Level, Source};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    assert!(
        memlimit::available() || std::env::var_os("MEMLIMIT_TEST_CHILD").is_some(),
        "libmemlimit is not loaded: run `make` at the top of the repository (tests/preload preloads build/libmemlimit.so)"
    );
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Allocates and frees 1 MiB blocks (each takes the library's slow path) until
/// `pred()` holds or `secs` pass; returns `pred()`.
fn churn_until(secs: f64, mut pred: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        if pred() {
            return true;
        }
        let mut v: Vec<u8> = Vec::with_capacity(1 << 20);
        v.resize(1 << 20, 1);
        assert_eq!(v[4096], 1);
        drop(v);
        thread::sleep(Duration::from_micros(500));
    }
    pred()
}

/// A soft limit of 1 byte for its lifetime: every round asks for everything.
struct LowLimit(u64);
impl LowLimit {
    fn new() -> LowLimit {
        LowLimit(memlimit::set_limit(1).unwrap())
    }
}
impl Drop for LowLimit {
    fn drop(&mut self) {
        memlimit::set_limit(self.0).unwrap();
        churn_until(5.0, || !memlimit::reached());
    }
}

fn thread_tid() -> u32 {
    // /proc/thread-self -> /proc/<pid>/task/<tid>
    let l = std::fs::read_link("/proc/thread-self").unwrap();
    l.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

#[test]
fn stats_and_limits() {
    let _s = serial();
    let st = memlimit::stats().unwrap();
    assert!(
        st.samples > 0 && st.usage > 0 && st.peak_usage >= st.usage,
        "{:?}",
        st
    );
    assert!(matches!(
        st.source,
        Source::None | Source::CgroupV1 | Source::CgroupV2 | Source::MemTotal
    ));
    assert_eq!(st.level, memlimit::level());
    let prev = memlimit::limit().unwrap();
    assert_eq!(prev, st.soft_limit);
    assert_eq!(memlimit::set_limit(3 << 30).unwrap(), prev);
    assert_eq!(memlimit::stats().unwrap().soft_limit, 3 << 30);
    assert_eq!(memlimit::limit().unwrap(), 3 << 30);
    assert_eq!(memlimit::set_limit(prev).unwrap(), 3 << 30);
    assert_eq!(memlimit::stats().unwrap().soft_limit, prev);

    // the C API takes an int64_t: a larger u64 is an error, and changes nothing
    for v in [1u64 << 63, u64::MAX] {
        match memlimit::set_limit(v) {
            Err(memlimit::Error::LimitOutOfRange(got)) => assert_eq!(got, v),
            other => panic!("set_limit({}) = {:?}, not LimitOutOfRange", v, other),
        }
        assert_eq!(
            memlimit::limit().unwrap(),
            prev,
            "set_limit({}) changed the limit",
            v
        );
    }
    assert_eq!(memlimit::set_limit(i64::MAX as u64).unwrap(), prev);
    assert_eq!(memlimit::limit().unwrap(), i64::MAX as u64);
    assert_eq!(memlimit::set_limit(prev).unwrap(), i64::MAX as u64);
}

#[test]
fn reached_and_level_follow_the_limit() {
    let _s = serial();
    {
        let _l = LowLimit::new();
        assert!(churn_until(10.0, memlimit::reached));
        assert!(memlimit::level() >= Level::Soft);
    }
    assert!(!memlimit::reached());
}

#[test]
fn callback_on_the_memlimit_thread() {
    let _s = serial();
    type Call = (thread::ThreadId, u32, Level, usize);
    let seen: Arc<Mutex<Vec<Call>>> = Arc::default();
    let before = memlimit::stats().unwrap();
    let s2 = Arc::clone(&seen);
    let reg = memlimit::register(0, move |level, want| {
        s2.lock()
            .unwrap()
            .push((thread::current().id(), thread_tid(), level, want));
        4096
    })
    .unwrap();
    {
        let _l = LowLimit::new();
        assert!(churn_until(10.0, || seen.lock().unwrap().len() >= 2));
    }
    let calls = reg.calls();
    drop(reg);
    let v = seen.lock().unwrap();
    let (id, tid, level, want) = v[0];
    assert_ne!(id, thread::current().id());
    let comm = std::fs::read_to_string(format!("/proc/self/task/{}/comm", tid)).unwrap();
    assert_eq!(comm.trim(), "memlimit");
    assert!(level >= Level::Soft && want > 0, "{:?} {}", level, want);
    assert!(calls >= 2);
    let after = memlimit::stats().unwrap();
    assert!(after.callback_rounds > before.callback_rounds);
    assert!(after.callback_bytes - before.callback_bytes >= 4096 * v.len() as u64);
}

#[test]
fn priority_order() {
    let _s = serial();
    let order: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let (a, b) = (Arc::clone(&order), Arc::clone(&order));
    let late = memlimit::register(5, move |_, _| {
        a.lock().unwrap().push("late");
        0
    })
    .unwrap();
    let early = memlimit::register(-5, move |_, _| {
        b.lock().unwrap().push("early");
        0
    })
    .unwrap();
    {
        let _l = LowLimit::new();
        assert!(churn_until(10.0, || order.lock().unwrap().len() >= 2));
    }
    drop((late, early));
    assert_eq!(&order.lock().unwrap()[..2], &["early", "late"]);
}

#[test]
fn drop_waits_for_the_running_call() {
    let _s = serial();
    let started = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let (st, dn) = (Arc::clone(&started), Arc::clone(&done));
    let reg = memlimit::register(0, move |_, _| {
        st.store(true, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(300));
        dn.store(true, Ordering::SeqCst);
        0
    })
    .unwrap();
    let _l = LowLimit::new();
    assert!(churn_until(10.0, || started.load(Ordering::SeqCst)));
    reg.unregister().unwrap();
    assert!(
        done.load(Ordering::SeqCst),
        "unregister returned while the callback ran"
    );
}

#[test]
fn drop_inside_its_own_callback() {
    let _s = serial();
    let slot: Arc<Mutex<Option<memlimit::Registration>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (s2, c2) = (Arc::clone(&slot), Arc::clone(&calls));
    let reg = memlimit::register(0, move |_, _| {
        c2.fetch_add(1, Ordering::SeqCst);
        drop(s2.lock().unwrap().take()); // unregisters itself, closure freed after return
        0
    })
    .unwrap();
    *slot.lock().unwrap() = Some(reg);
    let _l = LowLimit::new();
    assert!(churn_until(10.0, || calls.load(Ordering::SeqCst) >= 1));
    churn_until(0.3, || false);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        Arc::strong_count(&slot),
        1,
        "the closure (and its Arc) was not freed"
    );
}

#[test]
fn a_panic_poisons_the_callback_only() {
    let _s = serial();
    let good = Arc::new(AtomicUsize::new(0));
    let g2 = Arc::clone(&good);
    let bad = memlimit::register(0, |_, _| panic!("boom from the callback")).unwrap();
    let ok = memlimit::register(1, move |_, _| {
        g2.fetch_add(1, Ordering::SeqCst);
        0
    })
    .unwrap();
    let _l = LowLimit::new();
    assert!(churn_until(10.0, || good.load(Ordering::SeqCst) >= 3));
    assert!(bad.is_poisoned());
    assert_eq!(bad.calls(), 1, "a poisoned callback was called again");
    assert!(ok.calls() >= 3 && !ok.is_poisoned());
}

#[cfg(not(feature = "link"))]
#[test]
fn not_loaded_is_a_clear_error() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_not_loaded",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("LD_PRELOAD")
        .env("MEMLIMIT_TEST_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("child: LD_PRELOAD="), "{}", text);
}

#[cfg(not(feature = "link"))]
#[test]
#[ignore = "run by not_loaded_is_a_clear_error without LD_PRELOAD"]
fn child_not_loaded() {
    assert!(!memlimit::available());
    assert!(!memlimit::reached());
    assert_eq!(memlimit::level(), Level::None);
    assert!(matches!(memlimit::stats(), Err(memlimit::Error::NotLoaded)));
    assert!(matches!(
        memlimit::set_limit(1),
        Err(memlimit::Error::NotLoaded)
    ));
    let e = memlimit::register(0, |_, _| 0).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("not loaded"));
    let i = msg.find("LD_PRELOAD=").unwrap();
    println!("child: {}", &msg[i..]);
}
