#!/usr/bin/env bash
# Issue 13, "Benchmark": requests/s and p50/p99 latency of `imprint admission` /validate on
# loopback at 1, 16 and 256 concurrent clients, for a one-image Pod, cached and uncached,
# against the registry's own bound measured in the same run; and memory per 1,000 cached
# digests.
#
# Starts Debian's docker-registry on a free loopback port, pushes DIGESTS small images (one
# shared config and layer; each manifest differs by an annotation) with python3's
# http.client, signs them with `imprint sign --new-bundle-format=false` and a throwaway key,
# then starts two webhooks with the test certificates of testdata/admission:
#   cached:   the default evidence cache (64 MiB, 5 min);
#   uncached: `--cache-bytes 0`: every request discovers and verifies the signature again
#             (registry requests per admission request are printed from /metrics);
#   logged:   cached, with `--audit-log` (one decision record per request, group-committed
#             fsync before each answer; the log is verified with `imprint audit-log verify`
#             at the end). AUDIT_LOG=0 leaves it out.
# The Pod names its image by digest (what the mutating webhook leaves behind), so no tag is
# resolved. Load: `ab` (Debian's apache2-utils: `apt-get install apache2-utils`), keep-alive,
# one TLS handshake per client connection, REQUESTS requests per run (at least 8 per client);
# latencies are ab's percentiles (CSV, ms); `-l`: answers vary in length (the log index). The registry's bound: ab against the request an
# uncached verification repeats (GET of the `.sig` tag's manifest), same concurrency.
# Memory: VmRSS of the cached webhook before and after one request for each of DIGESTS
# distinct digests (python3 client, one keep-alive connection).
#
# Usage: bench/admission.sh IMPRINT   (env: REQUESTS=4000 DIGESTS=1000 AUDIT_LOG=1; PROFILE=FILE
# records `perf record -g` of the cached webhook during its 16-client run into FILE)
set -euo pipefail
cd "$(dirname "$0")/.."
imprint="$(realpath "${1:?usage: $0 IMPRINT}")"
requests="${REQUESTS:-4000}"
digests="${DIGESTS:-1000}"
audit_log="${AUDIT_LOG:-1}"
for p in /usr/bin/docker-registry curl python3 ab; do
  command -v "$p" >/dev/null || { echo "error: $p missing (apt-get install docker-registry curl python3 apache2-utils)" >&2; exit 2; }
done

work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
cat >"$work/config.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: 127.0.0.1:$port, secret: bench}
EOF
/usr/bin/docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
reg="127.0.0.1:$port"

# Push: refs.txt gets `repo tag digest` per image.
python3 - "$reg" "$digests" >"$work/refs.txt" <<'PY'
import hashlib, http.client, json, sys
reg, n = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection(reg)
def req(method, path, body=b"", headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse(); data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:200]!r}")
    return r
