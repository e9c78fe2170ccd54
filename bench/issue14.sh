#!/usr/bin/env bash
# Issue 14's benchmark in one run: round trips (cold single-image verify at 0, 20 and 50 ms per
# request for imprint full discovery, imprint legacy-only and the sigstore-rs peer; requests
# and critical path; 100 images at --max-workers 1 and 16 at 20 ms), then the SBOM figures at
# 50 and 200 MiB against `sha256sum` of the same file. Every figure is a ratio to a baseline
# measured in the same run (curl for the round trips, sha256sum for the SBOMs); the method of
# each part is in bench/README.md and bench/README-sbom.md.
#
# Usage: bash bench/issue14.sh        (env: RUNS=7 IMAGES=100 SBOM_SIZES="50 200")
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
echo "== building release imprint and the sigstore-rs peer" >&2
cargo build --release --locked --bin imprint --example sigstore_rs_verify >&2
# Copies, so another build into the same target directory cannot swap the binary mid-run.
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
cp "$target/release/imprint" "$target/release/examples/sigstore_rs_verify" "$bin/"
echo "== round trips"
bash bench/round-trips.sh "$bin/imprint" "$bin/sigstore_rs_verify"
echo
echo "== SBOMs"
IMPRINT_BIN="$bin/imprint" bash bench/sbom.sh
