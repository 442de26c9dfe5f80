#!/usr/bin/env bash
# Issue 13's findings, each tried again from outside against `deploy/run.sh` (which must be
# running): what an attacker on the hospital network, a broken device or a nurse of another ward
# would try. Prints each finding, the command's answer and whether it was refused.
#   deploy/run.sh && bench/retry-13.sh
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. deploy/env.sh
BIN=$(swift build -c release --show-bin-path)/wardline
API=https://127.0.0.1:${WARDLINE_HTTP_PORT:-18080}
CURL=(curl -s --cacert var/tls/ca.crt)
FLEET=$MQTT_CREDENTIALS/demo-fleet.credentials
read -r DEV_A PASS_A < <(sed -n 1p "$FLEET")
read -r DEV_B _ < <(sed -n 2p "$FLEET")
MQTT=(-h 127.0.0.1 -p "$WARDLINE_MQTT_PORT" --cafile "$WARDLINE_MQTT_CA_FILE" -V mqttv5)
pass=0 fail=0
check() {  # check "finding" expected-regex output
    if grep -qE "$2" <<<"$3"; then pass=$((pass + 1)); echo "  refused as it should be: $(head -c 200 <<<"$3" | tr '\n' ' ')"
    else fail=$((fail + 1)); echo "  !!! NOT REFUSED: $(head -c 300 <<<"$3" | tr '\n' ' ')"; fi
}

echo "1. anonymous subscriber to every patient's vitals (TLS listener, then plain TCP on the same port)"
check anon "not authori|Connection Refused|Error|rror" "$(timeout 5 mosquitto_sub "${MQTT[@]}" -t 'devices/+/vitals' -C 1 2>&1)"
# A plain client gets no CONNACK from the TLS listener: it waits until the timeout (exit 124).
check plain "rror|refused|exit 124" "$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$WARDLINE_MQTT_PORT" -V mqttv5 -t 'devices/+/vitals' -C 1 2>&1; echo "exit $?")"

echo "2. a device's own account subscribing to every device's vitals"
check wide "denied|not authori|Not authori|135|exit 124" "$(timeout 5 mosquitto_sub "${MQTT[@]}" -i "$DEV_A" -u "$DEV_A" -P "$PASS_A" -t 'devices/+/vitals' -C 1 2>&1; echo "exit $?")"

echo "3. device $DEV_A publishing commands to $DEV_B, and vitals as $DEV_B"
check cmd "not authori|Not authori|135" "$(timeout 5 mosquitto_pub "${MQTT[@]}" -i "$DEV_A" -u "$DEV_A" -P "$PASS_A" -q 1 -t "devices/$DEV_B/commands" -m '{"command":"silence"}' 2>&1)"
check asb "not authori|Not authori|135" "$(timeout 5 mosquitto_pub "${MQTT[@]}" -i "$DEV_A" -u "$DEV_A" -P "$PASS_A" -q 1 -t "devices/$DEV_B/vitals" -m '{"v":1,"seq":1,"spo2":70}' 2>&1)"

echo "4. a device's account taking Wardline's client id (and so its session and backlog)"
check takeover "not authori|Not authori|135|rror" "$(timeout 5 mosquitto_sub "${MQTT[@]}" -i wardline -u "$DEV_A" -P "$PASS_A" -t "devices/$DEV_A/commands" -C 1 2>&1; echo "exit $?")"

echo "5. a reading naming a patient in its payload, from a device nobody assigned"
"$BIN" devices provision stray-monitor >"$MQTT_CREDENTIALS/stray.credentials"
read -r _ PASS_S <"$MQTT_CREDENTIALS/stray.credentials"
timeout 5 mosquitto_pub "${MQTT[@]}" -i stray-monitor -u stray-monitor -P "$PASS_S" -q 1 -t devices/stray-monitor/vitals \
    -m "{\"v\":1,\"seq\":1,\"ts\":$(date +%s%3N),\"patient_id\":\"PAT-00000\",\"spo2\":70,\"hr\":150}"
