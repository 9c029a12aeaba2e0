// SPDX-License-Identifier: MIT
//! Back-pressure (tests/work/pool.c) in Rust, as go-rtml's IsMemLimitReached() is
//! used: a pool of workers turns jobs into 1 MiB results that one slow writer ships
//! and frees. The workers are faster than the writer, so the results waiting for it
//! pile up. With --check each worker asks memlimit::reached() before taking a job
//! and, while it is true, puts the job back and retries a millisecond later; memory
//! then stays near the soft limit and every job completes. Without it the backlog
//! outgrows the container and the kernel kills the process part-way.
//!
//! usage: LD_PRELOAD=.../libmemlimit.so pool [--check] [jobs=600] [workers=4] [writer ms per result=2]

use std::collections::{HashSet, VecDeque};
use std::env;
use std::process::exit;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

const RESULT_BYTES: usize = 1 << 20;

#[derive(Default)]
struct State {
    jobs: VecDeque<usize>,
    out: VecDeque<(usize, Vec<u8>)>,
    backlog_max: usize,
    deferrals: usize,
    deferred: HashSet<usize>,
    first_deferral_backlog: Option<usize>,
    workers_left: usize,
}

struct Shared {
    st: Mutex<State>,
    more: Condvar,
    check: bool,
}

/// The next job, or None when none is left. While memory is short the job goes back
/// to the end of the queue and the worker waits before asking again.
fn take_job(sh: &Shared) -> Option<usize> {
    loop {
        {
            let mut st = sh.st.lock().unwrap();
            let job = st.jobs.pop_front()?;
            if !(sh.check && memlimit::reached()) {
                return Some(job);
            }
            st.jobs.push_back(job); // deferred: retried after the others
            st.deferrals += 1;
            st.deferred.insert(job);
            if st.first_deferral_backlog.is_none() {
                st.first_deferral_backlog = Some(st.out.len());
            }
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn worker(sh: Arc<Shared>) {
    while let Some(job) = take_job(&sh) {
        // the job's input, read whole, and its result
        let input: Vec<u8> = (0..RESULT_BYTES).map(|i| (i * 31 + job) as u8).collect();
        let result: Vec<u8> = input.iter().rev().map(|b| b ^ 0x5a).collect();
        drop(input);
        let mut st = sh.st.lock().unwrap();
        st.out.push_back((job, result));
        st.backlog_max = st.backlog_max.max(st.out.len());
        sh.more.notify_one();
    }
    let mut st = sh.st.lock().unwrap();
    st.workers_left -= 1;
    sh.more.notify_one();
}

fn main() {
    let args: Vec<String> = env::args().collect();
    let check = args.get(1).map(|a| a == "--check").unwrap_or(false);
    let a = if check { 2 } else { 1 };
    let njobs: usize = args.get(a).map(|s| s.parse().unwrap()).unwrap_or(600);
    let nworkers: usize = args.get(a + 1).map(|s| s.parse().unwrap()).unwrap_or(4);
    let writer_ms: u64 = args.get(a + 2).map(|s| s.parse().unwrap()).unwrap_or(2);
    if check && !memlimit::available() {
        eprintln!(
            "pool: --check needs libmemlimit: {}",
            memlimit::Error::NotLoaded
        );
        exit(2);
    }
    let sh = Arc::new(Shared {
        st: Mutex::new(State {
            jobs: (0..njobs).collect(),
            workers_left: nworkers,
            ..Default::default()
        }),
        more: Condvar::new(),
        check,
    });
    let threads: Vec<_> = (0..nworkers)
        .map(|_| {
            let s = Arc::clone(&sh);
            thread::spawn(move || worker(s))
        })
        .collect();
    // the writer: ships one result every writer_ms, in order of completion
    let mut seen = vec![0u8; njobs];
    let (mut written, mut sum) = (0usize, 0u64);
    loop {
        let r = {
            let mut st = sh.st.lock().unwrap();
            while st.out.is_empty() && st.workers_left > 0 {
                st = sh.more.wait(st).unwrap();
            }
            st.out.pop_front()
        };
        let (job, data) = match r {
            Some(r) => r,
            None => break,
        };
        sum += data.iter().step_by(4096).map(|&b| b as u64).sum::<u64>();
        seen[job] += 1;
        drop(data);
        thread::sleep(Duration::from_millis(writer_ms));
        written += 1;
        if written % 10 == 0 {
            println!("written {} results", written);
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    let missing = seen.iter().filter(|&&s| s != 1).count();
    let st = sh.st.lock().unwrap();
    println!(
        "pool.rs: {} of {} jobs done ({} missing or repeated), {} jobs deferred ({} deferrals), longest backlog {} MiB of results (first deferral at {}) (checksum {})",
        written,
        njobs,
        missing,
        st.deferred.len(),
        st.deferrals,
        st.backlog_max,
        st.first_deferral_backlog.map(|b| b as i64).unwrap_or(-1),
        sum & 0xff
    );
    exit(if missing > 0 { 1 } else { 0 });
}
