#!/usr/bin/env bash
# Starts/stops Wardline's dev services on loopback, all state under $VAR (default <repo>/var).
# Usage: deploy/services.sh up|down|status|start-db|stop-db|restart-db|start-mqtt|stop-mqtt|start-kafka|stop-kafka
#                           |start-rabbitmq|stop-rabbitmq|fresh-db NAME
#                           |start-standby|stop-standby|promote-standby|drop-standby|fail-back
#   up      start mosquitto, PostgreSQL+TimescaleDB (and its standby, once start-standby made one),
#           Tansu and RabbitMQ (each skipped if it already answers); ensure the passwords under
#           $VAR/secrets, the PostgreSQL roles, database "wardline" and its timescaledb extension,
#           and RabbitMQ's user and vhost "wardline"
#   down    stop them all, by pid (pg_ctl stop -m fast for postgres, rabbitmqctl stop for RabbitMQ)
#   status  one line per service
#   fresh-db NAME  drop database NAME and make it again, empty, as "wardline" is (the tests' own)
#   start-standby  a streaming standby of the primary (pg_basebackup -R the first time), synchronous
#           unless WARDLINE_PG_STANDBY_SYNC=off; stop-standby stops it (the primary stops waiting first)
#   promote-standby  make the standby the primary (a running primary is stopped first: never two)
#   drop-standby  stop the standby and delete it and its replication slot
#   fail-back  after a promotion: the old primary's folder made again from the promoted standby and
#           promoted back (nothing lost), then a fresh standby
# Ports: WARDLINE_MQTT_PORT (18830, TLS; WARDLINE_MQTT_MTLS_PORT 18831, TLS + client certificate), WARDLINE_PG_PORT (15432),
#        WARDLINE_PG_STANDBY_PORT (15433), WARDLINE_KAFKA_PORT (19092),
#        WARDLINE_RABBITMQ_PORT (15673; dist 25673, epmd 14369); folder: WARDLINE_VAR.
set -euo pipefail
# shellcheck source=deploy/lib.sh
. "$(dirname "$0")/lib.sh"

MOSQUITTO=${WARDLINE_MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
MQTT_TEMPLATE=$DEPLOY/mosquitto/mosquitto.conf
PG_LOG=$LOG_DIR/postgres.log

usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }

# Tests call stop/start concurrently; one state change at a time keeps pid files honest.
# Re-exec under `flock -o` so flock itself holds the lock: an inherited lock fd in the daemons
# we start would keep the lock taken for as long as they run.
with_lock() {
    if [[ -n ${_WARDLINE_SERVICES_LOCKED:-} ]]; then
        unset _WARDLINE_SERVICES_LOCKED
        return
    fi
    mkdir -p "$VAR"
    _WARDLINE_SERVICES_LOCKED=1 exec flock -o "$VAR/.services.lock" "$0" "$@"
}

# --- passwords -------------------------------------------------------------------------------

# ensure_secret NAME: a random password in $SECRETS_DIR/NAME.password, made once, then reused.
# Hex, so it needs no quoting in SQL, in an AMQP URL or in a libpq passfile.
ensure_secret() {
    local file
    file=$(secret_file "$1")
    mkdir -p "$SECRETS_DIR"
    chmod 0700 "$SECRETS_DIR"
    if [[ ! -s $file ]]; then
        (umask 077 && openssl rand -hex 24 >"$file.new") && mv "$file.new" "$file"
        say "secrets: made $file"
    fi
    chmod 0600 "$file"
}

# --- mosquitto -------------------------------------------------------------------------------

mqtt_pid() { [[ -r $MQTT_PIDFILE ]] && cat "$MQTT_PIDFILE" || true; }

