#!/usr/bin/env bash
# Time and peak memory of `imprint attest` and `imprint verify-attestation` on a ~50 MiB
# CycloneDX SBOM, against `sha256sum` of the same file as the baseline, on a loopback
# docker-registry. See bench/README-sbom.md for the results and how to read them.
#
# Usage: bench/sbom-50mib.sh            (SBOM_MIB=50 RUNS=3 by default)
#        IMPRINT_BIN=/path/imprint bench/sbom-50mib.sh   measures that binary (no build)
#        PROFILE_DIR=/tmp/prof bench/sbom-50mib.sh   also records one attest and one verify
#        under `perf record` and `heaptrack` into that directory (not part of the timings).
# Needs: cargo, python3, curl, /usr/bin/time (apt: time), /usr/bin/docker-registry (apt: docker-registry).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SBOM_MIB=${SBOM_MIB:-50}
RUNS=${RUNS:-3}
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}

for tool in python3 curl /usr/bin/time "$REGISTRY_BIN"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

if [ -n "${IMPRINT_BIN:-}" ]; then
    IMPRINT=$IMPRINT_BIN
else
    echo "== building target/release/imprint" >&2
    cargo build --release --locked --bin imprint --manifest-path "$ROOT/Cargo.toml" >&2
    IMPRINT=$TARGET/release/imprint
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/imprint-bench-XXXXXX")
# Commands' stdout (verify-attestation prints the ~195 MB envelope) goes to tmpfs when there is
# one: writing it to disk made the same command take 1.0 s or 2.8 s, by the disk's writeback.
OUT=$(mktemp -d /dev/shm/imprint-bench-out-XXXXXX 2>/dev/null || echo "$WORK")
REGISTRY_PID=
cleanup() {
    if [ -n "$REGISTRY_PID" ]; then
        kill "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK" "$OUT"
}
trap cleanup EXIT INT TERM

# ---- registry: filesystem storage in $WORK, random free loopback port ----
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat >"$WORK/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/storage
  delete:
    enabled: true
http:
  addr: $REG
  secret: imprint-bench
YAML
"$REGISTRY_BIN" serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 200); do
    curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fsS "http://$REG/v2/" >/dev/null || { echo "registry did not start:" >&2; cat "$WORK/registry.log" >&2; exit 2; }

# ---- a tiny image per run (config + one layer), pushed with the distribution API ----
push_image() { # $1 = repository, $2 = tag
    python3 - "$REG" "$1" "$2" <<'PY'
import hashlib, json, os, sys, urllib.request
reg, repo, tag = sys.argv[1:4]
base = f"http://{reg}/v2/{repo}"
def put_blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r = urllib.request.urlopen(urllib.request.Request(f"{base}/blobs/uploads/", method="POST", data=b""))
    loc = r.headers["Location"]
    if loc.startswith("/"):
        loc = f"http://{reg}{loc}"
    sep = "&" if "?" in loc else "?"
    urllib.request.urlopen(urllib.request.Request(f"{loc}{sep}digest={d}", method="PUT", data=data,
        headers={"Content-Type": "application/octet-stream"}))
    return d
layer = os.urandom(512)
ld = put_blob(layer)
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
cd = put_blob(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
urllib.request.urlopen(urllib.request.Request(f"{base}/manifests/{tag}", method="PUT", data=manifest,
    headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}))
print("sha256:" + hashlib.sha256(manifest).hexdigest())
PY
}

