#!/usr/bin/env bash
# Ends every process deploy/run.sh started, by pid: the simulator, the task worker, Wardline (SIGTERM, so it
# drains and flushes), then the services.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stop_pid() {  # stop_pid NAME: SIGTERM, wait up to 30 s, then SIGKILL
    local pidfile=$RUN_DIR/$1.pid pid
    [[ -r $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        say "$1 stopped (pid $pid)"
    fi
    rm -f "$pidfile"
}
stop_pid simulator
stop_pid worker
stop_pid wardline
"$DEPLOY/services.sh" down
