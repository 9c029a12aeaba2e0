# Several processes in one cgroup, each of which fits alone: the default scope
# (auto) measures the cgroup's charge when its limit is in force, so every process
# trims as the cgroup nears the limit. With scope process each one compares only
# its own memory with 90% of the limit, none trims, and together they overshoot.
# Three shapes, each in a 256 MiB cgroup: four C processes leaving freed holes
# (tests/work/holes: 80 MiB touched, 40 live each, held 3 s); Python
# multiprocessing with four forked workers doing the same (64 MiB) and holding it 5 s
# (tests/work/prefork.py; at 72 MiB scope auto peaked at 255.7 MiB, docs/events-and-
# scopes.md); and a real prefork
# server, Debian's gunicorn with four sync workers whose first request builds such
# a cache (tests/work/wsgi, 64 MiB touched each). Expected: scope process at least
# one OOM kill in each; auto none, every process done.
. "$ROOT/tests/integration/lib.sh"
need_cgroup
LIMIT=$((256 << 20)) T=$ROOT/build/multiproc
rm -rf "$T"; mkdir -p "$T"
PY=$(python3 -c 'import sys; print(sys.executable)')

holes() { # SCOPE: four processes at once; prints their exit statuses
    local pids="" rcs="" i
    for i in 1 2 3 4; do
        cg_run "$CG_DIR" env LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=$1 MEMLIMIT_TRACE=1 \
            MEMLIMIT_LOG="$T/holes-$1-$i.log" "$W/holes" 80 8 3000 > "$T/holes-$1-$i.out" 2>&1 & pids="$pids $!"
    done
    for i in $pids; do wait $i; rcs="$rcs $?"; done
    echo $rcs
}
prefork() { # SCOPE
    cg_run "$CG_DIR" env LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=$1 "$PY" "$ROOT/tests/work/prefork.py" 64 4 \
        > "$T/prefork-$1.out" 2>&1
    echo $?
}
gunicorn_run() { # SCOPE: prints the client's exit status
    local port gp rc pidf=$T/gunicorn-$1.pid
    # a port nobody listens on (a fixed range could meet an earlier run's server)
    port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
    rm -f "$pidf"
    cg_run "$CG_DIR" env LD_PRELOAD="$LIB" MEMLIMIT_SCOPE=$1 HOLES_MIB=64 gunicorn --workers 4 \
        --bind 127.0.0.1:$port --chdir "$ROOT/tests/work/wsgi" --log-level warning --timeout 300 \
        --pid "$pidf" holes_app:app > "$T/gunicorn-$1.log" 2>&1 & gp=$!
    for _ in $(seq 600); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2> /dev/null && break
        sleep 0.1
    done
    python3 "$ROOT/tests/work/wsgi/client.py" $port 4 $([ $1 = auto ] && echo 120 || echo 30) > "$T/client-$1.out" 2>&1; rc=$?
    echo "$(cg_oom_kills "$CG_DIR") $(cg_peak "$CG_DIR")" > "$T/gunicorn-$1.served" # then the shutdown
    # the arbiter itself ($gp is the shell that started it): it stops its workers
    kill -TERM "$(cat "$pidf" 2> /dev/null)" 2> /dev/null; wait $gp
    echo $rc
}

for shape in holes prefork gunicorn; do
    command -v gunicorn > /dev/null || { [ $shape = gunicorn ] && fail "gunicorn missing (scripts/deps)"; }
    for scope in process auto; do
        new_cgroup mp-$shape-$scope $LIMIT
        case $shape in
            holes) r=$(holes $scope) ;;
            prefork) r=$(prefork $scope) ;;
            gunicorn) r=$(gunicorn_run $scope) ;;
        esac
        kills=$(cg_oom_kills "$CG_DIR") peak=$(cg_peak "$CG_DIR") down=""
        if [ $shape = gunicorn ]; then
            # in a graceful shutdown (SIGTERM, as Kubernetes sends) every worker's Python
            # finalisation writes reference counts into the pages it shares with the
            # arbiter since fork: copies, charged at once, that no allocation shows (the
            # cgroup rose from 227 MiB to its limit while each worker's RssAnon fell;
            # docs/events-and-scopes.md): said, not judged
            read -r k p < "$T/gunicorn-$scope.served"
            down=" while serving; in the graceful shutdown after: peak $(mib "$peak"), $((kills - k)) kills"
            kills=$k peak=$p
        fi
        echo "$shape, scope $scope: exits $r, peak $(mib "$peak") of 256 MiB, oom_kill $kills$down"
        if [ $scope = process ]; then
            [ "$kills" -ge 1 ] || fail "$shape: no OOM kill with scope process (the test shows nothing)"
        else
            [ "$kills" = 0 ] || fail "$shape: OOM kill with scope auto"
            for x in $r; do [ "$x" = 0 ] || fail "$shape: exit statuses $r"; done
        fi
    done
done
grep -q 'scope auto (cgroup)' "$T/holes-auto-1.log" || fail "auto did not measure the cgroup: $(head -2 "$T/holes-auto-1.log")"
grep -q 'prefork: 4 workers, 64 MiB each, exit codes 0 0 0 0' "$T/prefork-auto.out" || fail "$(cat "$T/prefork-auto.out")"
grep -q 'pids 4, .* errors 0' "$T/client-auto.out" || fail "gunicorn client: $(cat "$T/client-auto.out")"
