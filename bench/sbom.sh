#!/usr/bin/env bash
# Runs bench/sbom-50mib.sh at each size in SBOM_SIZES (MiB; default "50 200"), so one
# invocation reports the issue-14 SBOM figures (wall and peak RSS as ratios to `sha256sum`
# of the same file, measured in the same run) at both sizes. RUNS and REGISTRY_BIN pass through.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
for mib in ${SBOM_SIZES:-50 200}; do
    echo "== SBOM_MIB=$mib" >&2
    SBOM_MIB=$mib "$HERE/sbom-50mib.sh"
done
