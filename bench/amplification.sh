#!/usr/bin/env bash
# Issue 10, "a total byte budget per image": peak RSS of `imprint verify` on an image whose
# attacker-pushed `.sig` (and `.att`) manifest has LAYERS layers that all point at one
# BLOB_MIB MiB blob. Before the budget, the verifier held one copy of the blob per layer.
#
# Starts Debian's docker-registry on a free loopback port, pushes the image and the junk with
# curl (the registry API, no imprint involved), then runs each given imprint binary under
# /usr/bin/time and prints its peak RSS, its exit code, and RSS as a ratio of the blob size.
# The baseline in the same run is `sha256sum` of the blob (one streaming read).
#
# Usage: bench/amplification.sh IMPRINT [IMPRINT_BEFORE]   (env: LAYERS=24 BLOB_MIB=128)
set -euo pipefail
cd "$(dirname "$0")/.."
layers="${LAYERS:-24}"
blob_mib="${BLOB_MIB:-128}"
bins=("$@")
[ "${#bins[@]}" -ge 1 ] || { echo "usage: $0 IMPRINT [IMPRINT_BEFORE]" >&2; exit 2; }
source bench/lib.sh
need /usr/bin/docker-registry:docker-registry curl:curl /usr/bin/time:time sha256sum:coreutils python3:python3
bench_work
start_registry
repo=bench/amplification

push_blob() { # FILE -> prints sha256:<hex>
  local d; d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  local loc; loc="$(curl -fsS -D - -o /dev/null -X POST "http://$reg/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')"
  case "$loc" in http*) ;; *) loc="http://$reg$loc" ;; esac
  case "$loc" in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$1" "$loc" >/dev/null
  echo "$d"
}
put_manifest() { # TAG FILE
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$2" "http://$reg/v2/$repo/manifests/$1" >/dev/null
}
size_of() { stat -c %s "$1"; }

printf '{}' >"$work/config.json"
config="$(push_blob "$work/config.json")"
head -c 1024 /dev/urandom >"$work/layer"
layer="$(push_blob "$work/layer")"
cat >"$work/image.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config","size":2},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$layer","size":1024}]}
EOF
put_manifest v1 "$work/image.json"
image_digest="sha256:$(sha256sum "$work/image.json" | cut -d' ' -f1)"
tag_base="sha256-${image_digest#sha256:}"

head -c "$((blob_mib * 1024 * 1024))" /dev/urandom >"$work/big"
big="$(push_blob "$work/big")"
big_size="$(size_of "$work/big")"
junk_manifest() { # MEDIA_TYPE -> manifest with $layers layers all naming the big blob
  python3 - "$1" "$config" "$big" "$big_size" "$layers" <<'PY'
import json, sys
mt, config, big, size, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
layer = {"mediaType": mt, "digest": big, "size": size,
         "annotations": {"dev.cosignproject.cosign/signature": "AAAA"}}
print(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
    "layers": [layer] * n}))
PY
}
junk_manifest application/vnd.dev.cosign.simplesigning.v1+json >"$work/sig.json"
put_manifest "$tag_base.sig" "$work/sig.json"
junk_manifest application/vnd.dsse.envelope.v1+json >"$work/att.json"
put_manifest "$tag_base.att" "$work/att.json"

echo "image $reg/$repo:v1 ($image_digest); .sig and .att: $layers layers -> one ${blob_mib} MiB blob"
/usr/bin/time -f '%M' -o "$work/rss" sha256sum "$work/big" >/dev/null
base_kib="$(cat "$work/rss")"
echo "baseline  sha256sum of the blob: peak RSS $((base_kib / 1024)) MiB"
run() { # LABEL BIN ARGS...
  local label="$1" bin="$2"; shift 2
  local rc=0
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" "$@" >"$work/out" 2>"$work/err" || rc=$?
  local kib; kib="$(tail -1 "$work/rss")"
  printf '%-44s peak RSS %6d MiB  (%5.2fx the blob, %6.1fx sha256sum)  exit %d\n' \
    "$label" "$((kib / 1024))" "$(echo "$kib / ($big_size / 1024)" | bc -l)" \
    "$(echo "$kib / $base_kib" | bc -l)" "$rc"
  grep -m1 -E 'max_|error|no signatures' "$work/err" | cut -c1-160 | sed 's/^/    /' || true
}
for bin in "${bins[@]}"; do
  name="$(basename "$bin")"
  run "$name verify --key (legacy .sig)" "$bin" verify --key keys/demo.pub \
    --signature-format legacy "$reg/$repo:v1"
  run "$name verify-attestation --key (legacy .att)" "$bin" verify-attestation --key keys/demo.pub \
    --signature-format legacy "$reg/$repo:v1"
done
