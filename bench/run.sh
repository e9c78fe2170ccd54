#!/usr/bin/env bash
# Bulk verification benchmark (issue 6) plus the one-image CLI timing (issue 3), in one run.
#
#   bash bench/run.sh                # N=1000 images
#   N=200 ROUNDS=1 bash bench/run.sh # quicker
#
# Environment: N (images, default 1000), CONCURRENCY (default 8), ROUNDS (default 3),
# AB_REQUESTS (requests per URL for ab, default 2000). Results: stdout and bench/out/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if need apt-get; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y "$@" || { apt-get update && apt-get install -y "$@"; }
    elif need sudo; then sudo apt-get install -y "$@"; fi
  fi
}
[ -x /usr/bin/docker-registry ] || apt_install docker-registry
need ab || apt_install apache2-utils
need hyperfine || apt_install hyperfine || echo "hyperfine unavailable: timing the CLI with a 20-run loop" >&2
need ab || { echo "bench/run.sh: ab (apache2-utils) is required for the registry bound" >&2; exit 2; }

target="${CARGO_TARGET_DIR:-target}"
echo "== machine: $(nproc) cores; uptime: $(uptime)"

# Release CLI for the one-image timing (the lead measures clean build time separately).
start=$(date +%s)
cargo build --release --bin imprint
echo "== cargo build --release --bin imprint (incremental): $(( $(date +%s) - start )) s"
bin="$target/release/imprint"
echo "== binary size: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1)) at $bin"

# The benchmark itself (bench profile = release settings).
IMPRINT_BIN="$(realpath "$bin")" cargo bench --bench bulk_verify
echo "== uptime after: $(uptime)"
