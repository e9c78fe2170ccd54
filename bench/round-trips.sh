#!/usr/bin/env bash
# Issue 14, "Round trips": a cold `imprint verify --key IMAGE` (one process per run) against a
# loopback registry behind a proxy that holds every answer back by 0, 20 and 50 ms, with full
# discovery (the default) and `--signature-format legacy`; the requests it sends, how many of
# them lie on the critical path (one after another), and 100 images at `--max-workers` 1 and 16
# at 20 ms. The baseline in the same run, through the same proxy: `curl` fetching the three
# things a legacy verification needs (manifest by tag, `.sig` manifest, payload blob) one after
# another over one keep-alive connection: 3 round trips plus curl's own start-up.
#
# With a second argument, the sigstore-rs peer (`examples/sigstore_rs_verify.rs`, sigstore-rs
# 0.15's cosign client verifying the same legacy signature) gets a row per delay too.
#
# Usage: bench/round-trips.sh IMPRINT [SIGSTORE_RS_PEER]   (env: RUNS=7 IMAGES=100)
#   cargo build --release --locked --bin imprint --example sigstore_rs_verify
#   bash bench/round-trips.sh target/release/imprint target/release/examples/sigstore_rs_verify
set -euo pipefail
cd "$(dirname "$0")/.."
imprint="$(realpath "${1:?usage: $0 IMPRINT [SIGSTORE_RS_PEER]}")"
peer="${2:+$(realpath "$2")}"
runs="${RUNS:-7}"
images="${IMAGES:-100}"
source bench/lib.sh
need /usr/bin/docker-registry:docker-registry curl:curl python3:python3
bench_work
start_registry

# IMAGES distinct images over 10 repositories (refs.txt: repo tag digest).
push_images "$reg" "$images" 10 bench/rt >"$work/refs.txt"
export IMPRINT_PASSWORD=bench
(cd "$work" && "$imprint" generate-key-pair >/dev/null 2>&1)
awk -v reg="$reg" '{print reg "/" $1 "@" $3}' "$work/refs.txt" >"$work/by-digest.txt"
xargs -n 100 "$imprint" sign --key "$work/cosign.key" --new-bundle-format=false --tlog-upload=false \
  <"$work/by-digest.txt" >/dev/null 2>"$work/sign.log" || { tail -5 "$work/sign.log" >&2; exit 1; }

# The first image's three URLs, for the curl baseline.
read -r repo0 tag0 digest0 <"$work/refs.txt"
sig_tag="sha256-${digest0#sha256:}.sig"
payload="$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$reg/v2/$repo0/manifests/$sig_tag" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')"

start_proxy() { # DELAY_MS -> sets proxy, log
  local p; p="$(free_port)"
  log="$work/proxy-$1.log"; : >"$log"
  python3 bench/delay-proxy.py "$p" "$reg" "$1" "$log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$p/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
  : >"$log"
  proxy="127.0.0.1:$p"
}
now() { date +%s%N; }
median_ms() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.1f}")' "$@"; }
# Requests in the log, and the longest chain each sent after the previous one was answered.
path_of() {
  python3 - "$1" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
log.sort(key=lambda r: r["started"])
best = []
for i, r in enumerate(log):
    chain = []
    for j in range(i):
        if log[j]["answered"] <= r["started"] and len(best[j]) > len(chain):
            chain = best[j]
    best.append(chain + [i])
path = max(best, key=len) if best else []
kinds = " -> ".join(log[i]["method"] + " " + log[i]["path"].split("/")[-2] + "/" + log[i]["path"].split("/")[-1][:20] for i in path)
print(f"{len(log)} {len(path)} {kinds}")
PY
}
time_cmd() { # RUNS times: prints the median wall ms; the log keeps the last run only
  local t=() s
  for _ in $(seq "$runs"); do
    : >"$log"
    s="$(now)"
    "$@" >/dev/null 2>&1 || { echo "error: $* failed" >&2; "$@" >&2 || true; exit 1; }
    t+=("$(( ($(now) - s) / 1000 ))e-3")
  done
  median_ms "${t[@]}"
}

accept='Accept: application/vnd.oci.image.manifest.v1+json'
echo "imprint: $imprint"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), RUNS=$runs, IMAGES=$images"
printf '\n%-6s | %-28s | %9s | %6s | %8s | %s\n' delay what "median ms" "x curl" requests "critical path"
for d in 0 20 50; do
  start_proxy "$d"
  img="$proxy/$repo0:$tag0"
  base="$(time_cmd curl -fsS -H "$accept" -o /dev/null "http://$proxy/v2/$repo0/manifests/$tag0" \
    -o /dev/null "http://$proxy/v2/$repo0/manifests/$sig_tag" -o /dev/null "http://$proxy/v2/$repo0/blobs/$payload")"
  read -r n cp kinds < <(path_of "$log")
  printf '%-6s | %-28s | %9s | %6s | %8s | %s\n' "${d}ms" "curl 3 GETs (baseline)" "$base" "1.00" "$n" "$cp"
  for fmt in any legacy; do
    ms="$(time_cmd "$imprint" verify --key "$work/cosign.pub" --signature-format "$fmt" "$img")"
    read -r n cp kinds < <(path_of "$log")
    ratio="$(python3 -c "print(f'{$ms / $base:.2f}')")"
    printf '%-6s | %-28s | %9s | %6s | %8s | %s: %s\n' "${d}ms" "imprint verify ($fmt)" "$ms" "$ratio" "$n" "$cp" "$kinds"
  done
  if [ -n "$peer" ]; then
    ms="$(time_cmd "$peer" "$work/cosign.pub" "$img")"
    read -r n cp kinds < <(path_of "$log")
    ratio="$(python3 -c "print(f'{$ms / $base:.2f}')")"
    printf '%-6s | %-28s | %9s | %6s | %8s | %s: %s\n' "${d}ms" "sigstore-rs 0.15 (peer)" "$ms" "$ratio" "$n" "$cp" "$kinds"
  fi
done

echo
start_proxy 20
sed "s|^$reg/|$proxy/|" "$work/by-digest.txt" >"$work/via-proxy.txt"
mapfile -t refs <"$work/via-proxy.txt"
runs_saved="$runs"; runs=3
one="$(time_cmd "$imprint" verify --key "$work/cosign.pub" --max-workers 1 "${refs[@]}")"
read -r n1 cp1 _ < <(path_of "$log")
sixteen="$(time_cmd "$imprint" verify --key "$work/cosign.pub" --max-workers 16 "${refs[@]}")"
read -r n16 cp16 _ < <(path_of "$log")
runs="$runs_saved"
echo "20 ms per request, ${#refs[@]} images by digest, full discovery (median of 3):"
echo "  --max-workers 1:  $one ms, $n1 requests, $cp1 on the critical path"
echo "  --max-workers 16: $sixteen ms, $n16 requests, $cp16 on the critical path"
python3 -c "print(f'  speed-up 16 vs 1: {$one / $sixteen:.1f}x')"
