# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts sourcing this
# Shared helpers for deploy/*.sh and deploy/env.sh. Sourced, never run.
# Deliberately sets no shell options: env.sh sources this into interactive shells,
# where `set -e` would close the user's terminal on the first failing command.

DEPLOY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DEPLOY/.." && pwd)
VAR=${WARDLINE_VAR:-$REPO/var}
# Absolute, so pid files, sockets and the postgres cluster never depend on the caller's cwd.
case $VAR in /*) ;; *) VAR=$PWD/$VAR ;; esac

# Loopback only: these are dev/CI services. PostgreSQL and RabbitMQ ask for passwords made under
# $VAR/secrets; MQTT is TLS with the CA under $VAR/tls and dynamic-security passwords, never anonymous.
WARDLINE_MQTT_HOST=127.0.0.1
WARDLINE_MQTT_PORT=${WARDLINE_MQTT_PORT:-18830}
WARDLINE_MQTT_MTLS_PORT=${WARDLINE_MQTT_MTLS_PORT:-18831}
WARDLINE_PG_PORT=${WARDLINE_PG_PORT:-15432}
# The streaming standby (`services.sh start-standby`): its own port and data folder.
WARDLINE_PG_STANDBY_PORT=${WARDLINE_PG_STANDBY_PORT:-15433}
# on: the primary commits only once the standby has the commit on disk, so a kill -9 of the
# primary followed by a promotion loses nothing Wardline was told is stored (and the primary's
# writes wait while the standby is away); off: asynchronous, the last commits may be lost.
WARDLINE_PG_STANDBY_SYNC=${WARDLINE_PG_STANDBY_SYNC:-on}
WARDLINE_KAFKA_PORT=${WARDLINE_KAFKA_PORT:-19092}
WARDLINE_KAFKA_BROKERS=127.0.0.1:$WARDLINE_KAFKA_PORT
WARDLINE_KAFKA_ALERTS_TOPIC=${WARDLINE_KAFKA_ALERTS_TOPIC:-wardline.alerts}
# RabbitMQ: its own AMQP, Erlang distribution and epmd ports, so it never meets a system node.
WARDLINE_RABBITMQ_PORT=${WARDLINE_RABBITMQ_PORT:-15673}
WARDLINE_RABBITMQ_DIST_PORT=${WARDLINE_RABBITMQ_DIST_PORT:-25673}
WARDLINE_RABBITMQ_EPMD_PORT=${WARDLINE_RABBITMQ_EPMD_PORT:-14369}
WARDLINE_RABBITMQ_NODE=wardline@localhost
# Wardline's user (no tags, rights on wardline.* only) and vhost; no guest, no administrator.
WARDLINE_RABBITMQ_USER=wardline
WARDLINE_RABBITMQ_VHOST=wardline
WARDLINE_PG_DB=${WARDLINE_PG_DB:-wardline}
# Every PostgreSQL role logs in with a password (SCRAM), even on loopback: postgres, the superuser
# only the deploy scripts use; wardline_owner, which owns the database and runs `wardline migrate`;
# wardline, what serve and worker connect as (reads and writes Wardline's tables, nothing else).
WARDLINE_PG_ADMIN=postgres
WARDLINE_PG_OWNER=wardline_owner
WARDLINE_PG_USER=wardline
# Streams the WAL to the standby (REPLICATION LOGIN, nothing else); made by `start-standby`.
WARDLINE_PG_REPLICATION=wardline_replication
# The standby's application_name and its replication slot on the primary.
WARDLINE_PG_STANDBY_NAME=wardline_standby

# Passwords, made at random by the first `services.sh up` and reused after (mode 0600):
# postgres-ROLE.password (and ROLE's libpq passfile postgres-ROLE.pgpass), rabbitmq-wardline.password.
SECRETS_DIR=$VAR/secrets
secret_file() { echo "$SECRETS_DIR/$1.password"; }
# pg_url ROLE [DATABASE]: ROLE's libpq URL; its password stays in its passfile, out of URLs and ps.
# Always derived from the port, so re-sourcing env.sh with a new port never keeps a stale URL.
pg_url() {
    echo "postgresql://$1@127.0.0.1:$WARDLINE_PG_PORT/${2:-$WARDLINE_PG_DB}?passfile=$SECRETS_DIR/postgres-$1.pgpass"
}
# pg_failover_url ROLE [DATABASE]: the same, with the primary and the standby (libpq tries them in
# order and keeps the one that accepts writes), so Wardline follows a promoted standby.
pg_failover_url() {
    echo "postgresql://$1@127.0.0.1:$WARDLINE_PG_PORT,127.0.0.1:$WARDLINE_PG_STANDBY_PORT/${2:-$WARDLINE_PG_DB}?target_session_attrs=read-write&connect_timeout=5&passfile=$SECRETS_DIR/postgres-$1.pgpass"
}
WARDLINE_DATABASE_URL=$(pg_url "$WARDLINE_PG_USER")
WARDLINE_OWNER_DATABASE_URL=$(pg_url "$WARDLINE_PG_OWNER")
WARDLINE_ADMIN_DATABASE_URL=$(pg_url "$WARDLINE_PG_ADMIN" postgres)
WARDLINE_FAILOVER_DATABASE_URL=$(pg_failover_url "$WARDLINE_PG_USER")
WARDLINE_FAILOVER_OWNER_DATABASE_URL=$(pg_failover_url "$WARDLINE_PG_OWNER")
# AMQP has no passfile: the URL carries the password (`wardline config` masks it).
rabbitmq_url() {
    local pw
    pw=$(cat "$(secret_file "rabbitmq-$WARDLINE_RABBITMQ_USER")" 2>/dev/null) || pw=
    echo "amqp://$WARDLINE_RABBITMQ_USER:$pw@127.0.0.1:$WARDLINE_RABBITMQ_PORT/$WARDLINE_RABBITMQ_VHOST"
}

# Debian's versioned binaries, not the pg_wrapper shims: pg_ctl/initdb are not on PATH by default.
PG_MAJOR=${WARDLINE_PG_MAJOR:-15}
PGBIN=${WARDLINE_PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PGDATA_DIR=$VAR/pg/data
PGSTANDBY_DIR=$VAR/pg/standby
RUN_DIR=$VAR/run
LOG_DIR=$VAR/log
MQTT_CONF=$VAR/mosquitto/mosquitto.conf
# Broker passwords (admin, wardline, the demo fleet), one file each, mode 0600.
MQTT_CREDENTIALS=$VAR/mosquitto/credentials
TLS_DIR=$VAR/tls
WARDLINE_MQTT_CA_FILE=$TLS_DIR/ca.crt
MQTT_PIDFILE=$RUN_DIR/mosquitto.pid

say() { printf '[wardline %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# Root work (apt, make install) without assuming we are root: CI runners often use sudo.
as_root() {
    if is_root; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else die "needs root (or passwordless sudo): $*"
    fi
}

# PostgreSQL refuses to run as root, so as root we drop to the postgres user.
# cd / first: initdb/pg_ctl fail when they cannot read the caller's cwd (e.g. /root).
as_pg() {
    if is_root; then (cd / && runuser -u postgres -- "$@")
    else "$@"
    fi
}

# chown only when root; a non-root user already owns what it creates.
chown_if_root() { if is_root; then chown "$@"; fi; }

# port_open HOST PORT: true when something accepts TCP there (bash's /dev/tcp, no nc needed).
port_open() { timeout 1 bash -c ": >/dev/tcp/$1/$2" 2>/dev/null; }

# wait_port HOST PORT [SECONDS]: poll until the port accepts, fail after the timeout.
wait_port() {
    local host=$1 port=$2 secs=${3:-30} i
    for ((i = 0; i < secs * 10; i++)); do
        port_open "$host" "$port" && return 0
        sleep 0.1
    done
    return 1
}

# run_logged NAME CMD...: long step, output to $LOG_DIR/NAME.log, one line on the terminal.
run_logged() {
    local name=$1 log=$LOG_DIR/$1.log start=$SECONDS
    shift
    mkdir -p "$LOG_DIR"
    if "$@" >"$log" 2>&1; then
        say "  $name ok ($((SECONDS - start))s, log $log)"
    else
        tail -n 30 "$log" >&2
        die "$name failed (full log: $log)"
    fi
}

# pid_alive PID NAME: the pid runs and is really NAME (pids get reused after a reboot).
pid_alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null && [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]]
}