render_mqtt_conf() {
    local conf
    conf=$(<"$MQTT_TEMPLATE")
    # Quoted replacements: bash 5.2 would otherwise expand '&' inside a path.
    conf=${conf//@PORT@/"$WARDLINE_MQTT_PORT"}
    conf=${conf//@MTLS_PORT@/"$WARDLINE_MQTT_MTLS_PORT"}
    conf=${conf//@VAR@/"$VAR"}
    printf '%s\n' "$conf" >"$MQTT_CONF"
}

# The dev CA and the broker's certificate (127.0.0.1 and localhost), made once; the server
# certificate is made again when it has less than 30 days left. Keys are 0600; the broker's is
# owned by the broker's user, the CA's by whoever runs this (it signs, the broker never needs it).
ensure_tls() {
    local dir=$TLS_DIR
    mkdir -p "$dir"
    chmod 0755 "$dir"
    if [[ ! -s $dir/ca.key || ! -s $dir/ca.crt ]]; then
        (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
            -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 3650 -subj "/O=Wardline/CN=Wardline development CA" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign) >>"$LOG_DIR/tls.log" 2>&1 \
            || die "could not make the CA (log: $LOG_DIR/tls.log)"
        chmod 0644 "$dir/ca.crt"
        rm -f "$dir/server.crt"
        say "tls: made the development CA $dir/ca.crt"
    fi
    if [[ -s $dir/server.crt ]] && openssl x509 -checkend $((30 * 86400)) -noout -in "$dir/server.crt" >/dev/null 2>&1; then
        return
    fi
    (umask 077 && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
        -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/O=Wardline/CN=localhost" &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' >"$dir/server.ext" &&
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -sha256 \
            -days 825 -extfile "$dir/server.ext" -out "$dir/server.crt") >>"$LOG_DIR/tls.log" 2>&1 \
        || die "could not make the broker's certificate (log: $LOG_DIR/tls.log)"
    rm -f "$dir/server.csr" "$dir/server.ext"
    chmod 0644 "$dir/server.crt"
    chown_if_root mosquitto: "$dir/server.key"
    say "tls: made the broker's certificate $dir/server.crt (127.0.0.1, localhost)"
}

# The plugin's first configuration and the admin and Wardline passwords (0600, under
# $MQTT_CREDENTIALS), once; after that the broker owns the file and saves every change to it.
ensure_dynsec() {
    local dir=$VAR/mosquitto/dynsec
    mkdir -p "$dir" "$MQTT_CREDENTIALS"
    chmod 0700 "$dir" "$MQTT_CREDENTIALS"
    if [[ ! -s $dir/dynsec.json ]]; then
        /usr/bin/python3 "$DEPLOY/mosquitto/dynsec_init.py" "$dir/dynsec.json" "$MQTT_CREDENTIALS" \
            || die "could not write the broker's dynamic security configuration"
        say "mqtt: dynamic security configured (admin and wardline passwords in $MQTT_CREDENTIALS, mode 0600)"
    fi
    chown_if_root -R mosquitto: "$dir"
}

start_mqtt() {
    if port_open 127.0.0.1 "$WARDLINE_MQTT_PORT"; then
        say "mqtt: already answering on 127.0.0.1:$WARDLINE_MQTT_PORT, not starting"
        return
    fi
    [[ -x $MOSQUITTO ]] || die "mosquitto not installed; run deploy/install.sh"
    mkdir -p "$VAR/mosquitto/data" "$RUN_DIR" "$LOG_DIR"
    # Started as root, mosquitto drops to user mosquitto before it writes its data, log and
    # pid file; pre-created files let it write them inside folders it does not own.
    pid_alive "$(mqtt_pid)" mosquitto || rm -f "$MQTT_PIDFILE"
    touch "$LOG_DIR/mosquitto.log" "$MQTT_PIDFILE"
    chown_if_root mosquitto: "$VAR/mosquitto/data" "$LOG_DIR/mosquitto.log" "$MQTT_PIDFILE"
    ensure_tls
    ensure_dynsec
    render_mqtt_conf
    "$MOSQUITTO" -c "$MQTT_CONF" -d
    if ! wait_port 127.0.0.1 "$WARDLINE_MQTT_PORT" 10; then
        tail -n 20 "$LOG_DIR/mosquitto.log" >&2 || true
        die "mosquitto did not open 127.0.0.1:$WARDLINE_MQTT_PORT (log: $LOG_DIR/mosquitto.log)"
    fi
    say "mqtt: started on 127.0.0.1:$WARDLINE_MQTT_PORT (TLS) and :$WARDLINE_MQTT_MTLS_PORT (TLS + client certificate) (pid $(mqtt_pid))"
}

stop_mqtt() {
    local pid i
    pid=$(mqtt_pid)
    if ! pid_alive "$pid" mosquitto; then
        rm -f "$MQTT_PIDFILE"
        if port_open 127.0.0.1 "$WARDLINE_MQTT_PORT"; then
            say "mqtt: 127.0.0.1:$WARDLINE_MQTT_PORT answers but was not started from $VAR; leaving it"
        else
            say "mqtt: not running"
        fi
        return
    fi
    kill -TERM "$pid"
    # On SIGTERM the broker writes its persistence file first; a deep queue takes a moment.
    for ((i = 0; i < 300; i++)); do
        pid_alive "$pid" mosquitto || break
        sleep 0.1
    done
    pid_alive "$pid" mosquitto && die "mosquitto (pid $pid) still running after 30s"
    rm -f "$MQTT_PIDFILE"
    say "mqtt: stopped (pid $pid)"
}

status_mqtt() {
    local pid
    pid=$(mqtt_pid)
    if pid_alive "$pid" mosquitto && port_open 127.0.0.1 "$WARDLINE_MQTT_PORT"; then
        echo "mqtt      up    127.0.0.1:$WARDLINE_MQTT_PORT  pid $pid"
    elif port_open 127.0.0.1 "$WARDLINE_MQTT_PORT"; then
        echo "mqtt      up    127.0.0.1:$WARDLINE_MQTT_PORT  (not started from $VAR)"
    else
        echo "mqtt      down  127.0.0.1:$WARDLINE_MQTT_PORT"
    fi
}

# --- Kafka-compatible broker (Tansu, in-memory storage) ----------------------------------------

KAFKA_PIDFILE=$RUN_DIR/tansu.pid
TANSU=$VAR/tools/tansu
kafka_pid() { [[ -r $KAFKA_PIDFILE ]] && cat "$KAFKA_PIDFILE" || true; }

start_kafka() {
    if port_open 127.0.0.1 "$WARDLINE_KAFKA_PORT"; then
        say "kafka: already answering on 127.0.0.1:$WARDLINE_KAFKA_PORT, not starting"
        return
    fi
    [[ -x $TANSU ]] || die "tansu not installed; run deploy/install.sh"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    local url=tcp://127.0.0.1:$WARDLINE_KAFKA_PORT
    nohup "$TANSU" broker --listener-url "$url" --advertised-listener-url "$url" \
        --storage-engine memory://tansu/ >>"$LOG_DIR/tansu.log" 2>&1 &
    echo $! >"$KAFKA_PIDFILE"
    wait_port 127.0.0.1 "$WARDLINE_KAFKA_PORT" 20 || die "tansu did not open 127.0.0.1:$WARDLINE_KAFKA_PORT (log: $LOG_DIR/tansu.log)"
    # In-memory storage: the topic is made again on every start.
    "$TANSU" topic create --broker "$url" --partitions 3 "$WARDLINE_KAFKA_ALERTS_TOPIC" >>"$LOG_DIR/tansu.log" 2>&1 \
        || die "could not create topic $WARDLINE_KAFKA_ALERTS_TOPIC (log: $LOG_DIR/tansu.log)"
    # The optional readings feed (WARDLINE_KAFKA_READINGS_TOPIC), keyed by device.
    "$TANSU" topic create --broker "$url" --partitions 6 wardline.readings >>"$LOG_DIR/tansu.log" 2>&1 \
        || die "could not create topic wardline.readings (log: $LOG_DIR/tansu.log)"
    # Past one machine (serve --role ingest|engine|hub): device messages keyed by patient.
    "$TANSU" topic create --broker "$url" --partitions "${WARDLINE_KAFKA_DEVICE_PARTITIONS:-12}" \
        "${WARDLINE_KAFKA_DEVICE_TOPIC:-wardline.device-messages}" >>"$LOG_DIR/tansu.log" 2>&1 \
        || die "could not create topic ${WARDLINE_KAFKA_DEVICE_TOPIC:-wardline.device-messages} (log: $LOG_DIR/tansu.log)"
    say "kafka: tansu started on 127.0.0.1:$WARDLINE_KAFKA_PORT (pid $(kafka_pid)), topic $WARDLINE_KAFKA_ALERTS_TOPIC"
}

stop_kafka() {
    local pid i
    pid=$(kafka_pid)
    if ! pid_alive "$pid" tansu; then
        rm -f "$KAFKA_PIDFILE"
        say "kafka: not running (from $VAR)"
        return
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" tansu || break; sleep 0.1; done
    pid_alive "$pid" tansu && kill -KILL "$pid"
    rm -f "$KAFKA_PIDFILE"
    say "kafka: stopped (pid $pid)"
}

status_kafka() {
    if port_open 127.0.0.1 "$WARDLINE_KAFKA_PORT"; then
        echo "kafka     up    127.0.0.1:$WARDLINE_KAFKA_PORT  pid $(kafka_pid)"
    else
        echo "kafka     down  127.0.0.1:$WARDLINE_KAFKA_PORT"
    fi
}

# --- RabbitMQ (a plain process: node wardline@localhost, its own ports, epmd and folders) ------

RMQ_DIR=$VAR/rabbitmq
RMQ_PIDFILE=$RUN_DIR/rabbitmq.pid
RMQ_BIN=${WARDLINE_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}

# Every rabbitmq command sees the same node, cookie (under HOME) and epmd port; an epmd of our
# own means stopping it can never take a system RabbitMQ's epmd with it.
rmq_env() {
    RMQ_ENV=(HOME="$RMQ_DIR/home" ERL_CRASH_DUMP="$LOG_DIR/rabbitmq/erl_crash.dump" ERL_EPMD_PORT="$WARDLINE_RABBITMQ_EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
        RABBITMQ_NODENAME="$WARDLINE_RABBITMQ_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$WARDLINE_RABBITMQ_PORT" RABBITMQ_DIST_PORT="$WARDLINE_RABBITMQ_DIST_PORT"
        RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia" RABBITMQ_LOG_BASE="$LOG_DIR/rabbitmq"
        RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
        RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf" RABBITMQ_PID_FILE="$RMQ_DIR/beam.pid"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
}
rmq() { rmq_env; mkdir -p "$RMQ_DIR/home" "$LOG_DIR/rabbitmq"; env "${RMQ_ENV[@]}" "$RMQ_BIN/$1" "${@:2}"; }
rmq_pid() { [[ -r $RMQ_PIDFILE ]] && cat "$RMQ_PIDFILE" || true; }
# Port first: rabbitmqctl alone would start an epmd just to ask.
rmq_answers() { port_open 127.0.0.1 "$WARDLINE_RABBITMQ_PORT" && rmq rabbitmqctl -n "$WARDLINE_RABBITMQ_NODE" -q status >/dev/null 2>&1; }
rmqctl() { rmq rabbitmqctl -n "$WARDLINE_RABBITMQ_NODE" -q "$@"; }

# Every exchange and queue Wardline declares is wardline.* (TaskTopology); it needs no other.
RMQ_RESOURCES='^wardline\.'

# Least privilege on every start, whatever an older var/ made (an administrator with .* rights,
# password "wardline"): the password from $SECRETS_DIR (through stdin, never on a command line),
# no tags, configure/write/read on wardline.* in its own vhost only, and no guest.
# rabbitmqctl talks to the node over Erlang distribution with the cookie: no admin user needed.
ensure_rmq_access() {
    local user=$WARDLINE_RABBITMQ_USER vhost=$WARDLINE_RABBITMQ_VHOST users other
    ensure_secret "rabbitmq-$user"
    rmqctl list_vhosts --no-table-headers | grep -qxF "$vhost" || rmqctl add_vhost "$vhost" >/dev/null
    users=$(rmqctl list_users --no-table-headers | cut -f1)
    if grep -qxF "$user" <<<"$users"; then
        rmqctl change_password "$user" <"$(secret_file "rabbitmq-$user")" >/dev/null
    else
        rmqctl add_user "$user" <"$(secret_file "rabbitmq-$user")" >/dev/null
    fi
    rmqctl set_user_tags "$user" >/dev/null
    rmqctl set_permissions -p "$vhost" "$user" "$RMQ_RESOURCES" "$RMQ_RESOURCES" "$RMQ_RESOURCES" >/dev/null
    for other in $(rmqctl list_user_permissions "$user" --no-table-headers | cut -f1); do
        [[ $other == "$vhost" ]] || rmqctl clear_permissions -p "$other" "$user" >/dev/null
    done
    if grep -qxF guest <<<"$users"; then
        rmqctl delete_user guest >/dev/null
        say "rabbitmq: removed the default user guest"
    fi
}

write_rmq_conf() {
    mkdir -p "$RMQ_DIR/home" "$RMQ_DIR/mnesia" "$LOG_DIR/rabbitmq" "$RUN_DIR"
    : >"$RMQ_DIR/rabbitmq-env.conf"   # never read Debian's /etc/rabbitmq/rabbitmq-env.conf
    echo '[].' >"$RMQ_DIR/enabled_plugins"
    ensure_secret "rabbitmq-$WARDLINE_RABBITMQ_USER"
    # It holds the password: private before anything is written to it.
    : >"$RMQ_DIR/rabbitmq.conf"
    chmod 0600 "$RMQ_DIR/rabbitmq.conf"
    cat >"$RMQ_DIR/rabbitmq.conf" <<CONF
# Generated by deploy/services.sh on each start; edit the script, not this file.
listeners.tcp.1 = 127.0.0.1:$WARDLINE_RABBITMQ_PORT
# Made on the node's first boot only (an empty mnesia folder), instead of guest: Wardline's user
# and vhost, no tags, rights on wardline.* only. ensure_rmq_access keeps them so on every start.
default_vhost = $WARDLINE_RABBITMQ_VHOST
default_user = $WARDLINE_RABBITMQ_USER
default_pass = $(<"$(secret_file "rabbitmq-$WARDLINE_RABBITMQ_USER")")
default_permissions.configure = $RMQ_RESOURCES
default_permissions.read = $RMQ_RESOURCES
default_permissions.write = $RMQ_RESOURCES
default_user_tags.administrator = false
# A dev disk fills up; publishers are blocked below this, so keep it small but present.
disk_free_limit.absolute = 50MB
log.file.level = warning
CONF
}

start_rabbitmq() {
    if port_open 127.0.0.1 "$WARDLINE_RABBITMQ_PORT"; then
        say "rabbitmq: already answering on 127.0.0.1:$WARDLINE_RABBITMQ_PORT, not starting"
        if rmq_answers; then ensure_rmq_access; fi
        return
    fi
    [[ -x $RMQ_BIN/rabbitmq-server ]] || die "rabbitmq-server not installed; run deploy/install.sh"
    write_rmq_conf
    rmq_env
    nohup setsid env "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server" >>"$LOG_DIR/rabbitmq.log" 2>&1 </dev/null &
    echo $! >"$RMQ_PIDFILE"
    local i
    for ((i = 0; i < 120; i++)); do
        rmq_answers && port_open 127.0.0.1 "$WARDLINE_RABBITMQ_PORT" && break
        kill -0 "$(rmq_pid)" 2>/dev/null || { tail -n 30 "$LOG_DIR/rabbitmq.log" >&2; die "rabbitmq exited at start (log: $LOG_DIR/rabbitmq.log)"; }
        sleep 0.5
    done
    port_open 127.0.0.1 "$WARDLINE_RABBITMQ_PORT" || die "rabbitmq did not open 127.0.0.1:$WARDLINE_RABBITMQ_PORT (log: $LOG_DIR/rabbitmq.log)"
    ensure_rmq_access
    say "rabbitmq: started $WARDLINE_RABBITMQ_NODE on 127.0.0.1:$WARDLINE_RABBITMQ_PORT (pid $(rmq_pid)), vhost wardline"
}

# The epmd our node started: the one whose environment names our epmd port (its command line
# does not say).
rmq_epmd_pid() {
    local p
    for p in $(pgrep -x epmd || true); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "ERL_EPMD_PORT=$WARDLINE_RABBITMQ_EPMD_PORT" && echo "$p"
    done
}

stop_rabbitmq() {
    local pid epmd i
    pid=$(rmq_pid)
    if rmq_answers; then
        rmq rabbitmqctl -n "$WARDLINE_RABBITMQ_NODE" -q stop >/dev/null 2>&1 || true
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        say "rabbitmq: stopped"
    elif port_open 127.0.0.1 "$WARDLINE_RABBITMQ_PORT"; then
        say "rabbitmq: 127.0.0.1:$WARDLINE_RABBITMQ_PORT answers but is not node $WARDLINE_RABBITMQ_NODE from $VAR; leaving it"
        return
    else
        say "rabbitmq: not running"
    fi
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$RMQ_PIDFILE"
    for epmd in $(rmq_epmd_pid); do kill "$epmd" 2>/dev/null || true; done
}

status_rabbitmq() {
    if rmq_answers; then
        echo "rabbitmq  up    127.0.0.1:$WARDLINE_RABBITMQ_PORT  pid $(rmq_pid)  node $WARDLINE_RABBITMQ_NODE"
    elif port_open 127.0.0.1 "$WARDLINE_RABBITMQ_PORT"; then
        echo "rabbitmq  up    127.0.0.1:$WARDLINE_RABBITMQ_PORT  (not node $WARDLINE_RABBITMQ_NODE from $VAR)"
    else
        echo "rabbitmq  down  127.0.0.1:$WARDLINE_RABBITMQ_PORT"
    fi
}

# --- PostgreSQL + TimescaleDB ----------------------------------------------------------------

# In a primary's folder: its synchronous_standby_names (empty while no standby runs).
REPLICATION_CONF=wardline-replication.conf

pg_answers() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$WARDLINE_PG_PORT" -t 2; }

# Superuser access over TCP, with its passfile: works whether or not the socket dir is ours.
psql_admin() { psql_admin_at "$WARDLINE_PG_PORT" "$@"; }
psql_admin_at() {
    local port=$1
    shift
    PGOPTIONS='-c client_min_messages=warning' PGPASSFILE="$SECRETS_DIR/postgres-$WARDLINE_PG_ADMIN.pgpass" \
        "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$WARDLINE_PG_ADMIN" "$@"
}

pg_password() { cat "$(secret_file "postgres-$1")"; }

# The replication role exists once start-standby has made its password (and only then may it log in).
replication_wanted() { [[ -s $(secret_file "postgres-$WARDLINE_PG_REPLICATION") ]]; }

# Each role's password, and a libpq passfile with it (any host, port and database on this cluster).
# Replaced whole (mv), so a Wardline reconnecting meanwhile never reads half a file.
ensure_pg_secrets() {
    local role pass roles=("$WARDLINE_PG_ADMIN" "$WARDLINE_PG_OWNER" "$WARDLINE_PG_USER")
    if replication_wanted; then roles+=("$WARDLINE_PG_REPLICATION"); fi
    for role in "${roles[@]}"; do
        ensure_secret "postgres-$role"
        pass=$SECRETS_DIR/postgres-$role.pgpass
        (umask 077 && echo "*:*:*:$role:$(pg_password "$role")" >"$pass.new") && mv "$pass.new" "$pass"
    done
}

# SCRAM for everyone, the socket included: no trust, no peer (a developer's login name is not
# "postgres"). Replication only once start-standby made its role: that role, over loopback, with
# its password, for replication and nothing else. Returns 0 when the file changed.
write_pg_hba() {
    local hba=$PGDATA_DIR/pg_hba.conf new repl=$WARDLINE_PG_REPLICATION
    new="# Generated by deploy/services.sh; edit the script, not this file.
# Every connection gives its role's password (SCRAM), even on loopback and the socket.
# TYPE  DATABASE     USER  ADDRESS       METHOD"
    if replication_wanted; then
        new+="
# The standby's WAL stream (deploy/services.sh start-standby): its role, loopback only; no database.
host    replication  $repl  127.0.0.1/32  scram-sha-256
host    replication  $repl  ::1/128       scram-sha-256
local   all          $repl                reject
host    all          $repl  127.0.0.1/32  reject
host    all          $repl  ::1/128       reject"
    fi
    new+="
local   all          all                 scram-sha-256
host    all          all   127.0.0.1/32  scram-sha-256
host    all          all   ::1/128       scram-sha-256"
    [[ -r $hba && $(<"$hba") == "$new" ]] && return 1
    printf '%s\n' "$new" >"$hba"
    chown_if_root postgres: "$hba"
    chmod 0600 "$hba"
}

# pg_folder_running DIR: pg_ctl status, except that a postmaster killed and not yet reaped (a
# zombie, where the container's init reaps late) does not count as running.
pg_folder_running() {
    local pid
    [[ -d $1 ]] && as_pg "$PGBIN/pg_ctl" status -D "$1" >/dev/null 2>&1 || return 1
    pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 1
    [[ $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]
}
pg_running_here() { pg_folder_running "$PGDATA_DIR"; }

init_pg_cluster() {
    [[ -f $PGDATA_DIR/PG_VERSION ]] && return
    mkdir -p "$VAR/pg"
    chown_if_root postgres: "$VAR/pg"
    chmod 0700 "$VAR/pg"
    as_pg test -w "$VAR/pg" ||
        die "user postgres cannot reach $VAR/pg (is a parent folder not world-executable?)"
    say "postgres: initdb $PGDATA_DIR"
    # SCRAM from the first start. The superuser's password reaches initdb through a pipe made by
    # the postgres user itself: the secret file is not (and need not be) readable by it.
    # shellcheck disable=SC2016  # $0 and $@ belong to the inner shell
    run_logged initdb as_pg bash -c '"$0" "$@" --pwfile=<(cat)' "$PGBIN/initdb" -D "$PGDATA_DIR" \
        -U "$WARDLINE_PG_ADMIN" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
        <"$(secret_file "postgres-$WARDLINE_PG_ADMIN")"
    echo "include_if_exists = 'wardline.conf'" >>"$PGDATA_DIR/postgresql.conf"
    write_pg_hba || true
}

# write_pg_conf [DATA_DIR PORT]: rewritten on every start so a changed port or setting here takes
# effect without a new initdb. The standby gets the same (TimescaleDB preloaded) on its own port.
write_pg_conf() {
    local dir=${1:-$PGDATA_DIR} port=${2:-$WARDLINE_PG_PORT}
    cat >"$dir/wardline.conf" <<CONF
# Generated by deploy/services.sh on each start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$RUN_DIR'
shared_preload_libraries = 'timescaledb'
max_connections = 50
shared_buffers = 256MB
# Durable like production: a stored reading must survive a crash, tests rely on it.
fsync = on
synchronous_commit = on
timezone = 'UTC'
log_timezone = 'UTC'
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
# TimescaleDB's background jobs need worker slots beyond the default 8.
max_worker_processes = 16
timescaledb.max_background_workers = 8
# A primary's synchronous_standby_names, while its standby runs (start-standby, stop-standby).
include_if_exists = '$REPLICATION_CONF'
CONF
    chown_if_root postgres: "$dir/wardline.conf"
}

# The roles, on every start, whatever an older var/ made (trust, and "wardline" a superuser that
# owned everything): passwords from $SECRETS_DIR, no attribute or predefined role beyond LOGIN.
# Passwords travel in SQL on stdin (never argv), hashed by the server as SCRAM.
ensure_pg_roles() {
    local role
    {
        echo "SET password_encryption = 'scram-sha-256';"
        echo "ALTER ROLE $WARDLINE_PG_ADMIN PASSWORD '$(pg_password "$WARDLINE_PG_ADMIN")';"
        for role in "$WARDLINE_PG_OWNER" "$WARDLINE_PG_USER"; do
            cat <<SQL
SELECT 'CREATE ROLE $role' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') \gexec
ALTER ROLE $role LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
    PASSWORD '$(pg_password "$role")';
SELECT format('REVOKE %I FROM $role', r.rolname) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
 WHERE m.member = '$role'::regrole \gexec
SQL
        done
        if replication_wanted; then
            role=$WARDLINE_PG_REPLICATION
            cat <<SQL
SELECT 'CREATE ROLE $role' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') \gexec
ALTER ROLE $role LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT
    PASSWORD '$(pg_password "$role")';
SQL
        fi
    } | psql_admin -d postgres
}

# init_pg_database NAME: database NAME owned by the owner role, TimescaleDB in it (made by the
# superuser: the extension is not trusted), and Wardline's role able to read and write the tables
# the owner makes, now and in later migrations, and to make TEMP staging tables; nothing else.
init_pg_database() {
    local db=$1 owner=$WARDLINE_PG_OWNER app=$WARDLINE_PG_USER
    psql_admin -d postgres <<SQL
SELECT 'CREATE DATABASE $db OWNER $owner' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \gexec
ALTER DATABASE $db OWNER TO $owner;
REVOKE ALL ON DATABASE $db FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE $db TO $app;
SQL
    psql_admin -d "$db" <<SQL
CREATE EXTENSION IF NOT EXISTS timescaledb;
-- An older var/: the tables, chunks and sequences "wardline" made as a superuser go to the owner.
REASSIGN OWNED BY $app TO $owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO $app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO $app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO $app;
ALTER DEFAULT PRIVILEGES FOR ROLE $owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO $app;
ALTER DEFAULT PRIVILEGES FOR ROLE $owner GRANT USAGE, SELECT ON SEQUENCES TO $app;
SQL
}

ensure_pg_objects() {
    ensure_pg_roles
    init_pg_database "$WARDLINE_PG_DB"
    # Only now, with every password set, may an older cluster's trust lines go.
    if write_pg_hba; then
        psql_admin -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
        say "postgres: pg_hba.conf now asks every connection for a password (SCRAM)"
    fi
}

# fresh_db NAME: the integration tests' database, dropped and made again, empty.
fresh_db() {
    local db=${1:-}
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "fresh-db: give a database name (lower case, digits, _)"
    [[ $db != "$WARDLINE_PG_DB" && $db != postgres && $db != template* ]] || die "fresh-db: refusing to drop $db"
    pg_running_here || die "fresh-db: no postgres started from $VAR (deploy/services.sh up)"
    psql_admin -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    init_pg_database "$db"
}

start_db() {
    ensure_pg_secrets
    if standby_promoted && ! pg_running_here; then
        # Two primaries would split Wardline's data: the old one stops where the promotion began.
        die "postgres: the standby ($PGSTANDBY_DIR, 127.0.0.1:$WARDLINE_PG_STANDBY_PORT) was promoted and is the primary now; $PGDATA_DIR is the old primary and is not started beside it. deploy/services.sh fail-back makes it the primary again with everything the promoted one has"
    fi
    if pg_answers; then
        say "postgres: already answering on 127.0.0.1:$WARDLINE_PG_PORT, not starting"
        # Roles, grants and pg_hba.conf are changed only in the cluster under $VAR, never in
        # someone else's server that happens to answer on this port.
        if ! pg_running_here; then
            say "postgres: 127.0.0.1:$WARDLINE_PG_PORT was not started from $VAR; leaving its roles alone"
            return
        fi
    else
        [[ -x $PGBIN/pg_ctl ]] || die "PostgreSQL $PG_MAJOR not installed; run deploy/install.sh"
        [[ -e $("$PGBIN/pg_config" --pkglibdir)/timescaledb.so ]] ||
            die "TimescaleDB not built; run deploy/install.sh"
        mkdir -p "$RUN_DIR" "$LOG_DIR"
        chown_if_root postgres: "$RUN_DIR"
        init_pg_cluster
        write_pg_conf
        touch "$PG_LOG"
        chown_if_root postgres: "$PG_LOG"
        if ! as_pg "$PGBIN/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 -s; then
            tail -n 20 "$PG_LOG" >&2
            die "postgres did not start (log: $PG_LOG)"
        fi
        say "postgres: started on 127.0.0.1:$WARDLINE_PG_PORT (pid $(head -n 1 "$PGDATA_DIR/postmaster.pid"))"
    fi
    ensure_pg_objects
}

stop_db() {
    if pg_running_here; then
        as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 -s
        say "postgres: stopped"
    elif pg_answers; then
        say "postgres: 127.0.0.1:$WARDLINE_PG_PORT answers but was not started from $VAR; leaving it"
    else
        say "postgres: not running"
    fi
}

status_db() {
    local ver
    if pg_answers; then
        ver=$(psql_admin -d "$WARDLINE_PG_DB" -tAc \
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'" 2>/dev/null || true)
        if pg_running_here; then
            echo "postgres  up    127.0.0.1:$WARDLINE_PG_PORT  pid $(head -n 1 "$PGDATA_DIR/postmaster.pid")  timescaledb ${ver:-missing}"
        else
            echo "postgres  up    127.0.0.1:$WARDLINE_PG_PORT  (not started from $VAR)  timescaledb ${ver:-missing}"
        fi
    else
        echo "postgres  down  127.0.0.1:$WARDLINE_PG_PORT"
    fi
}

# --- the streaming standby ---------------------------------------------------------------------
# pg_basebackup -R of the primary into $PGSTANDBY_DIR, on its own port, streaming through the slot
# $WARDLINE_PG_STANDBY_NAME as role $WARDLINE_PG_REPLICATION (SCRAM, loopback). Same binaries and
# the same wardline.conf (TimescaleDB preloaded), so it can be promoted and serve Wardline as is.

STANDBY_LOG=$LOG_DIR/postgres-standby.log
# The walreceiver's passfile: the server's own user reads it (it cannot enter $SECRETS_DIR).
STANDBY_PGPASS=$VAR/pg/replication.pgpass

standby_answers() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$WARDLINE_PG_STANDBY_PORT" -t 2; }
standby_made() { [[ -f $PGSTANDBY_DIR/PG_VERSION ]]; }
standby_running_here() { standby_made && pg_folder_running "$PGSTANDBY_DIR"; }
# A standby folder without standby.signal was promoted: it is a primary now.
standby_promoted() { standby_made && [[ ! -e $PGSTANDBY_DIR/standby.signal ]]; }
psql_standby() { psql_admin_at "$WARDLINE_PG_STANDBY_PORT" "$@"; }
pg_in_recovery() { [[ $(psql_admin -d postgres -tAc 'SELECT pg_is_in_recovery()') == t ]]; }

# set_synchronous on|off: whether the primary's commits wait for the standby's flush; reloaded
# when it changes. Off before the standby stops, or every commit on the primary would hang.
set_synchronous() {
    local file=$PGDATA_DIR/$REPLICATION_CONF new
    new="# Generated by deploy/services.sh (start-standby, stop-standby); edit the script, not this file."
    if [[ $1 == on ]]; then
        new+=$'\n'"synchronous_standby_names = '$WARDLINE_PG_STANDBY_NAME'"
    elif [[ ! -e $file ]]; then
        return
    fi
    [[ -r $file && $(<"$file") == "$new" ]] && return
    printf '%s\n' "$new" >"$file"
    chown_if_root postgres: "$file"
    chmod 0600 "$file"
    psql_admin -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
    say "postgres: commits $([[ $1 == on ]] && echo "wait for the standby's flush (synchronous)" || echo "no longer wait for a standby")"
}

# On the primary: the replication role's password (made once, $SECRETS_DIR, 0600) and passfile, the
# role, the pg_hba lines, the slot, and the walreceiver's own copy of the passfile.
ensure_replication_access() {
    ensure_secret "postgres-$WARDLINE_PG_REPLICATION"
    ensure_pg_secrets
    ensure_pg_roles
    if write_pg_hba; then
        psql_admin -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
        say "postgres: pg_hba.conf lets $WARDLINE_PG_REPLICATION replicate (SCRAM, loopback only)"
    fi
    psql_admin -d postgres >/dev/null <<SQL
SELECT pg_create_physical_replication_slot('$WARDLINE_PG_STANDBY_NAME')
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$WARDLINE_PG_STANDBY_NAME');
SQL
    # shellcheck disable=SC2016  # $0 belongs to the inner shell
    as_pg bash -c 'umask 077 && cat >"$0.new" && mv "$0.new" "$0"' "$STANDBY_PGPASS" \
        <"$SECRETS_DIR/postgres-$WARDLINE_PG_REPLICATION.pgpass"
}

# base_backup FROM_PORT INTO_DIR APPLICATION_NAME [SLOT]: a standby's folder, made by the server's
# user; primary_conninfo names the passfile, never the password. A failed copy is removed.
base_backup() {
    local port=$1 dir=$2 name=$3 slot=${4:-} log=$LOG_DIR/pg_basebackup.log
    say "postgres: pg_basebackup from 127.0.0.1:$port into $dir"
    if ! as_pg "$PGBIN/pg_basebackup" -D "$dir" -R -X stream -c fast ${slot:+-S "$slot"} \
        -d "host=127.0.0.1 port=$port user=$WARDLINE_PG_REPLICATION passfile=$STANDBY_PGPASS application_name=$name" \
        >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -rf "$dir"
        die "pg_basebackup failed (log: $log)"
    fi
    grep -q "password=" "$dir/postgresql.auto.conf" && die "pg_basebackup wrote a password into $dir/postgresql.auto.conf"
    # Its own settings on its own port; a standby's primary_conninfo waits for no standby of its own.
    rm -f "$dir/$REPLICATION_CONF"
}

# start_pg_folder DIR PORT LOG WHAT: pg_ctl start with that folder's wardline.conf rewritten.
start_pg_folder() {
    local dir=$1 port=$2 log=$3 what=$4
    write_pg_conf "$dir" "$port"
    touch "$log"
    chown_if_root postgres: "$log"
    if ! as_pg "$PGBIN/pg_ctl" start -D "$dir" -l "$log" -w -t 60 -s; then
        tail -n 20 "$log" >&2
        die "$what did not start (log: $log)"
    fi
    say "$what: started on 127.0.0.1:$port (pid $(head -n 1 "$dir/postmaster.pid"))"
}

# wait_streaming NAME [PORT]: until the server on PORT (the primary's) streams to NAME, 30 s at most.
wait_streaming() {
    local name=$1 port=${2:-$WARDLINE_PG_PORT} i
    for ((i = 0; i < 300; i++)); do
        [[ $(psql_admin_at "$port" -d postgres -tAc \
            "SELECT state FROM pg_stat_replication WHERE application_name = '$name'") == streaming ]] && return 0
        sleep 0.1
    done
    return 1
}

# wait_sync_state NAME sync|async: until the primary reports that sync_state for NAME, 30 s at most.
wait_sync_state() {
    local name=$1 want=$2 i
    for ((i = 0; i < 300; i++)); do
        [[ $(psql_admin -d postgres -tAc \
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$name'") == "$want" ]] && return 0
        sleep 0.1
    done
    return 1
}

start_standby() {
    if standby_answers && ! standby_running_here; then
        say "postgres standby: 127.0.0.1:$WARDLINE_PG_STANDBY_PORT answers but was not started from $VAR; leaving it"
        return
    fi
    local primary=no
    if pg_running_here && ! pg_in_recovery; then primary=yes; fi
    if ! standby_made; then
        [[ $primary == yes ]] || die "start-standby: no primary running from $VAR to copy (deploy/services.sh start-db)"
        ensure_replication_access
        mkdir -p "$LOG_DIR"
        base_backup "$WARDLINE_PG_PORT" "$PGSTANDBY_DIR" "$WARDLINE_PG_STANDBY_NAME" "$WARDLINE_PG_STANDBY_NAME"
    elif [[ $primary == yes ]] && ! standby_promoted; then
        ensure_replication_access
    fi
    if standby_running_here; then
        say "postgres standby: already running on 127.0.0.1:$WARDLINE_PG_STANDBY_PORT"
    else
        [[ -e $("$PGBIN/pg_config" --pkglibdir)/timescaledb.so ]] || die "TimescaleDB not built; run deploy/install.sh"
        rm -f "$PGSTANDBY_DIR/$REPLICATION_CONF"
        start_pg_folder "$PGSTANDBY_DIR" "$WARDLINE_PG_STANDBY_PORT" "$STANDBY_LOG" "postgres standby"
    fi
    if standby_promoted; then
        say "postgres standby: it was promoted; it is a primary now (deploy/services.sh fail-back)"
        return
    fi
    if [[ $primary == no ]]; then
        say "postgres standby: no primary running from $VAR; it streams once one answers on 127.0.0.1:$WARDLINE_PG_PORT"
        return
    fi
    wait_streaming "$WARDLINE_PG_STANDBY_NAME" || die "the standby does not stream from the primary (log: $STANDBY_LOG)"
    say "postgres standby: streaming from 127.0.0.1:$WARDLINE_PG_PORT"
    if [[ $WARDLINE_PG_STANDBY_SYNC == on ]]; then
        set_synchronous on
        # pg_reload_conf only signals; a commit made before the primary has re-read its settings
        # would not wait for the standby, so start-standby returns once the standby is sync.
        wait_sync_state "$WARDLINE_PG_STANDBY_NAME" sync || die "the standby streams but is not synchronous (log: $STANDBY_LOG)"
    else
        set_synchronous off
        wait_sync_state "$WARDLINE_PG_STANDBY_NAME" async || die "the standby is still synchronous"
    fi
}

stop_standby() {
    # The primary first stops waiting for it, or its commits would hang.
    if pg_running_here && ! pg_in_recovery; then set_synchronous off; fi
    if standby_running_here; then
        as_pg "$PGBIN/pg_ctl" stop -D "$PGSTANDBY_DIR" -m fast -w -t 60 -s
        say "postgres standby: stopped"
    elif standby_answers; then
        say "postgres standby: 127.0.0.1:$WARDLINE_PG_STANDBY_PORT answers but was not started from $VAR; leaving it"
    else
        say "postgres standby: not running"
    fi
}

promote_standby() {
    standby_made || die "promote-standby: no standby in $PGSTANDBY_DIR (deploy/services.sh start-standby)"
    if standby_promoted; then
        say "postgres standby: already promoted; 127.0.0.1:$WARDLINE_PG_STANDBY_PORT is the primary"
        return
    fi
    standby_running_here || die "promote-standby: the standby is not running (deploy/services.sh start-standby)"
    if pg_running_here; then
        # A switchover: never two primaries. A fast shutdown sends the standby every WAL record first.
        say "postgres: stopping the primary first, so that only one server accepts writes"
        stop_db
    fi
    as_pg "$PGBIN/pg_ctl" promote -D "$PGSTANDBY_DIR" -w -t 60 -s
    forget_upstream psql_standby
    say "postgres standby: promoted; 127.0.0.1:$WARDLINE_PG_STANDBY_PORT is the primary now ($PGDATA_DIR is not started again as it is: deploy/services.sh fail-back)"
}

drop_standby() {
    standby_promoted && die "drop-standby: $PGSTANDBY_DIR was promoted and is the primary; deploy/services.sh fail-back first"
    stop_standby
    if standby_made || [[ -d $PGSTANDBY_DIR ]]; then rm -rf "$PGSTANDBY_DIR"; say "postgres standby: deleted $PGSTANDBY_DIR"; fi
    if pg_running_here && ! pg_in_recovery; then
        psql_admin -d postgres >/dev/null <<SQL
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$WARDLINE_PG_STANDBY_NAME' AND NOT active;
SQL
    fi
}

# forget_upstream PSQL: a promoted server's primary_conninfo and slot (pg_basebackup -R's) go, so
# a copy of it (fail-back) streams from where it is told, not from a stale slot name.
forget_upstream() {
    "$1" -d postgres -c 'ALTER SYSTEM RESET primary_conninfo' -c 'ALTER SYSTEM RESET primary_slot_name' \
        -c 'SELECT pg_reload_conf()' >/dev/null
}

# After a promotion: $PGDATA_DIR is made again from the promoted standby, catches up as its standby,
# and is promoted back once the promoted one has stopped (a switchover: nothing lost); then a fresh
# standby. The old primary's folder is kept aside, once, as data.before-fail-back.
fail_back() {
    standby_promoted || die "fail-back: the standby in $PGSTANDBY_DIR was not promoted; nothing to do"
    pg_running_here && die "fail-back: $PGDATA_DIR runs beside the promoted standby; stop it first (deploy/services.sh stop-db)"
    standby_running_here || start_pg_folder "$PGSTANDBY_DIR" "$WARDLINE_PG_STANDBY_PORT" "$STANDBY_LOG" "postgres (promoted standby)"
    local aside=$VAR/pg/data.before-fail-back back=wardline_fail_back
    rm -rf "$aside"
    if [[ -d $PGDATA_DIR ]]; then mv "$PGDATA_DIR" "$aside"; fi
    forget_upstream psql_standby
    psql_standby -d postgres >/dev/null <<SQL
SELECT pg_create_physical_replication_slot('$back')
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$back');
SQL
    base_backup "$WARDLINE_PG_STANDBY_PORT" "$PGDATA_DIR" "$back" "$back"
    start_pg_folder "$PGDATA_DIR" "$WARDLINE_PG_PORT" "$PG_LOG" "postgres (catching up)"
    wait_streaming "$back" "$WARDLINE_PG_STANDBY_PORT" || die "fail-back: $PGDATA_DIR does not stream from the promoted standby (log: $PG_LOG)"
    # A fast shutdown sends the catching-up server every WAL record before the promoted one exits.
    as_pg "$PGBIN/pg_ctl" stop -D "$PGSTANDBY_DIR" -m fast -w -t 60 -s
    as_pg "$PGBIN/pg_ctl" promote -D "$PGDATA_DIR" -w -t 60 -s
    forget_upstream psql_admin
    say "postgres: 127.0.0.1:$WARDLINE_PG_PORT is the primary again (the old folder is in $aside)"
    rm -rf "$PGSTANDBY_DIR"
    ensure_pg_objects
    start_standby
}

status_standby() {
    local pid state
    if ! standby_answers; then
        if standby_made; then echo "standby   down  127.0.0.1:$WARDLINE_PG_STANDBY_PORT"; fi
        return
    fi
    if ! standby_running_here; then
        echo "standby   up    127.0.0.1:$WARDLINE_PG_STANDBY_PORT  (not started from $VAR)"
        return
    fi
    pid=$(head -n 1 "$PGSTANDBY_DIR/postmaster.pid")
    if standby_promoted; then
        echo "standby   up    127.0.0.1:$WARDLINE_PG_STANDBY_PORT  pid $pid  promoted: the primary now"
        return
    fi
    state=$(psql_standby -d postgres -tAc "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
    if pg_running_here; then
        state+=" $(psql_admin -d postgres -tAc "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$WARDLINE_PG_STANDBY_NAME'" 2>/dev/null || true)"
    fi
    echo "standby   up    127.0.0.1:$WARDLINE_PG_STANDBY_PORT  pid $pid  ${state:-not streaming}"
}

# --- commands --------------------------------------------------------------------------------

main() {
    local start=$SECONDS
    case ${1:-} in
        up | down | start-db | stop-db | restart-db | start-mqtt | stop-mqtt | start-kafka | stop-kafka | start-rabbitmq | stop-rabbitmq | fresh-db \
            | start-standby | stop-standby | promote-standby | drop-standby | fail-back)
            with_lock "$@" ;;
    esac
    case ${1:-} in
        up)         start_mqtt; start_db; if standby_made; then start_standby; fi; start_kafka; start_rabbitmq
                    say "up: done in $((SECONDS - start))s" ;;
        down)       stop_rabbitmq; stop_kafka; if standby_made; then stop_standby; fi; stop_db; stop_mqtt ;;
        status)     status_mqtt; status_db; status_standby; status_kafka; status_rabbitmq ;;
        start-db)   start_db ;;
        stop-db)    stop_db ;;
        restart-db) stop_db; start_db ;;
        start-mqtt) start_mqtt ;;
        stop-mqtt)  stop_mqtt ;;
        start-kafka) start_kafka ;;
        stop-kafka) stop_kafka ;;
        start-rabbitmq) start_rabbitmq ;;
        stop-rabbitmq) stop_rabbitmq ;;
        fresh-db)   fresh_db "${2:-}" ;;
        start-standby) start_standby ;;
        stop-standby) stop_standby ;;
        promote-standby) promote_standby ;;
        drop-standby) drop_standby ;;
        fail-back)  fail_back ;;
        -h | --help | help) usage 0 ;;
        *)          usage 2 >&2 ;;
    esac
}

main "$@"
