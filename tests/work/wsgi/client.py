# client.py PORT WORKERS [SECONDS]: sends requests from 4 threads until WORKERS
# distinct worker pids have answered (each has built its cache) or SECONDS pass.
# Prints "pids N, requests M, errors E"; exit 0 only if every request got a 200
# and WORKERS pids answered.
import sys
import threading
import time
import urllib.request

port, want = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 120)
pids, lock = set(), threading.Lock()
counts = {"requests": 0, "errors": 0}


def loop():
    while time.time() < deadline:
        with lock:
            if len(pids) >= want:
                return
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=60) as r:
                pid = int(r.read().split()[0])
            with lock:
                pids.add(pid)
                counts["requests"] += 1
        except Exception:
            with lock:
                counts["errors"] += 1
            time.sleep(0.1)


threads = [threading.Thread(target=loop) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("pids %d, requests %d, errors %d" % (len(pids), counts["requests"], counts["errors"]))
sys.exit(0 if len(pids) >= want and counts["errors"] == 0 else 1)