def blob(repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = req("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
    if loc.startswith("http"):
        loc = loc.split(reg, 1)[1]
    req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data,
        {"Content-Type": "application/octet-stream"})
    return d
config, layer = b"{}", b"bench layer\n" * 8
repo = "bench/app"
cd, ld = blob(repo, config), blob(repo, layer)
for i in range(n):
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}],
        "annotations": {"bench.imprint.dev/n": str(i)}}).encode()
    req("PUT", f"/v2/{repo}/manifests/v{i}", m,
        {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    print(repo, f"v{i}", "sha256:" + hashlib.sha256(m).hexdigest())
PY
export IMPRINT_PASSWORD=bench
(cd "$work" && "$imprint" generate-key-pair >/dev/null 2>&1)
awk -v reg="$reg" '{print reg "/" $1 "@" $3}' "$work/refs.txt" >"$work/by-digest.txt"
xargs -n 250 "$imprint" sign --key "$work/cosign.key" --new-bundle-format=false --tlog-upload=false \
  <"$work/by-digest.txt" >/dev/null 2>"$work/sign.log" || { tail -5 "$work/sign.log" >&2; exit 1; }
cat >"$work/policy.yaml" <<EOF
apiVersion: imprint.dev/v1
kind: TrustPolicy
spec:
  noMatch: deny
  authorities:
    bench: {key: {file: $work/cosign.pub}}
  rules:
    - name: bench-signed
      images: ["$reg/bench/**"]
      signatures: {authority: bench}
EOF

# A one-image Pod CREATE, as the API server sends it.
review() {
  python3 - "$1" "$2" <<'PY'
import json, sys
image, uid = sys.argv[1], sys.argv[2]
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
  "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
  "resource": {"group": "", "version": "v1", "resource": "pods"},
  "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
  "requestResource": {"group": "", "version": "v1", "resource": "pods"},
  "name": "web", "namespace": "bench", "operation": "CREATE",
  "userInfo": {"username": "bench", "groups": ["system:authenticated"]},
  "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "bench"},
             "spec": {"containers": [{"name": "app", "image": image}]}},
  "oldObject": None, "dryRun": False,
  "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}))
PY
}
read -r repo tag digest <"$work/refs.txt"
review "$reg/$repo@$digest" "bench-0" >"$work/pod.json"

start_hook() { # name, extra args...
  local name="$1"; shift
  local p; p="$(free_port)"
  "$imprint" admission --listen "127.0.0.1:$p" --policy "$work/policy.yaml" \
    --tls-cert testdata/admission/server.pem --tls-key testdata/admission/server.key "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "${name}_pid=$!"
  for _ in $(seq 100); do curl -fsS --cacert testdata/admission/ca.pem "https://localhost:$p/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  eval "${name}_port=$p"
}
start_hook cached
start_hook uncached --cache-bytes 0
if [[ "$audit_log" == 1 ]]; then
  "$imprint" audit-log keygen --name bench.imprint.dev/decisions \
    --key-file "$work/log.key" --pub-file "$work/log.pub" 2>/dev/null
  start_hook logged --audit-log "$work/decisions" --audit-log-key "$work/log.key"
fi
metric() { curl -fsS --cacert testdata/admission/ca.pem "https://localhost:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

# ab: "rps p50 p99" (ms).
run_ab() { # url concurrency [post file]
  local n=$requests; (( n < $2 * 8 )) && n=$(( $2 * 8 ))
  local args=(-q -k -l -n "$n" -c "$2" -e "$work/ab.csv")
  if [[ $# -ge 3 ]]; then args+=(-p "$3" -T application/json)
  else args+=(-H 'Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'); fi
  local out; out="$(ab "${args[@]}" "$1" 2>&1)" || { echo "ab failed: $out" >&2; exit 1; }
  local failed; failed="$(sed -n 's/^Failed requests: *//p' <<<"$out")"
  local non2xx; non2xx="$(sed -n 's/^Non-2xx responses: *//p' <<<"$out")"
  [[ "$failed" == 0 && -z "$non2xx" ]] || { echo "ab: $failed failed, ${non2xx:-0} non-2xx for $1" >&2; exit 1; }
  local rps; rps="$(sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' <<<"$out")"
  local p50 p99; p50="$(awk -F, '$1 == 50 {print $2}' "$work/ab.csv")"; p99="$(awk -F, '$1 == 99 {print $2}' "$work/ab.csv")"
  printf '%10s %9s %9s' "$rps" "$p50" "$p99"
}

# Check that the answer is an allow before measuring.
curl -fsS --cacert testdata/admission/ca.pem -H 'Content-Type: application/json' \
  --data-binary @"$work/pod.json" "https://localhost:$cached_port/validate" | grep -q '"allowed":true' \
  || { echo "error: the bench Pod is not allowed" >&2; cat "$work/cached.log" >&2; exit 1; }

sig="$(cut -d: -f2 <<<"$digest")"
echo "imprint admission /validate, one-image Pod (by digest), loopback, $(nproc) CPUs, ab -k, $requests+ requests per run"
printf '%-34s %8s %10s %9s %9s\n' "target" "clients" "req/s" "p50 ms" "p99 ms"
for c in 1 16 256; do
  printf '%-34s %8s ' "registry GET .sig manifest (bound)" "$c"
  run_ab "http://$reg/v2/$repo/manifests/sha256-$sig.sig" "$c"; echo
  before="$(metric "$uncached_port" imprint_registry_requests_total)"
  reqs_before="$(metric "$uncached_port" imprint_admission_request_duration_seconds_count)"
  printf '%-34s %8s ' "webhook uncached" "$c"
  run_ab "https://localhost:$uncached_port/validate" "$c" "$work/pod.json"
  after="$(metric "$uncached_port" imprint_registry_requests_total)"
  reqs_after="$(metric "$uncached_port" imprint_admission_request_duration_seconds_count)"
  python3 -c "print(f'   ({($after-$before)/($reqs_after-$reqs_before):.1f} registry requests per admission request)')"
  printf '%-34s %8s ' "webhook cached" "$c"
  if [[ -n "${PROFILE:-}" && "$c" == 16 ]]; then
    perf record -q -F 2000 -g -p "$cached_pid" -o "$PROFILE" 2>/dev/null &
    perf_pid=$!; sleep 0.5
  fi
  run_ab "https://localhost:$cached_port/validate" "$c" "$work/pod.json"; echo
  if [[ -n "${perf_pid:-}" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; perf_pid=; fi
  if [[ "$audit_log" == 1 ]]; then
    printf '%-34s %8s ' "webhook cached + audit-log (fsync)" "$c"
    run_ab "https://localhost:$logged_port/validate" "$c" "$work/pod.json"; echo
  fi
done
if [[ "$audit_log" == 1 ]]; then
  kill -TERM "$logged_pid"; wait "$logged_pid" 2>/dev/null || true
  "$imprint" audit-log verify "$work/decisions" --key "$work/log.pub"
fi

# Memory per 1,000 cached digests.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
rss0="$(rss "$cached_pid")"
python3 - "$cached_port" "$work/refs.txt" "$reg" <<'PY'
import http.client, json, ssl, sys
port, refs, reg = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile="testdata/admission/ca.pem")
c = http.client.HTTPSConnection("localhost", int(port), context=ctx)
for i, line in enumerate(open(refs)):
    repo, _, digest = line.split()
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": f"mem-{i}", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "userInfo": {"username": "bench"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                   "spec": {"containers": [{"name": "app", "image": f"{reg}/{repo}@{digest}"}]}}}}
    c.request("POST", "/validate", json.dumps(body), {"Content-Type": "application/json"})
    r = json.loads(c.getresponse().read())
    if not r["response"]["allowed"]:
        sys.exit(f"denied: {r}")
PY
rss1="$(rss "$cached_pid")"
entries="$(metric "$cached_port" imprint_evidence_cache_entries)"
bytes="$(metric "$cached_port" imprint_evidence_cache_bytes)"
python3 -c "
e=$entries; d=($rss1-$rss0)
print(f'evidence cache: {e} entries, estimated {$bytes/1024:.0f} KiB; VmRSS +{d} KiB for $digests new digests = {d*1000/$digests:.0f} KiB per 1,000 digests')"
