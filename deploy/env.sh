# shellcheck shell=bash
# Source me: `. deploy/env.sh` — points Wardline, the tests and psql at the dev services.
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export WARDLINE_VAR=$VAR
export WARDLINE_MQTT_HOST WARDLINE_MQTT_PORT WARDLINE_MQTT_MTLS_PORT WARDLINE_MQTT_CA_FILE WARDLINE_PG_PORT WARDLINE_DATABASE_URL
# The owner migrates (`WARDLINE_DATABASE_URL=$WARDLINE_OWNER_DATABASE_URL wardline migrate`); the
# superuser's URL is for the tests (fresh databases) and the benchmark, never for Wardline itself.
export WARDLINE_OWNER_DATABASE_URL WARDLINE_ADMIN_DATABASE_URL
# Primary and standby in one URL (target_session_attrs=read-write), for `services.sh start-standby`:
# `WARDLINE_DATABASE_URL=$WARDLINE_FAILOVER_DATABASE_URL wardline serve` follows a promotion.
export WARDLINE_PG_STANDBY_PORT WARDLINE_FAILOVER_DATABASE_URL WARDLINE_FAILOVER_OWNER_DATABASE_URL
# Wardline's broker account, and the dynsec admin that provisioning (CLI and REST) uses.
export WARDLINE_MQTT_USERNAME=wardline WARDLINE_MQTT_ADMIN_USERNAME=admin
if [[ -r $MQTT_CREDENTIALS/wardline.password ]]; then export WARDLINE_MQTT_PASSWORD=$(<"$MQTT_CREDENTIALS/wardline.password"); fi
if [[ -r $MQTT_CREDENTIALS/admin.password ]]; then export WARDLINE_MQTT_ADMIN_PASSWORD=$(<"$MQTT_CREDENTIALS/admin.password"); fi
export WARDLINE_KAFKA_PORT WARDLINE_KAFKA_BROKERS WARDLINE_KAFKA_ALERTS_TOPIC
WARDLINE_RABBITMQ_URL=$(rabbitmq_url)
export WARDLINE_RABBITMQ_PORT WARDLINE_RABBITMQ_URL
[[ -r $(secret_file "rabbitmq-$WARDLINE_RABBITMQ_USER") ]] ||
    say "no passwords under $SECRETS_DIR yet: run deploy/services.sh up, then source this again" >&2
# psql as Wardline's role, its password from its passfile.
export PGHOST=127.0.0.1
export PGPORT=$WARDLINE_PG_PORT
export PGUSER=$WARDLINE_PG_USER
export PGDATABASE=$WARDLINE_PG_DB
export PGPASSFILE=$SECRETS_DIR/postgres-$WARDLINE_PG_USER.pgpass
