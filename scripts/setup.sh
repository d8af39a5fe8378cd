#!/usr/bin/env bash
# Idempotent set-up for Skypatrol: npm dependencies, PostgreSQL + PostGIS, Redis,
# the tools tests use (GDAL, poppler, Chromium, CJK fonts), the web bundle and
# the database migrations. Safe to run repeatedly; it does only what is missing.
#
#   bash scripts/setup.sh demo   # what `npm run demo` needs
#   bash scripts/setup.sh test   # what `npm test` needs (adds browser and reference tools)
set -euo pipefail
mode="${1:-demo}"
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() {
  printf '\033[1;31m[setup] %s\033[0m\n' "$*" >&2
  printf '[setup] Without root and apt-get, start the services with Docker instead:\n' >&2
  printf '          docker compose up -d db redis\n' >&2
  printf '        then run this command again (DATABASE_URL / REDIS_URL point at them by default).\n' >&2
  exit 1
}

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/skypatrol}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

# --- npm dependencies -------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Debian packages ---------------------------------------------------------
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
missing_pkgs=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing_pkgs+=("$1"); }
apt_updated=0
apt_install() {
  [ $# -eq 0 ] && return 0
  can_apt || die "missing Debian packages: $* (need root and apt-get to install them)"
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    apt_updated=1
  fi
  log "installing: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# Parse host/port from the URLs; only local services are installed and started here.
url_host() { node -e 'const u=new URL(process.argv[1]);process.stdout.write(u.hostname||"127.0.0.1")' "$1"; }
url_port() { node -e 'const u=new URL(process.argv[1]);process.stdout.write(u.port||process.argv[2])' "$1" "$2"; }
is_local() { case "$1" in 127.*|localhost|::1|"") return 0 ;; *) return 1 ;; esac; }
pg_host=$(url_host "$DATABASE_URL"); pg_port=$(url_port "$DATABASE_URL" 5432)
rd_host=$(url_host "$REDIS_URL"); rd_port=$(url_port "$REDIS_URL" 6379)

pg_up() { node scripts/probe.mjs pg "$DATABASE_URL" >/dev/null 2>&1; }
redis_up() { node scripts/probe.mjs redis "$REDIS_URL" >/dev/null 2>&1; }

# --- PostgreSQL --------------------------------------------------------------
if ! pg_up; then
  is_local "$pg_host" || die "PostgreSQL at $pg_host:$pg_port is not reachable"
  log "PostgreSQL not reachable on $pg_host:$pg_port; installing/starting it"
  dpkg -s postgresql-15 >/dev/null 2>&1 || apt_install postgresql-15 postgresql-15-postgis-3
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    ver=$(ls /etc/postgresql | sort -n | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || die "PostgreSQL did not come up on $pg_host:$pg_port (check the server's auth: trust for user postgres on 127.0.0.1)"
fi

# PostGIS must exist in the server's own major version.
if [ "$(node scripts/probe.mjs postgis "$DATABASE_URL")" != "yes" ]; then
  is_local "$pg_host" || die "the PostgreSQL server at $pg_host has no PostGIS extension available"
  major=$(node scripts/probe.mjs pgmajor "$DATABASE_URL")
  apt_install "postgresql-$major-postgis-3"
  [ "$(node scripts/probe.mjs postgis "$DATABASE_URL")" = "yes" ] || die "PostGIS is still not available after installing postgresql-$major-postgis-3"
fi

# --- Redis -------------------------------------------------------------------
if ! redis_up; then
  is_local "$rd_host" || die "Redis at $rd_host:$rd_port is not reachable"
  log "Redis not reachable on $rd_host:$rd_port; installing/starting it"
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port "$rd_port" --save "" --appendonly no \
    --dir /tmp --logfile /tmp/skypatrol-redis.log
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  redis_up || die "Redis did not come up on $rd_host:$rd_port"
fi

# --- tools the tests and packets use ------------------------------------------
missing_pkgs=()
need_pkg fonts-noto-cjk
# libdeflate for the native inflate addon (COG blocks decode about 1.5x as fast as with zlib).
need_pkg libdeflate-dev
command -v gcc >/dev/null 2>&1 || need_pkg gcc
if [ "$mode" = test ]; then
  need_pkg gdal-bin
  need_pkg poppler-utils
  need_pkg chromium
  # The GDAL + numpy peer of the patrol benchmark (npm run bench).
  need_pkg python3-gdal
  need_pkg python3-numpy
  # numpy's matrix products through OpenBLAS, not the reference BLAS (the peer's MLPs).
  need_pkg libopenblas0-pthread
fi
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if can_apt; then apt_install "${missing_pkgs[@]}"
  else log "optional tools missing (${missing_pkgs[*]}); tests that need them will fail and say so"; fi
fi

# --- native addon (libdeflate binding) -------------------------------------------
if dpkg -s libdeflate-dev >/dev/null 2>&1 || [ -f /usr/include/libdeflate.h ]; then
  bash scripts/build-native.sh || log "native inflate addon not built; COG blocks inflate with Node's zlib"
else
  log "libdeflate-dev missing; COG blocks inflate with Node's zlib"
fi

# --- web bundle ----------------------------------------------------------------
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html web/vite.config.ts -newer web/dist/index.html 2>/dev/null | head -1)" ]; then
  log "building the web app (vite)"
  npx vite build --config web/vite.config.ts --logLevel error
fi

# --- database + migrations -------------------------------------------------------
log "migrating $(node -e 'const u=new URL(process.argv[1]);u.password="";process.stdout.write(u.toString())' "$DATABASE_URL")"
node bin/skypatrol.mjs db migrate --quiet
log "ready ($mode)"
