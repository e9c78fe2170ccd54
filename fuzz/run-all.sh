#!/usr/bin/env bash
# Run every cargo-fuzz target for SECONDS seconds each (default 60), one after the other, or
# only the TARGETs named.
#
#   bash fuzz/run-all.sh 60
#   bash fuzz/run-all.sh 60 image_reference sbom
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). cargo-fuzz passes nightly-only flags
# (-Zsanitizer, -Cpasses=sancov-module); on a stable toolchain RUSTC_BOOTSTRAP=1 lets them
# through, which is what this script does. The seed corpus (fuzz/corpus/<target>/, not in git)
# is written by the replay test from the shared vectors on first use; libFuzzer adds what it
# finds there. Crashes land in fuzz/artifacts/<target>/; copy a crash input that you fix to
# fuzz/regressions/<target>/ so that the stable replay (tests/it/fuzz.rs) keeps running it.
# A summary line per target (executions, exec/s, corpus size, crash or not) goes to stdout
# and is appended to fuzz/out/summary.txt; the full libFuzzer logs to fuzz/out/<target>.log.
set -euo pipefail

seconds="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
export IMPRINT_VECTORS="${IMPRINT_VECTORS:-$root/../shared/vectors}"
export RUSTC_BOOTSTRAP=1
# A sanitizer needs a nightly std built with it (-Zbuild-std needs rust-src); `none` works
# on plain stable. Override with FUZZ_SANITIZER=address where that is available.
sanitizer="${FUZZ_SANITIZER:-none}"
# Its own target directory: the instrumented build shares nothing with the normal one, and
# must not hold the shared build directory's lock for the whole build.
fuzz_args=(--fuzz-dir "$here" --target-dir "$here/target" -s "$sanitizer" --release
  --debug-assertions)

if [ "$#" -gt 0 ]; then
  targets="$*"
else
  targets=$(cargo fuzz list --fuzz-dir "$here")
fi

if [ ! -d "$here/corpus" ]; then
  IMPRINT_FUZZ_CORPUS="$here/corpus" \
    cargo test --test it fuzz::write_seed_corpus -- --exact --quiet
fi

cargo fuzz build "${fuzz_args[@]}"

mkdir -p "$here/out"
status=0
for t in $targets; do
  mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
  log="$here/out/$t.log"
  set +e
  cargo fuzz run "${fuzz_args[@]}" "$t" "$here/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
    -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  corpus=$(find "$here/corpus/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result="no crash"
  else
    result="FAILED (exit $rc): $(grep -m1 -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" || true)"
    status=1
  fi
  line="$t: $execs executions, $rate exec/s, corpus $corpus files, $result"
  echo "$line" | tee -a "$here/out/summary.txt"
done
exit "$status"
