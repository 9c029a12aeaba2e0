# etlpool.py PARSE_MIB FILL_MIB [WORKERS]: a ProcessPoolExecutor ETL's shape.
# WORKERS forked workers each take one batch: parse it into many records (bytes
# objects above pymalloc's 512 bytes, so malloc'd), keep one in 50, drop the rest
# (holes in the heap that the allocator keeps resident: the kept ones stop it from
# shrinking), then fill a large fresh buffer page by page, with no allocation call
# while its pages become resident. Every worker holds its result until all have
# filled theirs (a file each, polled: a Barrier would hang the others when the OOM
# killer takes one). Prints one line; exits 1 if a worker died (BrokenProcessPool).
import concurrent.futures as cf
import multiprocessing as mp
import os
import sys
import tempfile
import time

PAGE = 4096


def batch(args):
    parse_mib, fill_mib, idx, n, sync = args
    records = [bytes([1 + (i % 250)]) * 2000 for i in range(parse_mib * 1024 * 1024 // 2048)]
    kept = records[::50]
    del records
    buf = bytearray(fill_mib << 20)  # mmap'd: no page resident yet
    for off in range(0, len(buf), PAGE):
        buf[off] = 1
    open(os.path.join(sync, str(idx)), "w").close()
    deadline = time.time() + 60
    while len(os.listdir(sync)) < n and time.time() < deadline:
        time.sleep(0.05)
    return len(kept) + sum(buf[::PAGE])


if __name__ == "__main__":
    parse_mib, fill_mib = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    sync = tempfile.mkdtemp(prefix="etlpool.")
    try:
        with cf.ProcessPoolExecutor(n, mp_context=mp.get_context("fork")) as ex:
            results = list(ex.map(batch, [(parse_mib, fill_mib, i, n, sync) for i in range(n)]))
        print("etlpool: %d workers, parsed %d MiB and filled %d MiB each: done" % (n, parse_mib, fill_mib))
    except cf.process.BrokenProcessPool as e:
        print("etlpool: a worker died: %s" % e)
        sys.exit(1)
    finally:
        for f in os.listdir(sync):
            os.unlink(os.path.join(sync, f))
        os.rmdir(sync)
