# A WSGI app for gunicorn whose workers fragment memory: a worker's first request
# builds its cache in rounds of bytes objects of growing sizes (malloc'd, above
# pymalloc's 512 bytes) and drops every second one, leaving freed holes its
# allocator keeps resident: HOLES_MIB touched, about half live. Every answer is
# "<pid> <cached bytes>".
import os

MIB = int(os.environ.get("HOLES_MIB", "80"))
cache = []


def holes(mib, rounds=8):
    """The cache: mib MiB touched in rounds of growing sizes, every second block kept
    (tests/work/prefork.py uses it too)."""
    kept = []
    for r in range(rounds):
        bs = 8192 + r * 4096
        batch = [bytes([r + 1]) * bs for _ in range((mib << 20) // rounds // bs)]
        kept.extend(batch[0::2])
        del batch
    return kept


def build():
    cache.extend(holes(MIB))


def app(environ, start_response):
    if not cache:
        build()
    body = ("%d %d\n" % (os.getpid(), sum(len(b) for b in cache))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
