# shellcheck shell=bash
# Source me: `. deploy/env.sh` — points Wardline, the tests and psql at the dev services.
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export WARDLINE_VAR=$VAR
export WARDLINE_MQTT_HOST WARDLINE_MQTT_PORT WARDLINE_PG_PORT WARDLINE_DATABASE_URL
export WARDLINE_KAFKA_PORT WARDLINE_KAFKA_BROKERS WARDLINE_KAFKA_ALERTS_TOPIC
export WARDLINE_RABBITMQ_PORT WARDLINE_RABBITMQ_URL
export PGHOST=127.0.0.1
export PGPORT=$WARDLINE_PG_PORT
export PGUSER=$WARDLINE_PG_USER
export PGDATABASE=$WARDLINE_PG_DB
