#!/usr/bin/env bash
# The README's run command: installs and starts the services on loopback, builds Wardline in
# release mode, migrates the schema, starts `wardline serve` and the device simulator in the
# background, and says where to look. `deploy/stop.sh` ends all of it.
set -euo pipefail
. "$(dirname "$0")/prepare.sh"

say "build wardline (release)"
swift build -c release --product wardline 2>&1 | grep -E 'error|warning: unre|Compiling wardline|Build' || true
BIN=$(swift build -c release --show-bin-path)/wardline
[[ -x $BIN ]] || die "build failed"
# The owner changes the schema; serve and worker run as Wardline's own role (WARDLINE_DATABASE_URL).
WARDLINE_DATABASE_URL=$WARDLINE_OWNER_DATABASE_URL "$BIN" migrate

mkdir -p "$RUN_DIR" "$LOG_DIR"
# HTTPS by default, with deploy/tls.sh's certificate for loopback (signed by the project's CA,
# var/tls/ca.crt); WARDLINE_TLS_CERT_FILE= (empty) serves plain HTTP instead.
if [[ -z ${WARDLINE_TLS_CERT_FILE+set} ]]; then
    "$DEPLOY/tls.sh"
    export WARDLINE_TLS_CERT_FILE=$VAR/tls/web.crt WARDLINE_TLS_KEY_FILE=$VAR/tls/web.key
fi
# --retry: a big demo ward admits more patients than one token's burst (WARDLINE_RATE_LIMIT_BURST);
# curl waits out each 429's Retry-After.
CURL=(curl -sf --retry 20)
SCHEME=http
if [[ -n ${WARDLINE_TLS_CERT_FILE:-} ]]; then
    SCHEME=https
    CURL+=(--cacert "$VAR/tls/ca.crt")
