# SPDX-License-Identifier: MIT
# The real programs of `make check-real`, one pair of functions each (sourced by
# tests/real/run). setup_NAME DIR makes the inputs (not measured, no library);
# run_NAME DIR is the measured run: what it prints to stdout is compared byte for
# byte between the run without and the run with the library, and it exits non-zero
# when the program failed. Everything is deterministic: fixed seeds, fixed dates.
# CASES lists them in the order they run.
CASES="python3 python3-tests perl ruby sqlite3 jq sort xz git redis postgres nodejs"

PY=/usr/bin/python3
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

# ---- python3: dicts, lists, strings and a gc of cycles; about 300 MiB at its peak
setup_python3() { :; }
run_python3() {
    "$PY" - <<'PY'
import gc, hashlib, random
random.seed(7)
h = hashlib.sha256()
for rnd in range(3):
    d = {("k%d" % i): [i, str(i) * 3, (i, i + 1)] for i in range(400000)}
    lst = [random.random() for _ in range(600000)]
    lst.sort()
    h.update(repr(lst[::5000]).encode()); h.update(str(len(d)).encode())
    cyc = []
    for i in range(100000):
        a = {}; b = {"a": a}; a["b"] = b; cyc.append(a)
    del d, lst, cyc
    print(rnd, gc.collect() > 0)
print(h.hexdigest())
# a request no machine here can serve: refused by malloc without the library, by
# the hard limit with it; the program handles MemoryError the same either way
try:
    big = bytearray(1 << 40)
except MemoryError:
    print("MemoryError for 1 TiB")
PY
}
refusals_python3() { :; } # the 1 TiB request above: the hard limit must refuse it

# ---- python3's own regression tests (Debian's libpython3.X-testsuite)
setup_python3_tests() { :; }
run_python3_tests() {
    cd "$1" && "$PY" -m test test_dict test_list test_threading test_subprocess > out.txt 2>&1
    local rc=$?
    # timings and load averages differ from run to run; the verdicts must not
    sed -E -e 's/^[0-9]+:[0-9]+:[0-9]+ (load avg: [0-9.]+ )?//' -e '/^Total duration/d' \
        -e 's/ in [0-9.]+ (sec|ms|min)//' out.txt
    return $rc
}

# ---- perl: hashes, sorting, regular expressions, sprintf
setup_perl() { :; }
run_perl() {
    perl -e '
        use strict; srand(11);
        my %h; for my $i (1 .. 600000) { $h{"key$i"} = [$i, "v" x ($i % 50)]; }
        my @k = sort { $h{$a}[0] <=> $h{$b}[0] } grep { /7/ } keys %h;
        print scalar(@k), " ", $k[0], " ", $k[-1], "\n";
        my $s = join(",", map { sprintf("%08x", int(rand(2**31))) } 1 .. 300000);
        my $n = () = $s =~ /a[0-9]b/g; print length($s), " $n\n";
        undef %h; my @big = map { [$_ x 3] } 1 .. 300000; print scalar(@big), "\n";'
}

# ---- ruby: the same kind of work, plus GC.compact
setup_ruby() { :; }
run_ruby() {
    ruby -e '
        srand(5)
        h = {}; 500_000.times { |i| h["k#{i}"] = [i, "x" * (i % 40)] }
        a = Array.new(600_000) { rand }.sort
        puts h.size, a[1000].round(12), a[-1].round(12)
        h = nil; a = nil; GC.start; GC.compact rescue nil
        s = (1..200_000).map { |i| i.to_s(36) }.join("-")
        puts s.length, s.scan(/a[0-9]/).size'
}

