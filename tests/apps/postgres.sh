# SPDX-License-Identifier: MIT
# PostgreSQL under a connection pool's load, for tests/apps/run (sourced): the server
# runs in the memory cgroup, its 12 clients (psql) outside it. Each client sorts 400
# 000 rows twice with work_mem = 48MB, staggered 0.4 s apart, then holds its
# connection idle until 6 s have passed, as a pool does. A backend keeps what glibc
# did not return after its sorts (up to 51 MiB of RssAnon each here; malloc_trim
# returns about two thirds of it), so the idle backends add up while the others
# sort. Backends are single-threaded processes: the arena cap changes nothing.
#
# pg_run CGDIR ENV...: one run with the server's environment ENV; returns 0 when every
# client completed.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
pg_run() {
    local cg=$1 d port rc=0 pids="" c srv
    shift
    d=$(mktemp -d /tmp/memlimit-apps-pg.XXXXXX) && chmod 0755 "$d" && chown postgres: "$d" || return 1
    port=$((20000 + RANDOM % 20000))
    as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$d" "$@"; }
    as_pg "$PGBIN/initdb" -D "$d/data" -A trust -U postgres --no-sync --locale=C.UTF-8 -E UTF8 > "$d/initdb" 2>&1 ||
        { cat "$d/initdb" >&2; rm -rf "$d"; return 1; }
    cg_run "$cg" env "$@" setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$d" \
        "$PGBIN/postgres" -D "$d/data" -k "$d" -c listen_addresses= -p $port -c shared_buffers=16MB \
        -c fsync=off -c max_connections=40 > "$d/log" 2>&1 &
    srv=$!
    for _ in $(seq 100); do
        as_pg psql -X -q -h "$d" -p $port -U postgres -d postgres -c 'select 1' > /dev/null 2>&1 && break
        sleep 0.1
    done
    as_pg psql -X -q -h "$d" -p $port -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS s FROM generate_series(1, 400000) g" ||
        rc=1
    for c in $(seq 12); do
        as_pg psql -X -q -A -t -h "$d" -p $port -U postgres -d postgres -v ON_ERROR_STOP=1 > "$d/client$c" 2>&1 <<SQL &
SET work_mem = '48MB';
SELECT pg_sleep($c * 0.4);
SELECT count(*) FROM (SELECT s FROM t ORDER BY s) x;
SELECT count(*) FROM (SELECT id, s FROM t ORDER BY md5(s)) x;
SELECT pg_sleep(6 - $c * 0.4);
SQL
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || rc=1; done
    # the counts, once: what the reference run's output is compared with
    [ $rc = 0 ] && sort -u "$d"/client* | grep -v '^$'
    as_pg "$PGBIN/pg_ctl" -D "$d/data" -m immediate -w stop > /dev/null 2>&1
    wait $srv 2> /dev/null
    for _ in $(seq 20); do
        [ -n "$(cat "$cg/cgroup.procs" 2> /dev/null)" ] || break
        xargs -r kill -9 < "$cg/cgroup.procs" 2> /dev/null; sleep 0.1
    done
    rm -rf "$d"
    return $rc
}
