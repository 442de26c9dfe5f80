#!/usr/bin/env bash
# The README's test command: installs and starts every service the tests need, builds Wardline,
# then runs the unit tests, the ring stress test under ThreadSanitizer, the simulator's tests and
# the integration tests against the real services. Idempotent; safe to run again.
set -euo pipefail
. "$(dirname "$0")/prepare.sh"

# WARDLINE_SCRATCH: another build folder (a second worktree building beside the first).
SCRATCH=${WARDLINE_SCRATCH:-.build}
export WARDLINE_BIN=${WARDLINE_BIN:-$REPO/$SCRATCH/debug/wardline}

say "build (debug, with tests)"
swift build --scratch-path "$SCRATCH" --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Linking)' || true
swift build --scratch-path "$SCRATCH" --build-tests >/dev/null

say "unit tests (pure core, engine, store logic, task-queue logic)"
swift test --scratch-path "$SCRATCH" --skip-build

say "ring buffer stress test under ThreadSanitizer"
swift test --sanitize=thread --scratch-path .build-tsan --filter RingBufferTests 2>&1 \
    | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Linking)'

if [[ -f firmware-sim/Makefile ]]; then
    say "firmware-sim: build and unit tests"
    make -s -C firmware-sim
    make -s -C firmware-sim test
fi

say "integration tests against the real services"
/usr/bin/python3 -m pytest -q -p no:cacheprovider Tests/Integration "$@"
