# SPDX-License-Identifier: MIT
"""The cache app (tests/work/cacheapp.c) in Python: an import fills an in-memory index
(an LRU of records) while each record also makes short-lived garbage. The index alone
outgrows a 256 MiB container. With --callback it registers an eviction callback and
completes the import; without, the kernel kills it part-way.

usage: LD_PRELOAD=.../libmemlimit.so python3 cacheapp.py [--callback] [records=200000] [record bytes=2048]
"""

import collections
import resource
import sys
import threading

import memlimit

OVERHEAD = 120  # per record: the dict entry, the int key, the bytes header (about)

lock = threading.Lock()
index = collections.OrderedDict()  # key -> record, least recently used first
cached_bytes = 0
evicted = 0
rounds = 0


def evict(level, want):
    """At MODERATE a sixteenth of the index; above, what memlimit asks for and a
    quarter more. Runs on memlimit's thread, with the GIL: takes our lock, drops
    records, returns the bytes it believes it freed."""
    global cached_bytes, evicted, rounds
    with lock:
        goal = cached_bytes // 16 if level == memlimit.Level.MODERATE else want + want // 4
        freed = 0
        while freed < goal and index:
            _, rec = index.popitem(last=False)
            n = len(rec) + OVERHEAD
            cached_bytes -= n
            freed += n
            evicted += 1
        rounds += 1
    return freed


def main(argv):
    global cached_bytes
    use_callback = len(argv) > 1 and argv[1] == "--callback"
    a = 2 if use_callback else 1
    records = int(argv[a]) if len(argv) > a else 200000
    rec_size = int(argv[a + 1]) if len(argv) > a + 1 else 2048
    handle = None
    if use_callback:
        if not memlimit.available():
            print("cacheapp.py: --callback needs libmemlimit (LD_PRELOAD)", file=sys.stderr)
            return 2
        handle = memlimit.on_pressure(evict, priority=0)
    seed, total = 42, 0
    mask = (1 << 64) - 1
    for i in range(records):
        # garbage: a parse buffer of 4 KiB to 256 KiB, used and dropped
        seed = (seed * 6364136223846793005 + 1442695040888963407) & mask
        g = 4096 + (seed >> 33) % (252 << 10)
        buf = bytes((i & 0xFF,)) * g
        total += buf[g // 2]
        del buf
        # the record that goes into the index
        rec = bytes(((i * 7) & 0xFF,)) * rec_size
        with lock:
            index[i] = rec
            cached_bytes += len(rec) + OVERHEAD
        del rec
        if (i + 1) % 20000 == 0:
            print("imported %d records" % (i + 1), flush=True)
    if handle:
        handle.unregister()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    with lock:
        print("cacheapp.py: imported %d of %d records; the index holds %d (%.1f MiB); "
              "evicted %d in %d callback rounds; max RSS %.1f MiB (checksum %d)"
              % (records, records, len(index), cached_bytes / 1048576.0, evicted, rounds,
                 ru.ru_maxrss / 1024.0, total & 0xFF), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
