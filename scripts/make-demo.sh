#!/usr/bin/env bash
# Regenerates the offline demo in testdata/demo-image (an OCI image layout) and keys/demo.pub:
# builds a tiny single-layer image, signs it (legacy .sig, identity registry.example/imprint/demo:demo)
# and attests an SBOM (legacy .att) with a fresh throwaway key.
# Only the public key is kept; the private key is deleted. Run from anywhere:
#   bash scripts/make-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=testdata/demo-image
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
python3 - "$out" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(f"{out}/blobs/sha256/{h}", "wb").write(b)
    return "sha256:" + h
# A deterministic layer: one file, fixed mtime, gzip without a timestamp.
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
    data = b"hello from the imprint demo image\n"
    ti = tarfile.TarInfo("hello.txt"); ti.size = len(data); ti.mtime = 0; ti.mode = 0o644
    t.addfile(ti, io.BytesIO(data))
tar = raw.getvalue()
gz = gzip.compress(tar, mtime=0)
layer = put(gz)
config = json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
    "config": {"Cmd": ["/hello.txt"]}}, separators=(",", ":")).encode()
cfg = put(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config), "digest": cfg},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(gz), "digest": layer}]},
    separators=(",", ":")).encode()
m = put(manifest)
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": len(manifest), "digest": m,
                   "annotations": {"org.opencontainers.image.ref.name": "demo"}}]},
    open(f"{out}/index.json", "w"), separators=(",", ":"))
PY
cargo build --quiet --bin imprint
bin="${CARGO_TARGET_DIR:-target}/debug/imprint"
export IMPRINT_PASSWORD=demo-password-not-secret
"$bin" generate-key-pair --output-key-prefix "$tmp/demo"
# Legacy `.sig`/`.att` (what containers/image reads too), with the identity the image would
# have in a registry: a signature never names a file path.
"$bin" sign --key "$tmp/demo.key" -a env=demo --new-bundle-format=false \
  --sign-container-identity registry.example/imprint/demo:demo "oci:$out:demo"
"$bin" attest --key "$tmp/demo.key" --type cyclonedx --new-bundle-format=false \
  --predicate testdata/sbom/imprint.cdx-1.5.json "oci:$out:demo"
cp "$tmp/demo.pub" keys/demo.pub
"$bin" verify --key keys/demo.pub "oci:$out:demo" >/dev/null
echo "demo regenerated: $out, keys/demo.pub"
