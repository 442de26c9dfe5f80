#!/usr/bin/env bash
# The project's certificates on loopback, made with openssl: a CA (var/tls/ca.crt, its key
# ca.key) made only if missing, and a server certificate for the web server (var/tls/web.crt,
# web.key) for 127.0.0.1 and localhost, signed by that CA. Keys are mode 0600. Other listeners
# (the MQTT broker's TLS) reuse the same CA: `deploy/tls.sh` then `issue NAME` below.
#   deploy/tls.sh            make what is missing (renews web.crt when it expires within 30 days)
#   deploy/tls.sh spki FILE  the base64 SHA-256 of FILE's public key (Chromium's
#                            --ignore-certificate-errors-spki-list)
# A hospital uses its own CA and a certificate for the server's real name instead; see README.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
TLS_DIR=$VAR/tls

spki() {
    openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64
}

make_ca() {
    [[ -s $TLS_DIR/ca.crt && -s $TLS_DIR/ca.key ]] && return
    say "tls: making the project's CA ($TLS_DIR/ca.crt)"
    (umask 077 && openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 3650 -subj "/CN=Wardline loopback CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$TLS_DIR/ca.key.new" -out "$TLS_DIR/ca.crt.new" 2>/dev/null)
    mv "$TLS_DIR/ca.key.new" "$TLS_DIR/ca.key"
    mv "$TLS_DIR/ca.crt.new" "$TLS_DIR/ca.crt"
    chmod 0644 "$TLS_DIR/ca.crt"
}

# issue NAME: NAME.crt/NAME.key for 127.0.0.1 and localhost, signed by the CA, unless a valid one is there.
issue() {
    local name=$1 crt=$TLS_DIR/$1.crt key=$TLS_DIR/$1.key
    if [[ -s $crt && -s $key ]] && openssl x509 -in "$crt" -noout -checkend $((30 * 86400)) >/dev/null &&
        openssl verify -CAfile "$TLS_DIR/ca.crt" "$crt" >/dev/null 2>&1; then
        return
    fi
    say "tls: making $crt (127.0.0.1, localhost)"
    local ext
    ext=$(mktemp)
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$ext"
    (umask 077 && openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
        -keyout "$key.new" -out "$TLS_DIR/$name.csr" 2>/dev/null &&
        openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
            -days 825 -sha256 -extfile "$ext" -out "$crt.new" 2>/dev/null)
    rm -f "$ext" "$TLS_DIR/$name.csr"
    mv "$key.new" "$key"
    mv "$crt.new" "$crt"
    chmod 0600 "$key"
    chmod 0644 "$crt"
}

case ${1:-up} in
    spki) spki "$2" ;;
    up)
        mkdir -p "$TLS_DIR"
        chmod 0700 "$TLS_DIR"
        make_ca
        issue web
        ;;
    issue) mkdir -p "$TLS_DIR" && chmod 0700 "$TLS_DIR" && make_ca && issue "$2" ;;
    *) die "usage: deploy/tls.sh [up | issue NAME | spki FILE]" ;;
esac