fi
start_bg() {  # start_bg NAME CMD...: one background process with a pid file, unless it already runs
    local name=$1 pidfile=$RUN_DIR/$1.pid
    shift
    if [[ -r $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "$name already running (pid $(cat "$pidfile"))"
        return
    fi
    nohup "$@" >>"$LOG_DIR/$name.log" 2>&1 &
    echo $! >"$pidfile"
    say "$name started (pid $!, log $LOG_DIR/$name.log)"
}
start_bg wardline "$BIN" serve
for _ in $(seq 300); do
    grep -q "mqtt connected" "$LOG_DIR/wardline.log" 2>/dev/null && break
    kill -0 "$(cat "$RUN_DIR/wardline.pid")" 2>/dev/null || { tail -5 "$LOG_DIR/wardline.log" >&2; die "wardline exited; see $LOG_DIR/wardline.log"; }
    sleep 0.1
done

# The demo ward: the simulator's patients admitted to ward 4B, one bed each, through the REST API.
DEVICES=${WARDLINE_DEMO_DEVICES:-20}
WARD=${WARDLINE_DEMO_WARD:-4B}
API="$SCHEME://${WARDLINE_HTTP_HOST:-127.0.0.1}:${WARDLINE_HTTP_PORT:-18080}"
for _ in $(seq 100); do "${CURL[@]}" "$API/health" >/dev/null && break; sleep 0.1; done
ADMIN_TOKEN=$("$BIN" token --user demo-admin --role admin --ward '*' --ttl 1h)
for ((i = 0; i < DEVICES; i++)); do
    printf -v patient 'PAT-%05d' "$i"
    "${CURL[@]}" -X PUT -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        -d "{\"ward\":\"$WARD\",\"bed\":\"$((i + 1))\"}" "$API/api/v1/patients/$patient" >/dev/null \
        || die "could not admit $patient through $API"
done
say "admitted $DEVICES demo patients to ward $WARD"
WARD_TOKEN=$("$BIN" token --user demo-charge-nurse --role charge_nurse --ward "$WARD" --ttl 12h)
# Pages, escalations and the ward summary (log channel unless WARDLINE_NOTIFY_CHANNELS says more).
start_bg worker "$BIN" worker

if [[ -f firmware-sim/Makefile ]]; then
    make -s -C firmware-sim
    SIM_ARGS=(--devices "$DEVICES" --mix demo)
    # Each demo device with its own broker account (shown once, kept here 0600), as on a ward.
    FLEET=$MQTT_CREDENTIALS/demo-fleet.credentials
    mapfile -t ids < <(firmware-sim/build/wardline-sim "${SIM_ARGS[@]}" --list-ids)
    if [[ ! -s $FLEET ]] || [[ $(cut -d' ' -f1 "$FLEET") != "$(printf '%s\n' "${ids[@]}")" ]]; then
        "$BIN" devices revoke "${ids[@]}" >/dev/null 2>&1 || true  # accounts whose passwords were lost
        (umask 077 && "$BIN" devices provision "${ids[@]}" >"$FLEET.new") || die "could not provision the demo fleet"
        mv "$FLEET.new" "$FLEET"
        say "provisioned ${#ids[@]} demo devices in the broker (passwords in $FLEET, mode 0600)"
    fi
    # A reading is a patient's only through its device's assignment (WARDLINE_PAYLOAD_PATIENT_ID=refuse):
    # the ward's charge nurse assigns each simulated device to its patient, as staff do at the bedside.
    assigned=0
    while read -r device patient; do
        "${CURL[@]}" -X PUT -H "Authorization: Bearer $WARD_TOKEN" -H 'Content-Type: application/json' \
            -d "{\"patient_id\":\"$patient\"}" "$API/api/v1/devices/$device/assignment" >/dev/null \
            || die "could not assign device $device to $patient through $API"
        assigned=$((assigned + 1))
    done < <(firmware-sim/build/wardline-sim "${SIM_ARGS[@]}" --list-devices)
    [[ $assigned -eq $DEVICES ]] || die "the simulator listed $assigned of $DEVICES devices (firmware-sim --list-devices)"
    say "assigned $assigned demo devices to their patients"
    start_bg simulator firmware-sim/build/wardline-sim "${SIM_ARGS[@]}" --per-device-connections --credentials "$FLEET"
fi

TLS_NOTE=
[[ $SCHEME == https ]] && TLS_NOTE="
                  (its certificate is signed by the project's CA: trust $VAR/tls/ca.crt in the browser
                  or curl --cacert it; \`WARDLINE_TLS_CERT_FILE= deploy/run.sh\` serves plain HTTP)"
cat <<MSG

Wardline is running on loopback.
  ward page:      $API/#token=$WARD_TOKEN$TLS_NOTE
                  (charge nurse of ward $WARD; mint others with: $BIN token --user ID --role nurse --ward $WARD)
  REST API:       $API/api/v1   (Authorization: Bearer <token>; described in Sources/WardlineAPI/openapi.yaml)
  readiness:      $API/ready    metrics: $API/metrics
  pipeline log:   $LOG_DIR/wardline.log   (a statistics line every ${WARDLINE_STATS_INTERVAL_S:-10} s)
  broker:         TLS and an account only (CA $WARDLINE_MQTT_CA_FILE). Watch the devices with an account of your own:
                  $BIN devices provision --kind wardline tap     # prints: tap PASSWORD
                  mosquitto_sub -h 127.0.0.1 -p $WARDLINE_MQTT_PORT --cafile $WARDLINE_MQTT_CA_FILE -i tap -u tap -P PASSWORD -t 'devices/+/vitals'
                  a new device: $BIN devices provision ID   (or POST /api/v1/devices/ID/credentials as admin)
  readings:       psql "$WARDLINE_DATABASE_URL" -c "SELECT * FROM vitals ORDER BY time DESC LIMIT 10"
  task queue:     $LOG_DIR/worker.log   (pages, escalations; dead letters: $BIN dead-letters)
  rejections:     psql "$WARDLINE_DATABASE_URL" -c "SELECT reason, count(*) FROM rejected_messages GROUP BY 1"
  stop it all:    deploy/stop.sh
MSG
