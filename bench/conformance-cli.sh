#!/usr/bin/env bash
# Walk the sigstore-conformance bundle-verify folder with the release CLI, one cold process per
# case, by the rules of ../shared/vectors/sigstore-conformance/HOW-TO-RUN.md; print each
# failing case, a `N passed, M failed` line and the elapsed wall time.
# Usage: bench/conformance-cli.sh [path/to/imprint]   (default: target/release/imprint,
# honouring CARGO_TARGET_DIR; build it once with `cargo build --release`).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-target}/release/imprint}"
vectors="${VECTORS:-../shared/vectors}"
suite="$vectors/sigstore-conformance/bundle-verify"
pgi="$vectors/trust-roots/pgi-trusted_root.json"
default_id='https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main'
default_iss='https://token.actions.githubusercontent.com'
[ -x "$bin" ] || { echo "error: $bin not built (cargo build --release)" >&2; exit 2; }
passed=0; failed=0
start=$(date +%s.%N)
for case in "$suite"/*/; do
  case="${case%/}"; name="$(basename "$case")"
  [ -f "$case/bundle.sigstore.json" ] || continue
  artifact="$suite/a.txt"; [ -e "$case/artifact" ] && artifact="$case/artifact"
  root="$pgi"; [ -f "$case/trusted_root.json" ] && root="$case/trusted_root.json"
  if [ -f "$case/key.pub" ]; then
    auth=(--key "$case/key.pub")
  else
    id="$default_id"; [ -f "$case/identity" ] && id="$(cat "$case/identity")"
    iss="$default_iss"; [ -f "$case/issuer" ] && iss="$(cat "$case/issuer")"
    auth=(--certificate-identity "$id" --certificate-oidc-issuer "$iss")
  fi
  if "$bin" verify-bundle --bundle "$case/bundle.sigstore.json" "${auth[@]}" --trusted-root "$root" "$artifact" >/dev/null 2>&1; then
    rc=0; else rc=$?; fi
  if [[ "$name" == *_fail ]]; then want=reject; else want=verify; fi
  if { [ "$want" = verify ] && [ "$rc" -eq 0 ]; } || { [ "$want" = reject ] && [ "$rc" -ne 0 ]; }; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL $name (exit $rc, expected $want)"
  fi
done
end=$(date +%s.%N)
[ $((passed + failed)) -gt 0 ] || { echo "error: no cases found under $suite" >&2; exit 2; }
echo "$passed passed, $failed failed"
awk -v s="$start" -v e="$end" -v n=$((passed + failed)) 'BEGIN { printf "elapsed %.2f s for %d cases (%.1f ms per case, cold processes)\n", e - s, n, (e - s) * 1000 / n }'
[ "$failed" -eq 0 ]
