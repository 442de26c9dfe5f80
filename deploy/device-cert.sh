#!/usr/bin/env bash
# Issues a client certificate for a device, signed by the deploy scripts' CA, for the broker's
# mTLS listener (WARDLINE_MQTT_MTLS_PORT): $VAR/tls/devices/ID.crt and ID.key (mode 0600).
# Usage: deploy/device-cert.sh DEVICE_ID [DAYS]
# The certificate is a second factor: the device still connects with the user name and password
# from `wardline devices provision`. A real ward's CA lives offline, not beside the broker.
set -euo pipefail
# shellcheck source=deploy/lib.sh
. "$(dirname "$0")/lib.sh"

id=${1:-}
days=${2:-825}
[[ $id =~ ^[A-Za-z0-9._:-]{1,64}$ ]] || die "usage: $0 DEVICE_ID [DAYS] (1-64 of A-Z a-z 0-9 . _ : -)"
[[ -s $TLS_DIR/ca.key ]] || die "no CA at $TLS_DIR (deploy/services.sh up makes it)"
out=$TLS_DIR/devices
mkdir -p "$out"
chmod 0700 "$out"
ext=$(mktemp)
trap 'rm -f "$ext" "$out/$id.csr"' EXIT
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n' >"$ext"
(umask 077 && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -keyout "$out/$id.key" -out "$out/$id.csr" -subj "/O=Wardline/CN=$id" &&
    openssl x509 -req -in "$out/$id.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
        -sha256 -days "$days" -extfile "$ext" -out "$out/$id.crt") >>"$LOG_DIR/tls.log" 2>&1 \
    || die "could not issue a certificate for $id (log: $LOG_DIR/tls.log)"
echo "$out/$id.crt $out/$id.key"