# ---- sqlite3: 400k rows, an index, group by, order by beyond its cache
setup_sqlite3() { :; }
run_sqlite3() {
    rm -f "$1/db.sqlite"
    sqlite3 "$1/db.sqlite" <<'SQL'
PRAGMA cache_size = -65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, s TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000)
INSERT INTO t SELECT x, (x * 7919) % 1000, hex(x * 2654435761) FROM c;
CREATE INDEX t_g ON t(g, s);
SELECT g, count(*), sum(id), max(s) FROM t GROUP BY g ORDER BY g LIMIT 5;
SELECT s FROM t ORDER BY s DESC LIMIT 3;
SELECT count(DISTINCT s), total(length(s)) FROM t;
PRAGMA integrity_check;
SQL
}

# ---- jq: a 40 MB document grouped, sorted and rebuilt
setup_jq() {
    "$PY" - "$1/in.json" <<'PY'
import json, random, sys
random.seed(3)
docs = [{"id": i, "g": random.randrange(500), "name": "n%x" % random.getrandbits(40),
         "tags": [random.choice("abcdefgh") for _ in range(5)], "v": random.random()} for i in range(200000)]
json.dump(docs, open(sys.argv[1], "w"))
PY
}
run_jq() {
    jq -c 'group_by(.g) | map({g: .[0].g, n: length, top: (sort_by(.v) | .[-1].name),
        tags: ([.[].tags[]] | unique)}) | .[0:50]' "$1/in.json" &&
        jq '[.[] | select(.v > 0.5) | .id] | length' "$1/in.json"
}

# ---- sort: 1.5 million lines, two threads, a 96 MiB buffer
setup_sort() {
    awk 'BEGIN {srand(9); for (i = 0; i < 1500000; i++) printf "%08x %d %s\n", int(rand() * 4294967295), i, substr("abcdefghijklmnop", 1 + i % 16)}' > "$1/in.txt"
}
run_sort() { sort --parallel=2 -S 96M -k1,1 -k2n "$1/in.txt"; }

# ---- xz with two threads: compress, then decompress what it wrote
setup_xz() { awk 'BEGIN {srand(4); for (i = 0; i < 1200000; i++) printf "%d %s %.6f\n", i, (i % 7 ? "same" : "other"), rand()}' > "$1/in.txt"; }
run_xz() {
    xz -T2 -6 --block-size=8MiB -c "$1/in.txt" > "$1/out.xz" || return 1
    sha256sum < "$1/out.xz"
    xz -T2 -dc "$1/out.xz" | sha256sum
}

# ---- git: a repository made by the test, then gc, fsck, log, archive
setup_git() { :; }
run_git() {
    local r=$1/repo
    rm -rf "$r"; mkdir -p "$r" && cd "$r" || return 1
    export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
    export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" GIT_CONFIG_NOSYSTEM=1 HOME=$1
    git init -q -b main . || return 1
    for c in $(seq 1 120); do
        awk -v c="$c" 'BEGIN {for (i = 0; i < 2000; i++) printf "line %d of commit %d %d\n", i, c, (i * c) % 97}' > "f$((c % 10)).txt"
        git add -A && git commit -q -m "commit $c" || return 1
    done
    git gc -q --aggressive && git fsck --full --strict 2>&1 && git count-objects -v | grep -v -E '^size' &&
        git log --stat --format='%H %s' | sha256sum && git archive --format=tar HEAD | sha256sum &&
        git rev-list --objects --all | wc -l
}

# ---- redis-server (jemalloc inside) under redis-benchmark, then a fixed command file
setup_redis() {
    awk 'BEGIN {for (i = 0; i < 20000; i++) { printf "SET key:%d %s\n", i, sprintf("%0200d", i);
        printf "RPUSH list:%d a%d b%d c%d\n", i % 100, i, i, i } print "DBSIZE"; print "LLEN list:7";
        print "GET key:12345"; print "LRANGE list:3 0 4" }' > "$1/cmds.txt"
}
run_redis() {
    local port=$((20000 + RANDOM % 20000))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$1" --logfile "$1/redis.log" & local pid=$!
    for _ in $(seq 100); do redis-cli -p "$port" PING > /dev/null 2>&1 && break; sleep 0.05; done
    redis-benchmark -p "$port" -q -n 50000 -c 20 -P 8 -d 512 -r 100000 -t set,get,lpush,lpop,sadd > "$1/bench.txt" 2>&1 ||
        { kill $pid; return 1; }
    redis-cli -p "$port" FLUSHALL > /dev/null
    redis-cli -p "$port" < "$1/cmds.txt" > "$1/replies.txt"
    sha256sum < "$1/replies.txt"; tail -n 8 "$1/replies.txt"
    redis-cli -p "$port" SHUTDOWN NOSAVE > /dev/null 2>&1
    wait $pid
    grep -c 'requests per second' "$1/bench.txt"
}

