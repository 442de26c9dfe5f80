#!/usr/bin/env bash
# A simulated day through `wardline replay` (issue 15): 40 stable patients with artefacts and 10
# deteriorating ones (5 sepsis, 5 hypoxia) for 24 hours of device time, recorded by a release
# `wardline serve` with the shipped rules, then replayed with those and with a candidate.
# Needs the services (deploy/services.sh up) and release builds (swift build -c release;
# make -C firmware-sim).
#   bench/replay-day.sh [CANDIDATE.json [SPEED]]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. deploy/env.sh
CANDIDATE=${1:-rules/candidates/fewer-nuisance.json}
SPEED=${2:-300}
BIN=${WARDLINE_BENCH_BIN:-.build/release/wardline}
WARDLINE_DATABASE_URL=$WARDLINE_OWNER_DATABASE_URL "$BIN" migrate >/dev/null
WORK=$(mktemp -d /tmp/wardline-replay-day.XXXXXX)
ID=replayday$$
PASSWORD=$("$BIN" devices provision --kind wardline "$ID" | awk '{print $2}')
GATEWAYS=$WORK/gateways
( umask 077; "$BIN" devices provision --kind gateway "$ID-g1" "$ID-g2" "$ID-g3" "$ID-g4" >"$GATEWAYS" )
cleanup() {
    [[ -n ${SERVE:-} ]] && kill "$SERVE" 2>/dev/null || true
    "$BIN" devices revoke "$ID" "$ID-g1" "$ID-g2" "$ID-g3" "$ID-g4" >/dev/null 2>&1 || true
}
trap cleanup EXIT
export WARDLINE_VAR=$WORK WARDLINE_MQTT_CLIENT_ID=$ID WARDLINE_MQTT_USERNAME=$ID WARDLINE_MQTT_PASSWORD=$PASSWORD
export WARDLINE_RULES_FILE=rules/hospital-default.json WARDLINE_PAYLOAD_PATIENT_ID=unassigned WARDLINE_HTTP_PORT=18997
export WARDLINE_RABBITMQ_URL= WARDLINE_DEVICE_CLOCK_ALARM_S=0
"$BIN" serve >"$WORK/serve.log" 2>&1 &
SERVE=$!
for _ in $(seq 150); do grep -q "mqtt connected" "$WORK/serve.log" && break; sleep 0.2; done
grep -q "mqtt connected" "$WORK/serve.log" || { tail -5 "$WORK/serve.log" >&2; exit 1; }
FROM=$(date -u +%s%3N)
DURATION=$((86400 / SPEED))
echo "recording 24 h of device time at ${SPEED}x: ${DURATION} s"
firmware-sim/build/wardline-sim --devices 50 --mix stable:40,sepsis:5,hypoxia:5 --speed "$SPEED" --duration "$DURATION" \
    --artefacts-per-hour 2 --id-prefix "$ID-" --seed 2026 --quiet --gateway-credentials "$GATEWAYS"
sleep 5
kill -TERM "$SERVE"; wait "$SERVE" || true; SERVE=
TO=$(date -u +%s%3N)
echo "replaying $FROM–$TO: rules/hospital-default.json against $CANDIDATE"
/usr/bin/time -f "replay: %e s wall, %U s user, %M KiB peak resident" \
    "$BIN" replay --from "$FROM" --to "$TO" --current rules/hospital-default.json --rules "$CANDIDATE"
