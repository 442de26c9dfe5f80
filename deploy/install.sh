#!/usr/bin/env bash
# Installs everything the dev services and the build need; safe to re-run.
# Usage: deploy/install.sh
#   Debian packages: apt is skipped entirely when all are already installed.
#   TimescaleDB 2.x (Apache-only): built from Debian trixie's *source* package, because
#   Debian 12 ships no TimescaleDB binary; skipped when timescaledb.so is installed.
set -euo pipefail
# shellcheck source=deploy/lib.sh
. "$(dirname "$0")/lib.sh"

PACKAGES=(
    mosquitto mosquitto-clients libmosquitto-dev
    postgresql-15 postgresql-server-dev-15 cmake
    libpq-dev libwebsockets-dev librabbitmq-dev libssl-dev
    python3-paho-mqtt python3-psycopg python3-pytest pkg-config
    # Needed by the TimescaleDB build below; present on most images, not on a minimal one.
    gcc make xz-utils debian-archive-keyring
)
APT_DIR=$VAR/apt
BUILD_DIR=$VAR/build/timescaledb

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]} == 0)); then
        say "apt: all ${#PACKAGES[@]} packages already installed, skipping apt"
        return
    fi
    say "apt: installing ${missing[*]}"
    # Via env: sudo would drop an exported DEBIAN_FRONTEND and apt could stop to ask questions.
    run_logged apt-update as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    run_logged apt-install as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# The machine's own Debian mirror; never a host name written into the project.
debian_mirror() {
    local m=""
    if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
        m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [[ -z $m && -r /etc/apt/sources.list ]]; then
        m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; exit}}' /etc/apt/sources.list)
    fi
    [[ -n $m ]] || die "cannot find the Debian mirror in /etc/apt/sources.list.d/debian.sources"
    echo "$m"
}

# A private apt list for trixie *sources* only: nothing from trixie ever reaches the system's apt.
APT_OPTS=(-o "Dir::Etc::sourcelist=$APT_DIR/sources.list" -o Dir::Etc::sourceparts=-
          -o "Dir::State::Lists=$APT_DIR/lists")

download_timescaledb_source() { (cd "$BUILD_DIR" && apt-get "${APT_OPTS[@]}" source --download-only timescaledb); }

fetch_timescaledb_source() {
    local mirror
    mirror=$(debian_mirror)
    mkdir -p "$APT_DIR/lists/partial" "$BUILD_DIR"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
        >"$APT_DIR/sources.list"
    run_logged timescaledb-apt-update apt-get "${APT_OPTS[@]}" update
    rm -f "$BUILD_DIR"/timescaledb_*
    run_logged timescaledb-fetch download_timescaledb_source
}

# APACHE_ONLY: compression, continuous aggregates and retention policies are TSL; Wardline does
# its own retention and rollups. Tests and telemetry off: a dev build, offline.
configure_timescaledb() {
    (cd "$1" && BUILD_FORCE_REMOVE=true ./bootstrap -DPG_CONFIG="$PGBIN/pg_config" \
        -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
        -DUSE_TELEMETRY=OFF)
}

build_timescaledb() {
    local tarball src
    tarball=$(find "$BUILD_DIR" -maxdepth 1 -name 'timescaledb_*.orig.tar.*' | sort | tail -n 1)
    [[ -n $tarball ]] || die "no timescaledb source tarball in $BUILD_DIR"
    # Fresh tree every time: bootstrap refuses to reuse a half-built build/ directory.
    find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' -exec rm -rf {} +
    tar -xf "$tarball" -C "$BUILD_DIR"
    src=$(find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)
    [[ $(basename "$src") == timescaledb-2.* ]] || die "expected TimescaleDB 2.x, got $(basename "$src")"
    say "timescaledb: building $(basename "$src") (Apache-only) against PostgreSQL $PG_MAJOR"
    run_logged timescaledb-configure configure_timescaledb "$src"
    run_logged timescaledb-make make -C "$src/build" -j"$(nproc)"
    run_logged timescaledb-install as_root make -C "$src/build" install
}

install_timescaledb() {
    local so
    so=$("$PGBIN/pg_config" --pkglibdir)/timescaledb.so
    if [[ -e $so ]]; then
        say "timescaledb: already installed ($so), skipping build"
        return
    fi
    say "timescaledb: fetching source package from Debian trixie"
    fetch_timescaledb_source
    build_timescaledb
    [[ -e $so ]] || die "timescaledb build finished but $so is missing"
}

main() {
    local start=$SECONDS
    mkdir -p "$VAR" "$LOG_DIR"
    install_packages
    install_timescaledb
    say "install: done in $((SECONDS - start))s"
}

main "$@"