# ---- postgres: initdb, a server (fork without exec, shared memory), SQL, pgbench.
# Runs as the postgres user (it refuses root); its directory is under /tmp for that.
setup_postgres() { id postgres > /dev/null 2>&1 && [ -x "$PGBIN/postgres" ]; }
run_postgres() {
    local d; d=$(mktemp -d /tmp/memlimit-pg.XXXXXX) && chmod 0755 "$d" && chown postgres: "$d" || return 1
    local port=$((20000 + RANDOM % 20000))
    as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$d" "$@"; }
    as_pg "$PGBIN/initdb" -D "$d/data" -A trust -U postgres --no-sync --locale=C.UTF-8 -E UTF8 > "$1/initdb.txt" 2>&1 ||
        { cat "$1/initdb.txt" >&2; rm -rf "$d"; return 1; }
    as_pg "$PGBIN/pg_ctl" -D "$d/data" -l "$d/log" -w -o "-k $d -c listen_addresses='' -p $port -c shared_buffers=64MB -c work_mem=1MB -c fsync=off" start > /dev/null ||
        { cat "$d/log" >&2; rm -rf "$d"; return 1; }
    as_pg psql -X -q -h "$d" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE t AS SELECT g AS id, md5(g::text) AS s, g % 1000 AS k FROM generate_series(1, 300000) g;
CREATE INDEX ON t (s);
SELECT k, count(*), min(s), max(s) FROM t GROUP BY k ORDER BY k LIMIT 5;
SELECT s FROM t ORDER BY s LIMIT 3;
SELECT count(*) FROM t a JOIN t b ON a.s = b.s WHERE a.k < 100;
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 50000) SELECT sum(n) FROM r;
SQL
    local rc=$?
    as_pg "$PGBIN/pgbench" -h "$d" -p "$port" -U postgres -i -s 4 -q postgres > "$1/pgbench-init.txt" 2>&1 &&
        as_pg "$PGBIN/pgbench" -h "$d" -p "$port" -U postgres -c 4 -j 2 -t 400 postgres > "$1/pgbench.txt" 2>&1 || rc=1
    grep -E '^number of (transactions actually processed|failed transactions)' "$1/pgbench.txt" |
        sed 's/ (.*//'
    as_pg "$PGBIN/pg_ctl" -D "$d/data" -m fast -w stop > /dev/null || rc=1
    grep -c -E 'PANIC|server process .* was terminated' "$d/log"
    rm -rf "$d"
    return $rc
}

# ---- nodejs: V8 reserves gigabytes of address space that must not count as usage
setup_nodejs() { :; }
run_nodejs() {
    node -e '
        let h = 0; const mix = (s) => { for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0; };
        for (let r = 0; r < 3; r++) {
            const m = new Map(); for (let i = 0; i < 400000; i++) m.set("k" + i, { i, s: "v".repeat(i % 30) });
            const a = []; let x = 12345; for (let i = 0; i < 500000; i++) { x = (x * 1103515245 + 12345) >>> 0; a.push(x); }
            a.sort((p, q) => p - q); mix(String(a[1000]) + m.size);
            const b = Buffer.alloc(32 << 20, r); mix(String(b[12345]));
            mix(JSON.stringify([...m.values()].slice(0, 1000)));
        }
        console.log(h);'
}
