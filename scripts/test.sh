#!/usr/bin/env bash
# Installs every program the tests run and runs the whole test suite. The README's test command;
# .ci/run runs it. The tests run: /usr/bin/docker-registry (Debian's docker-registry), htpasswd
# (apache2-utils), sh, python3 with securesystemslib and cryptography, and node (nodejs, npm)
# with the Sigstore mock harness; cargo-deny checks
# the dependency graph; each test checks
# for its program first (tests/it/support: require_program) and names the package if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# The real registry the integration tests run against (CNCF distribution 2.8).
[ -x /usr/bin/docker-registry ] || apt_install docker-registry
# The Debian package may start a system instance on :5000; the tests start their own on a
# free loopback port, so it is not needed.
# The bcrypt htpasswd file of the Basic-auth registry test.
command -v htpasswd >/dev/null || apt_install apache2-utils
command -v python3 >/dev/null || apt_install python3 python3-pip
# An independent DSSE implementation for the interop test.
if ! python3 -c 'import securesystemslib, cryptography' 2>/dev/null; then
  python3 -m pip install -q 'securesystemslib[crypto]' 2>/dev/null \
    || python3 -m pip install -q --break-system-packages 'securesystemslib[crypto]' 2>/dev/null \
    || apt_install python3-securesystemslib python3-cryptography
fi

# --- tuf (tests/it/tuf.rs): python-tuf builds, serves and cross-checks the TUF repository. ---
if ! python3 -c 'import tuf.ngclient, tuf.api.metadata' 2>/dev/null; then
  python3 -m pip install -q tuf 2>/dev/null \
    || python3 -m pip install -q --break-system-packages tuf 2>/dev/null \
    || apt_install python3-tuf
fi
# PKCS#11 (tests/it/pkcs11.rs): SoftHSM2 as the token; openssl makes its RSA test key.
command -v softhsm2-util >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ] || apt_install softhsm2
command -v openssl >/dev/null || apt_install openssl
# --- end tuf ---

# Licenses, bans and sources of the locked dependency graph (deny.toml). cargo-deny comes from
# crates.io (about 4 minutes to build on 2 cores, once); advisories need GitHub (see deny.toml).
CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
fi
cargo deny --log-level error check licenses bans sources

# --- keyless signing (tests/it/keyless_sign.rs) -------------------------------------------
# Sigstore's own mock Fulcio/CT log/Rekor/TSA and the sigstore-js signer and verifier, from
# ../shared/harness/sigstore-mock, copied to target/sigstore-mock (never written in place) with
# its locked npm packages. Node and npm are Debian's `nodejs` and `npm`; the tests then run
# offline on 127.0.0.1 (IMPRINT_SIGSTORE_MOCK points elsewhere if wanted).
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
SIGSTORE_MOCK="${IMPRINT_SIGSTORE_MOCK:-$PWD/target/sigstore-mock}"
HARNESS="${IMPRINT_HARNESS:-../shared/harness}"
if [ ! -d "$SIGSTORE_MOCK/node_modules/@sigstore/mock" ]; then
  [ -f "$HARNESS/sigstore-mock/package-lock.json" ] \
    || { echo "no Sigstore mock harness in $HARNESS/sigstore-mock (set IMPRINT_HARNESS)" >&2; exit 1; }
  mkdir -p "$SIGSTORE_MOCK"
  cp -r "$HARNESS/sigstore-mock/." "$SIGSTORE_MOCK/"
  (cd "$SIGSTORE_MOCK" && npm ci --no-audit --no-fund --loglevel=error)
fi
export IMPRINT_SIGSTORE_MOCK="$SIGSTORE_MOCK"
# --- end keyless signing --------------------------------------------------------------------

# The sigstore-conformance walk, each of its 70 cases reported by name, then everything.
cargo test --locked --test it conformance::conformance_bundle_verify -- --exact --nocapture --quiet
cargo test --locked "$@"
