#!/usr/bin/env bash
# run.sh KIND STRATEGY REP [extra consumer k=v ...]
#   KIND lifecycle: 3 consumers start; +15s c4 joins; +30s c4 closes cleanly; +45s kill -9 c2
#   KIND zombie:    3 consumers start; +15s SIGSTOP c2; +30s SIGCONT c2 (paused > session timeout)
# Producer: 12 keys, 20 msg/s, acks=all, idempotent. Consumers: PROC_MS=5 "processing", sync commit.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=${BROKER:-127.0.0.1:61092}
KIND=$1 STRAT=$2 REP=$3; shift 3
EXTRA=("$@")
TAG=${TAG:-}
RUN=$HERE/runs/$KIND-$STRAT$TAG-$REP
rm -rf "$RUN"; mkdir -p "$RUN"; cd "$RUN" || exit 1
TOPIC=t-$KIND-$STRAT$TAG-$REP-$RANDOM GROUP=g-$KIND-$STRAT$TAG-$REP-$RANDOM
echo "$TOPIC $GROUP ${EXTRA[*]}" > meta
ms() { date +%s%3N; }
ev() { echo "$(ms) $1 ${2:--}" >> events.log; }
"$HERE/probe" create "$B" "$TOPIC" 6 > create.log 2>&1 || { cat create.log; exit 1; }
declare -A PID
start_c() { "$HERE/probe" consume "$B" "$TOPIC" "$GROUP" "$1" "$STRAT" 5 "${EXTRA[@]}" > "$1.log" 2>&1 & PID[$1]=$!; }
ev start3
for c in c1 c2 c3; do start_c $c; done
"$HERE/probe" produce "$B" "$TOPIC" 12 20 0 > prod.log 2>&1 & PP=$!
sleep 15
if [[ $KIND == lifecycle ]]; then
    ev join c4; start_c c4; sleep 15
    ev close c4; kill -TERM "${PID[c4]}"; sleep 15
    ev kill9 c2; kill -KILL "${PID[c2]}"; sleep 18
    LIVE=(c1 c3)
else
    ev stop c2; kill -STOP "${PID[c2]}"; sleep 15
    ev cont c2; kill -CONT "${PID[c2]}"; sleep 15
    LIVE=(c1 c2 c3)
fi
ev quiesce; kill -TERM $PP; wait $PP; sleep 6
"$HERE/probe" committed "$B" "$TOPIC" "$GROUP" 6 > committed-before-shutdown.log 2>&1
ev shutdown
for c in "${LIVE[@]}"; do kill -TERM "${PID[$c]}"; done
wait
ev end
python3 "$HERE/analyze.py" "$RUN" > summary.json
echo "done $RUN"
