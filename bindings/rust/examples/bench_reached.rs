// SPDX-License-Identifier: MIT
//! ns per memlimit::reached() call (scripts/bench): N calls in a loop, best of 5.
//! usage: LD_PRELOAD=.../libmemlimit.so bench_reached [calls=100000000]
use std::time::Instant;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(100_000_000);
    assert!(memlimit::available(), "{}", memlimit::Error::NotLoaded);
    let mut best = f64::MAX;
    let mut hits = 0u64;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            if memlimit::reached() {
                hits += 1;
            }
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    println!("{:.3} {}", best, hits);
}
