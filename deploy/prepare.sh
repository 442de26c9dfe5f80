# shellcheck shell=bash
# Sourced by run.sh and test.sh: install what is missing, start the services on loopback, and
# point this shell at them (and at a Swift toolchain).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
"$DEPLOY/install.sh"
"$DEPLOY/services.sh" up
. "$DEPLOY/env.sh"