# ---- a valid CycloneDX 1.5 JSON document of about $SBOM_MIB MiB (pretty-printed, like generators write) ----
SBOM=$WORK/big.cdx.json
python3 - "$SBOM" "$SBOM_MIB" <<'PY'
import hashlib, json, sys, uuid
path, mib = sys.argv[1], int(sys.argv[2])
target = mib * 1024 * 1024
licenses = ["MIT", "Apache-2.0", "MIT OR Apache-2.0", "BSD-3-Clause", "ISC", "Unicode-3.0"]
with open(path, "w") as f:
    head = {"bomFormat": "CycloneDX", "specVersion": "1.5",
            "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
            "metadata": {"timestamp": "2026-11-23T00:00:00Z",
                         "tools": [{"vendor": "imprint", "name": "bench", "version": "1"}],
                         "component": {"type": "application", "bom-ref": "bench-root", "name": "bench-root", "version": "1.0.0"}}}
    text = json.dumps(head, indent=2)
    f.write(text[:-2] + ',\n  "components": [\n')
    written, i = len(text), 0
    while written < target:
        name, version = f"crate-{i:07d}", f"{i % 7}.{i % 13}.{i % 101}"
        c = {"type": "library", "bom-ref": f"pkg:cargo/{name}@{version}", "name": name, "version": version,
             "description": f"Synthetic component number {i} of the imprint SBOM benchmark, with a sentence of text \u00e9\u00e8 \"quoted\".",
             "scope": "required",
             "hashes": [{"alg": "SHA-256", "content": hashlib.sha256(name.encode()).hexdigest()}],
             "licenses": [{"expression": licenses[i % len(licenses)]}],
             "purl": f"pkg:cargo/{name}@{version}",
             "externalReferences": [{"type": "vcs", "url": f"https://github.com/example/{name}"}]}
        s = ("" if i == 0 else ",\n") + "    " + json.dumps(c, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        f.write(s)
        written += len(s.encode())
        i += 1
    # A CycloneDX 1.5 `vulnerabilities` section (a scan result in the SBOM), so that the
    # policy's vulnerability check reads the same document as its licence/package checks.
    f.write('\n  ],\n  "vulnerabilities": [\n')
    for j in range(200):
        v = {"id": f"CVE-2026-{10000 + j}", "source": {"name": "NVD"},
             "ratings": [{"severity": ["low", "medium", "high"][j % 3]}],
             "affects": [{"ref": f"pkg:cargo/crate-{j:07d}@{j % 7}.{j % 13}.{j % 101}"}]}
        f.write(("" if j == 0 else ",\n") + "    " + json.dumps(v))
    f.write("\n  ]\n}\n")
print(f"{i} components", file=sys.stderr)
PY
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["bomFormat"]=="CycloneDX" and d["specVersion"]=="1.5"' "$SBOM"
SBOM_BYTES=$(stat -c %s "$SBOM")

export IMPRINT_PASSWORD=bench-password
unset COSIGN_PASSWORD CI
export DOCKER_CONFIG=$WORK/no-docker-config
"$IMPRINT" generate-key-pair --output-key-prefix "$WORK/cosign" >/dev/null 2>&1
# A 200 MiB SBOM is over the default limits (128 MiB predicate file, 128 MiB attachment, as
# cosign): raise both to twice the file for this bench.
MAX_BYTES=$((SBOM_BYTES * 2))
export COSIGN_MAX_ATTACHMENT_SIZE=$MAX_BYTES
# The policy a deploy gate runs on the SBOM attestation: licences, packages, vulnerabilities.
cat >"$WORK/policy.yaml" <<YAML
apiVersion: imprint.dev/v1
kind: TrustPolicy
metadata: {name: sbom-bench}
spec:
  noMatch: deny
  authorities:
    bench-key: {key: {file: $WORK/cosign.pub}}
  rules:
    - name: bench
      images: ["$REG/bench/**"]
      attestations:
        - name: sbom
          predicateType: cyclonedx
          signedBy: {authority: bench-key}
          sbom:
            deniedLicenses: [AGPL-3.0-only, GPL-3.0-only, SSPL-1.0]
            deniedPackages: [{name: log4j-core, versions: '<2.17.1'}]
          vulnerabilities: {maxSeverity: high}
YAML

# measure NAME CMD...: one /usr/bin/time -v run; appends "NAME wall_seconds max_rss_kib" to $WORK/results
measure() {
    local name=$1; shift
    /usr/bin/time -v -o "$WORK/time.out" "$@" >"$OUT/stdout.$name" 2>"$WORK/stderr.$name" || {
        echo "$name failed:" >&2; head -c 2000 "$WORK/stderr.$name" >&2; echo "$name fail fail" >>"$WORK/results"; return 1; }
    python3 - "$name" "$WORK/time.out" >>"$WORK/results" <<'PY'
import sys
name, path = sys.argv[1], sys.argv[2]
wall = rss = None
for line in open(path):
    line = line.strip()
    if line.startswith("Elapsed (wall clock) time"):
        t = line.rsplit(": ", 1)[1].split(":")
        wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t)))
    elif line.startswith("Maximum resident set size"):
        rss = int(line.rsplit(": ", 1)[1])
print(name, wall, rss)
PY
}

