#!/usr/bin/env bash
# WebSocket fan-out load benchmark: 1,000 nurse clients on 200 patients, one of them stalled,
# while the simulator publishes; reports publish → WebSocket frame latency against the broker
# alone (publish → bare MQTT subscriber, same stream, same run) and checks that every
# high-priority alarm reached every client entitled to it.
#
# Usage: bench/ward-load.sh            (both passes: 2,000 readings/s, then 10,000 readings/s)
# Env:   CLIENTS (1000) PATIENTS (200) STALL (1) DURATION (30 s per pass) SPEED (20: device clock
#        runs 20 × wall time, so the scenarios' deteriorations happen within a pass)
#        PASSES ("2000:200:X 10000:2000:Y" = rate:devices:id-prefix; clients always watch the
#        first PATIENTS patients of a pass) KEEP_WORK (1: keep the work folder)
#        WINDOW (5: seconds per row of the per-window latency table)
#        QUIET_BUSY (25 %) QUIET_WAIT (300 s): before a pass, wait until the machine is at most
#        QUIET_BUSY % busy (it is shared), at most QUIET_WAIT s; PERF (1: perf record wardline)
#        SOURCE (worktree: build the working tree; head: build the last commit, via git archive)
# Exit:  non-zero if a non-stalled client missed an alarm it was entitled to, if no high-priority
#        alarm was raised in a pass, or if the WebSocket p99 exceeds 1 s.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$REPO/bench
CLIENTS=${CLIENTS:-1000}
PATIENTS=${PATIENTS:-200}
STALL=${STALL:-1}
DURATION=${DURATION:-30}
SPEED=${SPEED:-20}
PASSES=${PASSES:-"2000:200:X 10000:2000:Y"}
# `demo` without offline-backlog (its backlog arrives with hours-old tx_us stamps, which would be
# the broker's and the hub's latency alike, but not live latency), with more hypoxia so that
# high-priority alarms (SpO2 < 90 for 10 s) happen within a pass.
MIX=${MIX:-stable:10,sepsis:3,hypoxia:4,bradycardia:1,probe-off:1,low-battery:1}
HTTP_PORT=18090
# BROKER=private (default): a mosquitto of the benchmark's own on MQTT_PORT (18831), configured like
# deploy/mosquitto/mosquitto.conf but without persistence, so that other users of the shared dev
# broker (other workspaces' tests publish to devices/+/vitals, stop and restart it) cannot stall or
# pollute the measurement. BROKER=shared: the one deploy/services.sh runs on 18830.
BROKER=${BROKER:-private}
if [[ $BROKER == private ]]; then MQTT_PORT=${MQTT_PORT:-18831}; else MQTT_PORT=${MQTT_PORT:-18830}; fi
DB=wardline_bench
ADMIN_URL=${WARDLINE_ADMIN_DATABASE_URL:-postgresql://wardline@127.0.0.1:15432/wardline}
DB_URL=${ADMIN_URL%/*}/$DB
BIN=$REPO/.build-bench/release/wardline
SIM=$REPO/firmware-sim/build/wardline-sim
LOAD=$BENCH/ward-load/build/ward-load
PY=/usr/bin/python3
# SOURCE=worktree (default): build the working tree; SOURCE=head: the last commit (git archive).
SOURCE=${SOURCE:-worktree}

say() { printf '[ward-load %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

ulimit -n 8192 || die "cannot raise the open-file limit to 8192 (need > $CLIENTS sockets)"
WORK=$(mktemp -d /tmp/ward-load.XXXXXX)
WARDLINE_PID= SIM_PID= LOAD_PID= BROKER_PID=
cleanup() {
    local rc=$?
    for pid in $SIM_PID $LOAD_PID; do kill -TERM "$pid" 2>/dev/null || true; done
    if [[ -n $WARDLINE_PID ]] && kill -0 "$WARDLINE_PID" 2>/dev/null; then
        kill -TERM "$WARDLINE_PID"
        for _ in $(seq 1 100); do kill -0 "$WARDLINE_PID" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$WARDLINE_PID" 2>/dev/null && { say "wardline did not stop in 20 s; SIGKILL"; kill -KILL "$WARDLINE_PID"; }
    fi
    [[ -n $BROKER_PID ]] && kill -TERM "$BROKER_PID" 2>/dev/null
    wait 2>/dev/null || true
    if [[ ${KEEP_WORK:-0} == 1 || $rc -ne 0 ]]; then say "work folder kept: $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# (a) services, (b) builds
say "services"
bash "$REPO/deploy/services.sh" up >/dev/null
say "building wardline (release, .build-bench), firmware-sim, ward-load"
if [[ $SOURCE == head ]]; then
    # The last commit, not the working tree (which may be half-edited): exported with git archive
    # (read-only for the repository) and built in its own scratch folder, from scratch each time.
    BUILT_FROM="$(git -C "$REPO" rev-parse --short HEAD) (committed tree only)"
    mkdir -p "$WORK/src"
    git -C "$REPO" archive HEAD Package.swift Sources Tests | tar -x -C "$WORK/src"
    [[ -f $REPO/Package.resolved ]] && cp "$REPO/Package.resolved" "$WORK/src/"   # git-ignored: pinned here
    BUILD_DIR=$REPO/.build-bench-head
    (cd "$WORK/src" && swift build -c release --scratch-path "$BUILD_DIR" --product wardline >"$WORK/build.log" 2>&1) \
        || { tail -30 "$WORK/build.log"; die "swift build failed"; }
    BIN=$BUILD_DIR/release/wardline
else
    BUILT_FROM="$(git -C "$REPO" rev-parse --short HEAD) + uncommitted changes in: $(git -C "$REPO" status --short -- Sources Package.swift | awk '{printf "%s ", $2}')"
    (cd "$REPO" && swift build -c release --scratch-path "$REPO/.build-bench" --product wardline >"$WORK/build.log" 2>&1) \
        || { tail -30 "$WORK/build.log"; die "swift build failed (SOURCE=head builds the last commit instead)"; }
fi
make -s -C "$REPO/firmware-sim" >/dev/null
make -s -C "$BENCH/ward-load" >/dev/null

if [[ $BROKER == private ]]; then
    port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    port_open "$MQTT_PORT" && die "port $MQTT_PORT is taken; set MQTT_PORT or BROKER=shared"
    cat >"$WORK/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 5000000
max_inflight_messages 1000
set_tcp_nodelay true
log_dest stdout
CONF
    say "private broker: mosquitto on 127.0.0.1:$MQTT_PORT"
    /usr/sbin/mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 1 50); do port_open "$MQTT_PORT" && break; sleep 0.1; done
    port_open "$MQTT_PORT" || { cat "$WORK/mosquitto.log"; die "private mosquitto did not start"; }
fi

# (c) a fresh database
say "database $DB"
psql "$ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
WARDLINE_DATABASE_URL=$DB_URL "$BIN" migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; die "migrate failed"; }

# (d) wardline serve
export WARDLINE_JWT_SECRET=bench-secret-0123456789
mkdir -p "$WORK/var"
say "wardline serve on 127.0.0.1:$HTTP_PORT (log: $WORK/wardline.log)"
(cd "$REPO" && exec env WARDLINE_DATABASE_URL="$DB_URL" WARDLINE_VAR="$WORK/var" \
    WARDLINE_MQTT_CLIENT_ID=wardline-bench-$$ WARDLINE_MQTT_PORT=$MQTT_PORT WARDLINE_HTTP_PORT=$HTTP_PORT \
    WARDLINE_STATS_INTERVAL_S=5 WARDLINE_ASSIGNMENT_REFRESH_S=1 \
    WARDLINE_PAYLOAD_PATIENT_ID=unassigned \
    WARDLINE_DASHBOARD_DIR="$REPO/dashboards" "$BIN" serve) >"$WORK/wardline.log" 2>&1 &
WARDLINE_PID=$!
for i in $(seq 1 120); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$HTTP_PORT/ready" 2>/dev/null) == 200 ]] && break
    kill -0 "$WARDLINE_PID" 2>/dev/null || { tail -20 "$WORK/wardline.log"; die "wardline serve exited"; }
    [[ $i == 120 ]] && { curl -s "127.0.0.1:$HTTP_PORT/ready"; tail -20 "$WORK/wardline.log"; die "wardline not ready after 60 s"; }
    sleep 0.5
done

# (e) patients, care assignments, tokens (one set of nurses; one patient per nurse per prefix)
prefixes=$(for p in $PASSES; do printf '%s,' "${p##*:}"; done)
ADMIN=$("$BIN" token --user bench-admin --role admin --ward '*' | tail -1)
$PY "$BENCH/ward_load_setup.py" setup --base "http://127.0.0.1:$HTTP_PORT" --admin-token "$ADMIN" \
    --prefixes "${prefixes%,}" --patients "$PATIENTS" --nurses "$CLIENTS" --wardline "$BIN" --out-dir "$WORK"
sleep 2   # WARDLINE_ASSIGNMENT_REFRESH_S=1: the hub re-reads who cares for whom

# The machine is shared (other workspaces build and test on the same 2 cores): measure how busy
# it is, and wait for it to be quiet before a pass so the numbers are Wardline's, not a compiler's.
cpu_busy() {   # busy share of all CPUs over $1 seconds, percent
    local a b
    a=($(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)); sleep "$1"
    b=($(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat))
    awk -v bu=$((b[0] - a[0])) -v id=$((b[1] - a[1])) 'BEGIN {printf "%.0f", 100 * bu / (bu + id)}'
}
QUIET_BUSY=${QUIET_BUSY:-25}     # percent of the whole machine
QUIET_WAIT=${QUIET_WAIT:-300}    # seconds
wait_quiet() {
    local start=$SECONDS busy
    while busy=$(cpu_busy 2); (( busy > QUIET_BUSY )); do
        if (( SECONDS - start > QUIET_WAIT )); then say >&2 "machine still ${busy} % busy after ${QUIET_WAIT} s; measuring anyway"; break; fi
        say >&2 "machine ${busy} % busy (others: $(ps -eo pcpu=,comm= --sort=-pcpu | head -3 | awk '{printf "%s %s%% ", $2, $1}')); waiting"
        sleep 5
    done
    echo "$busy"
}

# (f, g, h) the passes
status=0
report=()
summary=()
# One value from /metrics as an integer (gauges are written as 1000.0), empty if it does not answer
# within 3 s: it can be that slow under load.
metric() { { curl -s -m 3 "127.0.0.1:$HTTP_PORT/metrics" || true; } | awk -v k="$1" '$1 == k {printf "%d\n", $2}'; }
val() { { grep -o "\b$1=[0-9.]*" <<<"$2" || true; } | head -1 | cut -d= -f2; }
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u / 1000}'; }
for pass in $PASSES; do
    IFS=: read -r rate devices prefix <<<"$pass"
    tag="rate${rate}"
    say "pass $tag: $CLIENTS clients ($STALL stalled) on $PATIENTS patients (PAT-${prefix}00000…), simulator --devices $devices --rate $rate"
    rm -f "$WORK/ready-$tag"
    idle_busy=$(wait_quiet | tail -1)
    loadcmd=("$LOAD" --url "127.0.0.1:$HTTP_PORT" --tokens "$WORK/tokens-$prefix.txt" --duration 3600 --stall "$STALL"
             --out "$WORK/clients-$tag.tsv" --mqtt-port "$MQTT_PORT" --device-prefix "$prefix" --ready-file "$WORK/ready-$tag"
             --window "${WINDOW:-5}")
    "${loadcmd[@]}" >"$WORK/load-$tag.out" 2>"$WORK/load-$tag.err" &
    LOAD_PID=$!
    for i in $(seq 1 150); do
        [[ -e $WORK/ready-$tag ]] && break
        kill -0 "$LOAD_PID" 2>/dev/null || { cat "$WORK/load-$tag.err"; die "ward-load exited early"; }
        sleep 0.4
    done
    [[ -e $WORK/ready-$tag ]] || die "ward-load clients not subscribed after 60 s"
    say "$(head -1 "$WORK/load-$tag.out")"
    simcmd=("$SIM" --port "$MQTT_PORT" --devices "$devices" --rate "$rate" --duration "$DURATION" --mix "$MIX" --speed "$SPEED"
            --id-prefix "$prefix" --quiet)
    "${simcmd[@]}" >"$WORK/sim-$tag.out" 2>"$WORK/sim-$tag.err" &
    SIM_PID=$!
    # Wardline's own view while the pass runs: resident set each second.
    rss_max=0
    t_subscribed=$(stat -c %Y "$WORK/ready-$tag")
    session_drop="never during the simulator's run"
    metrics_max_ms=0 metrics_timeouts=0
    cpu0=$(awk '{print $14 + $15}' "/proc/$WARDLINE_PID/stat")
    stat0=($(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat))
    if [[ ${PERF:-0} == 1 ]]; then   # a CPU profile of wardline serve in the middle of the pass
        (sleep 5; perf record -q -F 499 -g -p "$WARDLINE_PID" -o "$WORK/perf-$tag.data" -- sleep 10 >/dev/null 2>&1) &
    fi
    (sleep $((DURATION / 2)); top -b -n 2 -d 3 -w 200 | awk '/^top -/ {n++} n == 2' >"$WORK/top-$tag.txt") &
    while kill -0 "$SIM_PID" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$WARDLINE_PID/status" 2>/dev/null || echo 0)
        (( rss > rss_max )) && rss_max=$rss
        t_m=$EPOCHREALTIME
        n=$(metric wardline_websocket_sessions)
        metrics_ms=$(awk -v a="$t_m" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}')
        (( metrics_ms > metrics_max_ms )) && metrics_max_ms=$metrics_ms
        [[ -z $n ]] && metrics_timeouts=$((metrics_timeouts + 1))
        if [[ $session_drop == never* && -n $n && $n -lt $CLIENTS ]]; then
            session_drop="$(( $(date +%s) - t_subscribed )) s after the clients subscribed ($n sessions left)"
        fi
        sleep 1
    done
    wait "$SIM_PID" || say "simulator exited non-zero: $(cat "$WORK/sim-$tag.err" | tail -3)"
    SIM_PID=
    cpu1=$(awk '{print $14 + $15}' "/proc/$WARDLINE_PID/stat")
    stat1=($(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat))
    pass_busy=$(awk -v bu=$((stat1[0] - stat0[0])) -v id=$((stat1[1] - stat0[1])) 'BEGIN {printf "%.0f", 100 * bu / (bu + id)}')
    wardline_cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v d="$DURATION" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", 100 * (b - a) / hz / d}')
    sleep 3   # the last readings and alarms reach the clients
    sessions_before_stop=$(metric wardline_websocket_sessions)
    kill -TERM "$LOAD_PID"
    wait "$LOAD_PID" || die "ward-load failed: $(tail -5 "$WORK/load-$tag.err")"
    LOAD_PID=
    check_out=$($PY "$BENCH/ward_load_setup.py" check --db "$DB_URL" --tsv "$WORK/clients-$tag.tsv" --prefix "$prefix") || status=1
    out=$(cat "$WORK/load-$tag.out")
    ws_p99=$(val ws_p99_us "$out")
    if [[ -z $ws_p99 || $ws_p99 -gt 1000000 ]]; then say "ws p99 missing or above 1 s"; status=1; fi
    missing=$(val missing_deliveries "$check_out")
    summary+=("$(printf '%-10s ws p50 %7s ms p99 %7s ms | mqtt p50 %6s ms p99 %7s ms | ratio p99 %5s | steady: ws p99 %7s ms, mqtt p99 %7s ms, ratio %5s | missed alarms %s | machine %s%% busy' \
        "$tag" "$(ms "$(val ws_p50_us "$out")")" "$(ms "$ws_p99")" "$(ms "$(val mqtt_p50_us "$out")")" "$(ms "$(val mqtt_p99_us "$out")")" \
        "$(val ratio_p99 "$out")" "$(ms "$(val steady_ws_p99_us "$out")")" "$(ms "$(val steady_mqtt_p99_us "$out")")" \
        "$(val steady_ratio_p99 "$out")" "$missing" "$pass_busy")")
    report+=("=== pass $tag: $CLIENTS clients ($STALL stalled) watching $PATIENTS patients; simulator: ${simcmd[*]#$REPO/}"
             "simulator: $(tail -1 "$WORK/sim-$tag.out")"
             "$out"
             "$check_out"
             "GET /metrics once a second during the run: slowest answer ${metrics_max_ms} ms, ${metrics_timeouts} without an answer within 3 s"
             "server sessions: first fewer than $CLIENTS: $session_drop; just before the clients stopped: ${sessions_before_stop}"
             "machine ($(nproc) CPUs): ${idle_busy} % busy just before the pass, ${pass_busy} % busy during it"
             "top (mid-pass, %CPU of one core): $(awk '$1 ~ /^[0-9]+$/ && $9 > 1 {printf "%s %s%%, ", $12, $9}' "$WORK/top-$tag.txt")"
             "wardline: ${wardline_cpu} % of one core during the simulator's run; peak RSS $((rss_max / 1024)) MiB; /metrics: $({ curl -s -m 10 "127.0.0.1:$HTTP_PORT/metrics" || true; } | { grep -E '^wardline_(websocket|alarms)[a-z_]* ' || true; } | tr '\n' ' ')")
done

say "stopping wardline (SIGTERM)"
kill -TERM "$WARDLINE_PID"
for _ in $(seq 1 100); do kill -0 "$WARDLINE_PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$WARDLINE_PID" 2>/dev/null && { say "wardline did not stop in 20 s"; status=1; }
wait "$WARDLINE_PID" 2>/dev/null || true
WARDLINE_PID=
if [[ -n $BROKER_PID ]]; then kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true; BROKER_PID=; fi
grep -E 'stats|warning|error' "$WORK/wardline.log" | grep -v '^$' | tail -8 >"$WORK/wardline-tail.txt" || true

echo
echo "================ ward-load report ================"
echo "wardline built from $BUILT_FROM"
printf '%s\n' "${report[@]}"
echo "--- summary (publish → frame vs publish → bare MQTT subscriber, same stream, same run):"
printf '%s\n' "${summary[@]}"
echo "--- wardline log (last stats/warnings):"
cat "$WORK/wardline-tail.txt"
echo "verdict: $([[ $status == 0 ]] && echo PASS || echo FAIL) (every entitled alarm delivered to every non-stalled client; ws p99 < 1 s)"
exit $status
