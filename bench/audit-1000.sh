#!/usr/bin/env bash
# Issue 12, "an audit of at least 1,000 images in a manifest set": wall time of `imprint audit`,
# unique digests, registry requests per image, against the registry's own bound measured in
# the same run (curl fetching the same number of manifests, in parallel over keep-alive).
#
# Starts Debian's docker-registry on a free loopback port, pushes IMAGES distinct small images
# (one shared config and layer; each manifest differs by an annotation, so each has its own
# digest) with python3's http.client over one keep-alive connection, signs every one with
# `imprint sign --new-bundle-format=false` and a throwaway key from `imprint generate-key-pair`,
# writes WORKLOADS Deployments over 10 namespaces (workload i names image i mod IMAGES, by tag,
# so some share images), then times `imprint audit -o json` and the curl baseline.
#
# Usage: bench/audit-1000.sh IMPRINT   (env: IMAGES=1000 WORKLOADS=1200 REPOS=20 PARALLEL=16)
set -euo pipefail
cd "$(dirname "$0")/.."
imprint="$(realpath "${1:?usage: $0 IMPRINT}")"
images="${IMAGES:-1000}"
workloads="${WORKLOADS:-1200}"
repos="${REPOS:-20}"
parallel="${PARALLEL:-16}"
source bench/lib.sh
need /usr/bin/docker-registry:docker-registry curl:curl jq:jq python3:python3
bench_work
start_registry
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# Push: refs.txt gets `repo tag digest` per image.
t0="$(now)"
push_images "$reg" "$images" "$repos" bench/app >"$work/refs.txt"
t_push="$(secs "$t0" "$(now)")"
pushed="$(wc -l <"$work/refs.txt")"

# Sign every image by digest, 250 per invocation.
export IMPRINT_PASSWORD=bench
(cd "$work" && "$imprint" generate-key-pair >/dev/null 2>&1)
t0="$(now)"
awk -v reg="$reg" '{print reg "/" $1 "@" $3}' "$work/refs.txt" >"$work/by-digest.txt"
xargs -n 250 "$imprint" sign --key "$work/cosign.key" --new-bundle-format=false --tlog-upload=false \
  <"$work/by-digest.txt" >/dev/null 2>"$work/sign.log" || { tail -5 "$work/sign.log" >&2; exit 1; }
t_sign="$(secs "$t0" "$(now)")"

# Manifests: WORKLOADS Deployments in 10 namespaces, 100 per file; workload i names image
# i mod IMAGES by tag.
mkdir -p "$work/deploy"
python3 - "$reg" "$workloads" "$work/refs.txt" "$work/deploy" <<'PY'
import sys
reg, n, refs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
imgs = [l.split() for l in open(refs)]
docs = {}
for i in range(n):
    repo, tag, _ = imgs[i % len(imgs)]
    docs.setdefault(i // 100, []).append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: w{i}, namespace: ns-{i % 10}}}
spec:
  template:
    spec:
      containers:
        - name: app
          image: {reg}/{repo}:{tag}
""")
for f, d in docs.items():
    open(f"{out}/set-{f:03d}.yaml", "w").write("---\n".join(d))
PY
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

# The audit.
t0="$(now)"
set +e
"$imprint" audit -o json --policy "$work/policy.yaml" "$work/deploy" >"$work/audit.json" 2>"$work/audit.log"
audit_rc=$?
set -e
t_audit="$(secs "$t0" "$(now)")"

# The registry's bound: the same number of manifest GETs by tag (one per unique image), one
# curl process, PARALLEL at once over keep-alive.
awk -v reg="$reg" '{print "url = \"http://" reg "/v2/" $1 "/manifests/" $2 "\"\noutput = \"/dev/null\""}' \
  "$work/refs.txt" >"$work/curl.cfg"
t0="$(now)"
curl -fsS --no-progress-meter --parallel --parallel-max "$parallel" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' -K "$work/curl.cfg"  2>"$work/curl.log"
t_curl="$(secs "$t0" "$(now)")"
ab_line=""
if command -v ab >/dev/null; then
  read -r repo tag _ <"$work/refs.txt"
  ab_line="$(ab -q -k -n "$pushed" -c "$parallel" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$reg/v2/$repo/manifests/$tag" 2>/dev/null | sed -n 's/^Time taken for tests: *//p')"
fi

jq -r --arg push "$t_push" --arg sign "$t_sign" --arg audit "$t_audit" --arg rc "$audit_rc" \
  --arg curl "$t_curl" --arg ab "$ab_line" --arg pushed "$pushed" --arg par "$parallel" '
  .summary as $s |
  "images pushed and signed: \($pushed) (push \($push) s, sign \($sign) s)",
  "workloads (rows): \($s.rows)  allowed \($s.allowed)  warned \($s.warned)  denied \($s.denied)  error \($s.error)",
  "imprint audit: \($audit) s wall, exit \($rc)",
  "unique images: \($s.uniqueImages)  unique digests: \($s.uniqueDigests)",
  "registry requests: \($s.registryRequests)  per unique image: \(($s.registryRequests / $s.uniqueImages * 100 | round) / 100)",
  "baseline, curl --parallel-max \($par): \($pushed) manifest GETs in \($curl) s",
  (if $ab != "" then "baseline, ab -k -c \($par): \($pushed) GETs of one manifest in \($ab)" else empty end)
' "$work/audit.json"
