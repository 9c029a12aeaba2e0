// SPDX-License-Identifier: MIT
//! The cache app (tests/work/cacheapp.c) in Rust: an import fills an in-memory index
//! (an LRU of records) while each record also makes short-lived garbage. The index
//! alone outgrows a 256 MiB container. With --callback it registers an eviction
//! callback and completes the import; without, the kernel kills it part-way.
//!
//! usage: LD_PRELOAD=.../libmemlimit.so cacheapp [--callback] [records=200000] [record bytes=2048]

use std::collections::VecDeque;
use std::env;
use std::process::exit;
use std::sync::{Arc, Mutex};

struct Record {
    _key: u64,
    data: Vec<u8>,
}

#[derive(Default)]
struct Index {
    lru: VecDeque<Record>, // most recently used at the front
    bytes: usize,
    evicted: usize,
    rounds: usize,
}

const OVERHEAD: usize = std::mem::size_of::<Record>();

/// At Moderate a sixteenth of the index; above, what memlimit asks for and a quarter
/// more. Runs on memlimit's thread: takes our lock, frees records, returns bytes.
fn evict(index: &Mutex<Index>, level: memlimit::Level, want: usize) -> usize {
    let mut ix = index.lock().unwrap();
    let goal = if level == memlimit::Level::Moderate {
        ix.bytes / 16
    } else {
        want + want / 4
    };
    let mut freed = 0;
    while freed < goal {
        match ix.lru.pop_back() {
            Some(r) => {
                let n = r.data.len() + OVERHEAD;
                ix.bytes -= n;
                freed += n;
                ix.evicted += 1;
            }
            None => break,
        }
    }
    ix.rounds += 1;
    freed
}

fn main() {
    let args: Vec<String> = env::args().collect();
    let use_callback = args.get(1).map(|a| a == "--callback").unwrap_or(false);
    let a = if use_callback { 2 } else { 1 };
    let records: u64 = args.get(a).map(|s| s.parse().unwrap()).unwrap_or(200_000);
    let rec_size: usize = args.get(a + 1).map(|s| s.parse().unwrap()).unwrap_or(2048);
    let index = Arc::new(Mutex::new(Index::default()));
    let _guard = if use_callback {
        let ix = Arc::clone(&index);
        match memlimit::register(0, move |level, want| evict(&ix, level, want)) {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("cacheapp: --callback: {}", e);
                exit(2);
            }
        }
    } else {
        None
    };
    let (mut seed, mut sum) = (42u64, 0u64);
    for i in 0..records {
        // garbage: a parse buffer of 4 KiB to 256 KiB, used and dropped
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let g = 4096 + ((seed >> 33) % (252 << 10)) as usize;
        let mut buf = Vec::with_capacity(g);
        buf.resize(g, i as u8);
        sum += buf[g / 2] as u64;
        drop(buf);
        // the record that goes into the index
        let mut data = Vec::with_capacity(rec_size);
        data.resize(rec_size, (i * 7) as u8);
        let mut ix = index.lock().unwrap();
        ix.bytes += data.len() + OVERHEAD;
        ix.lru.push_front(Record { _key: i, data });
        drop(ix);
        if (i + 1) % 20000 == 0 {
            println!("imported {} records", i + 1);
        }
    }
    let ix = index.lock().unwrap();
    println!(
        "cacheapp.rs: imported {} of {} records; the index holds {} ({:.1} MiB); evicted {} in {} callback rounds; max RSS {:.1} MiB (checksum {})",
        records,
        records,
        ix.lru.len(),
        ix.bytes as f64 / 1048576.0,
        ix.evicted,
        ix.rounds,
        max_rss_kib() as f64 / 1024.0,
        sum & 0xff
    );
}

fn max_rss_kib() -> u64 {
    // VmHWM from /proc/self/status: getrusage without libc bindings
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
