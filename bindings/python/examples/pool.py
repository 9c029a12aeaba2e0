# SPDX-License-Identifier: MIT
"""Back-pressure (tests/work/pool.c) in Python, as go-rtml's IsMemLimitReached() is
used: a pool of worker threads turns jobs into 1 MiB results that one slow writer
ships and frees. The workers are faster than the writer, so the results waiting for
it pile up. With --check each worker asks memlimit.reached() before taking a job and,
while it is true, puts the job back and retries a millisecond later; memory then
stays near the soft limit and every job completes. Without it the backlog outgrows
the container and the kernel kills the process part-way.

usage: LD_PRELOAD=.../libmemlimit.so python3 pool.py [--check] [jobs=600] [workers=4] [writer ms per result=2]
"""

import collections
import resource
import sys
import threading
import time

import memlimit

RESULT_BYTES = 1 << 20
lock = threading.Lock()
more = threading.Condition(lock)
jobs = collections.deque()
results = collections.deque()
state = {"backlog": 0, "backlog_max": 0, "deferrals": 0, "first_deferral_backlog": -1,
         "workers_left": 0}
deferred = set()
check = False
# the job's input turned into its result: a byte-wise transform over 1 MiB
TABLE = bytes((b ^ 0x5A) for b in range(256))


def take_job():
    """The next job, or None when none is left. While memory is short the job goes
    back to the end of the queue and the worker waits before asking again."""
    while True:
        with lock:
            if not jobs:
                return None
            job = jobs.popleft()
            if not (check and memlimit.reached()):
                return job
            jobs.append(job)  # deferred: retried after the others
            state["deferrals"] += 1
            deferred.add(job)
            if state["first_deferral_backlog"] < 0:
                state["first_deferral_backlog"] = state["backlog"]
        time.sleep(0.001)


def worker():
    while True:
        job = take_job()
        if job is None:
            break
        inp = bytes(((job * 31) & 0xFF,)) * RESULT_BYTES  # the job's input, read whole
        result = inp[::-1].translate(TABLE)
        del inp
        with lock:
            results.append((job, result))
            state["backlog"] += 1
            state["backlog_max"] = max(state["backlog_max"], state["backlog"])
            more.notify()
        del result
    with lock:
        state["workers_left"] -= 1
        more.notify()


def main(argv):
    global check
    a = 1
    if len(argv) > 1 and argv[1] == "--check":
        check, a = True, 2
    njobs = int(argv[a]) if len(argv) > a else 600
    nworkers = int(argv[a + 1]) if len(argv) > a + 1 else 4
    writer_ms = float(argv[a + 2]) if len(argv) > a + 2 else 2
    if check and not memlimit.available():
        print("pool.py: --check needs libmemlimit (LD_PRELOAD)", file=sys.stderr)
        return 2
    jobs.extend(range(njobs))
    state["workers_left"] = nworkers
    threads = [threading.Thread(target=worker) for _ in range(nworkers)]
    for t in threads:
        t.start()
    # the writer: ships one result every writer_ms, in order of completion
    seen = [0] * njobs
    written = total = 0
    while True:
        with lock:
            while not results and state["workers_left"] > 0:
                more.wait()
            if not results:
                break
            job, r = results.popleft()
            state["backlog"] -= 1
        total += sum(r[::4096])
        seen[job] += 1
        del r
        time.sleep(writer_ms / 1000.0)
        written += 1
        if written % 10 == 0:
            print("written %d results" % written, flush=True)
    for t in threads:
        t.join()
    missing = sum(1 for s in seen if s != 1)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print("pool.py: %d of %d jobs done (%d missing or repeated), %d jobs deferred (%d "
          "deferrals), longest backlog %d MiB of results (first deferral at %d), max RSS "
          "%.1f MiB (checksum %d)" % (written, njobs, missing, len(deferred), state["deferrals"],
                                      state["backlog_max"], state["first_deferral_backlog"],
                                      ru.ru_maxrss / 1024.0, total & 0xFF), flush=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
