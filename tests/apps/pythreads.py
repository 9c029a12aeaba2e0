# pythreads.py [THREADS=8] [REQUESTS=30] [MIB=24] [IN_FLIGHT=2]: a threaded Python
# service's heap: THREADS threads each serve REQUESTS requests, at most IN_FLIGHT at
# once (a pool's worker limit); a request builds MIB MiB of bytes objects of 0.6-4
# KiB (malloc'd: above pymalloc's 512 bytes), keeps one in 64 for the next 4 requests
# and drops the rest. Live data stays near IN_FLIGHT x MIB; glibc's per-thread
# arenas keep each thread's high-water mark, towards THREADS x MIB. Prints a checksum.
import random
import sys
import threading

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 8
requests = int(sys.argv[2]) if len(sys.argv) > 2 else 30
mib = int(sys.argv[3]) if len(sys.argv) > 3 else 24
in_flight = threading.Semaphore(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
sums = [0] * threads


def worker(me):
    rnd = random.Random(me + 1)
    cache = []
    for _ in range(requests):
        in_flight.acquire()
        objs, n = [], 0
        while n < mib << 20:
            sz = 600 + rnd.randrange(3500)
            objs.append(bytes([97 + rnd.randrange(26)]) * sz)
            n += sz
        cache.append(objs[::64])
        cache = cache[-4:]
        del objs
        in_flight.release()
    sums[me] = sum(len(b) for c in cache for b in c)


ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(sum(sums))
