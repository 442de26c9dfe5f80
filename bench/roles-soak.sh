#!/usr/bin/env bash
# The split roles' soak (issue 14): 1 ingest and 3 engine nodes under a 30-device stream, an
# engine node killed with -9 and restarted every KILL_EVERY_S seconds, for MINUTES. Needs the
# services (deploy/services.sh up) and a build (swift build).
#   bench/roles-soak.sh [MINUTES [KILL_EVERY_S]]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. deploy/env.sh
export WARDLINE_BIN=${WARDLINE_BIN:-$PWD/.build/debug/wardline}
export WARDLINE_SOAK_MINUTES=${1:-10} WARDLINE_SOAK_KILL_EVERY_S=${2:-20}
exec /usr/bin/python3 -m pytest -q -s -p no:cacheprovider Tests/Integration/test_roles_soak.py