: >"$WORK/results"
echo "== SBOM: $SBOM_BYTES bytes; registry $REG; $RUNS run(s) each" >&2
# Both storage formats: a Sigstore bundle referrer (the CLI default, cosign v3) and a legacy
# `.att` layer (--new-bundle-format=false, cosign v2). Each run attests a fresh image.
for run in $(seq 1 "$RUNS"); do
    measure sha256sum sha256sum "$SBOM"
    # The registry's own cost of taking in an attestation-sized blob (the SBOM's envelope is
    # ~0.93x the pretty file): one monolithic curl PUT of the SBOM file itself, as a second
    # baseline for attest, which must upload its envelope.
    loc=$(curl -fsSi -X POST "http://$REG/v2/bench/upload$run/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
    case $loc in /*) loc="http://$REG$loc";; esac
    case $loc in *\?*) sep='&';; *) sep='?';; esac
    measure registry-put curl -fsS -X PUT -H "Content-Type: application/octet-stream" --data-binary @"$SBOM" "$loc${sep}digest=sha256:$(sha256sum "$SBOM" | cut -d' ' -f1)"
    for format in bundle legacy; do
        if [ $format = bundle ]; then write=--new-bundle-format=true; else write=--new-bundle-format=false; fi
        repo=bench/$format$run
        digest=$(push_image "$repo" v1)
        image=$REG/$repo@$digest
        measure "attest-$format" "$IMPRINT" attest "$write" --max-predicate-bytes "$MAX_BYTES" --key "$WORK/cosign.key" --type cyclonedx --predicate "$SBOM" "$image" || continue
        if measure "verify-$format" "$IMPRINT" verify-attestation --signature-format "$format" --key "$WORK/cosign.pub" --type cyclonedx "$image"; then
            # The verified output is the envelope: one line, about 4/3 of the statement.
            lines=$(wc -l <"$OUT/stdout.verify-$format")
            [ "$lines" -eq 1 ] || { echo "verify ($format) printed $lines lines, expected 1" >&2; exit 1; }
        fi
        # The policy's SBOM and vulnerability checks on the same attestation (exit 0: allowed).
        measure "policy-$format" "$IMPRINT" verify --policy "$WORK/policy.yaml" "$image" || true
    done
done

if [ -n "${PROFILE_DIR:-}" ]; then
    mkdir -p "$PROFILE_DIR"
    digest=$(push_image bench/profiled v1)
    image=$REG/bench/profiled@$digest
    for tool in perf heaptrack; do command -v $tool >/dev/null || { echo "missing: $tool" >&2; exit 2; }; done
    perf record -F 999 -g -o "$PROFILE_DIR/attest.perf.data" -- "$IMPRINT" attest --new-bundle-format=false --max-predicate-bytes "$MAX_BYTES" --key "$WORK/cosign.key" --type cyclonedx --predicate "$SBOM" "$image" 2>/dev/null
    perf record -F 999 -g -o "$PROFILE_DIR/verify.perf.data" -- "$IMPRINT" verify-attestation --signature-format legacy --key "$WORK/cosign.pub" --type cyclonedx "$image" >/dev/null 2>&1
    heaptrack -o "$PROFILE_DIR/attest.heaptrack" "$IMPRINT" attest --new-bundle-format=false --replace --max-predicate-bytes "$MAX_BYTES" --key "$WORK/cosign.key" --type cyclonedx --predicate "$SBOM" "$image" >/dev/null 2>&1
    heaptrack -o "$PROFILE_DIR/verify.heaptrack" "$IMPRINT" verify-attestation --signature-format legacy --key "$WORK/cosign.pub" --type cyclonedx "$image" >/dev/null 2>&1
    perf record -F 999 -g -o "$PROFILE_DIR/policy.perf.data" -- "$IMPRINT" verify --policy "$WORK/policy.yaml" "$image" >/dev/null 2>&1
    heaptrack -o "$PROFILE_DIR/policy.heaptrack" "$IMPRINT" verify --policy "$WORK/policy.yaml" "$image" >/dev/null 2>&1
    echo "profiles in $PROFILE_DIR (perf report -i ...; heaptrack_print ...)" >&2
fi

python3 - "$WORK/results" "$SBOM_BYTES" "$(nproc)" "$("$IMPRINT" --version)" <<'PY'
import statistics, sys
path, size, cpus, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = {}
for line in open(path):
    name, wall, rss = line.split()
    if wall == "fail":
        rows.setdefault(name, [])
        continue
    rows.setdefault(name, []).append((float(wall), int(rss)))
base_wall = statistics.median(w for w, _ in rows["sha256sum"])
base_rss = statistics.median(r for _, r in rows["sha256sum"])
print(f"{version}; SBOM {size} bytes ({size / 2**20:.1f} MiB); {cpus} CPUs; median of {len(rows['sha256sum'])} run(s)")
print(f"{'command':<28}{'wall s':>9}{'peak RSS MiB':>14}{'wall / sha256sum':>18}{'RSS / sha256sum':>17}{'RSS / file':>12}")
for name in ["sha256sum", "registry-put", "attest-bundle", "verify-bundle", "policy-bundle", "attest-legacy", "verify-legacy", "policy-legacy"]:
    label = {"registry-put": "registry PUT (curl)", "attest-bundle": "attest (bundle)", "verify-bundle": "verify-attestation (bundle)",
             "policy-bundle": "verify --policy (bundle)", "attest-legacy": "attest (.att)",
             "verify-legacy": "verify-attestation (.att)", "policy-legacy": "verify --policy (.att)"}.get(name, name)
    if not rows.get(name):
        print(f"{label:<28}{'failed':>9}")
        continue
    wall = statistics.median(w for w, _ in rows[name])
    rss = statistics.median(r for _, r in rows[name])
    print(f"{label:<28}{wall:>9.2f}{rss / 1024:>14.1f}{wall / base_wall:>17.1f}x{rss / base_rss:>16.1f}x{rss * 1024 / size:>11.2f}x")
PY