sleep 2
check payload "unknown_device" "$(psql "$WARDLINE_DATABASE_URL" -Atc "SELECT reason || ': ' || coalesce(detail, '') FROM rejected_messages WHERE device_id = 'stray-monitor' ORDER BY received_at DESC LIMIT 1")"
echo "   readings stored for it: $(psql "$WARDLINE_DATABASE_URL" -Atc "SELECT count(*) FROM vitals WHERE device_id = 'stray-monitor'")"
"$BIN" devices revoke stray-monitor >/dev/null; rm -f "$MQTT_CREDENTIALS/stray.credentials"

NURSE_9Z=$("$BIN" token --user n9z --role nurse --ward 9Z --ttl 10m)
CHARGE_7A=$("$BIN" token --user c7a --role charge_nurse --ward 7A --ttl 10m)
PHYS_7A=$("$BIN" token --user p7a --role physician --ward 7A --ttl 10m)
for _ in $(seq 60); do
    ALARM=$(psql "$WARDLINE_DATABASE_URL" -Atc "SELECT id FROM alerts WHERE patient_id IN (SELECT patient_id FROM patients WHERE ward = '4B') ORDER BY raised_at DESC LIMIT 1")
    [[ -n $ALARM ]] && break
    sleep 2
done
echo "6. a nurse of 9Z acknowledging a 4B alarm (${ALARM:-none yet}) over REST (the socket: test_ward_socket.py)"
check ack "403|forbidden" "$("${CURL[@]}" -X POST -H "Authorization: Bearer $NURSE_9Z" "$API/api/v1/alarms/${ALARM:-x/y/1}/acknowledge" -w ' %{http_code}')"
echo "7. a charge nurse of 7A removing a 4B device's assignment"
check unassign "403" "$("${CURL[@]}" -X DELETE -H "Authorization: Bearer $CHARGE_7A" "$API/api/v1/devices/$DEV_A/assignment" -w ' %{http_code}')"
echo "8. a physician of 7A silencing a 4B device"
check silence "403" "$("${CURL[@]}" -X POST -H "Authorization: Bearer $PHYS_7A" -H 'Content-Type: application/json' -d '{"command":"silence","args":{"seconds":60}}' "$API/api/v1/devices/$DEV_A/commands" -w ' %{http_code}')"

echo "9. wardline config and /ready showing secrets"
out=$("$BIN" config; "${CURL[@]}" "$API/ready")
if grep -qF "$(cat "$MQTT_CREDENTIALS/wardline.password")" <<<"$out"; then check secrets "^never$" "the broker password is printed"
else check secrets "=\*\*\*" "$(grep -E '^WARDLINE_(JWT_SECRET|MQTT_PASSWORD)=' <<<"$out" | tr '\n' ' ')"; fi
echo "10. the demo secret on 0.0.0.0"
check bind "refus|demo|default" "$(env -u WARDLINE_JWT_SECRET WARDLINE_HTTP_HOST=0.0.0.0 WARDLINE_HTTP_PORT=18999 timeout 10 "$BIN" serve 2>&1 | tail -3)"

echo "11. PostgreSQL without a password, and COPY … TO PROGRAM as Wardline's role"
check nopass "password|authentication failed|no password" "$(PGPASSFILE=/dev/null psql -h 127.0.0.1 -p "$WARDLINE_PG_PORT" -U wardline -w -d wardline -c 'SELECT 1' 2>&1)"
check program "permission denied|must be superuser|privilege" "$(psql "$WARDLINE_DATABASE_URL" -c "COPY (SELECT 1) TO PROGRAM 'id'" 2>&1)"
echo "12. a NUL byte in a query and in a path"
TOKEN=$("$BIN" token --user a1 --role admin --ward '*' --ttl 10m)
check nulq "400" "$("${CURL[@]}" -H "Authorization: Bearer $TOKEN" "$API/api/v1/alarms?patient_id=P1%00" -w ' %{http_code}')"
check nulp "400" "$("${CURL[@]}" -H "Authorization: Bearer $TOKEN" "$API/api/v1/patients/P%001/vitals" -w ' %{http_code}')"
echo
echo "refused: $pass, not refused: $fail"
