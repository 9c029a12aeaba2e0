# prefork.py MIB [WORKERS]: a prefork server's shape in Python's multiprocessing:
# the parent forks WORKERS workers, each builds a cache of bytes objects (malloc'd:
# above pymalloc's 512 bytes) in rounds of growing sizes and drops every second
# one, leaving freed holes its allocator keeps resident; only half of what each
# touched is live. Each then holds its cache 5 s, so that all of them hold theirs
# at once, as in a server (a multiprocessing.Barrier would deadlock the others when
# the OOM killer takes a worker inside it). Prints the workers' exit codes; exits 1
# if any failed.
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "wsgi"))
from holes_app import holes  # noqa: E402  the same cache as the gunicorn workers'


def work(mib):
    kept = holes(mib)
    time.sleep(5)
    assert all(b[0] == b[-1] != 0 for b in kept)


if __name__ == "__main__":
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    mp.set_start_method("fork")
    procs = [mp.Process(target=work, args=(mib,)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    print("prefork: %d workers, %d MiB each, exit codes %s" % (n, mib, " ".join(map(str, codes))))
    sys.exit(0 if all(c == 0 for c in codes) else 1)
