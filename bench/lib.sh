# Shared by the bench scripts (sourced, not run): programs checked with their Debian package,
# a work directory cleaned up on exit with every background process started through it, a
# loopback docker-registry, and small images pushed with the distribution API (python3, no
# imprint involved).
#
#   source bench/lib.sh
#   need docker-registry:docker-registry curl:curl     # program:package ...
#   bench_work                                         # sets $work, installs the EXIT trap
#   start_registry                                     # sets $reg (127.0.0.1:PORT)
#   push_images "$reg" N REPOS PREFIX >refs.txt        # lines `repo tag digest`

# Every program given as `program:package` must be on PATH (or an absolute path).
need() {
  local missing=() spec
  for spec in "$@"; do
    command -v "${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec##*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "error: missing programs; apt-get install ${missing[*]}" >&2
    exit 2
  fi
}

# A temp directory in $work; it and every pid in $pids go when the script exits.
bench_work() {
  work="$(mktemp -d)"
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Debian's docker-registry on a free loopback port, filesystem storage under $work; waits
# until it answers and sets $reg.
start_registry() {
  local port; port="$(free_port)"
  cat >"$work/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
  /usr/bin/docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
  pids+=($!)
  local _
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  reg="127.0.0.1:$port"
}

# N distinct small images over REPOS repositories `PREFIX-<r>` (one shared config and layer
# per repository; each manifest differs by an annotation, so each has its own digest), tags
# `v<i>`, over one keep-alive connection. Prints `repo tag digest` per image.
push_images() { # REG N REPOS PREFIX
  python3 - "$@" <<'PY'
import hashlib, http.client, json, sys
reg, n, repos, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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
width = len(str(repos - 1))
for r in range(repos):
    repo = f"{prefix}-{r:0{width}d}"
    cd, ld = blob(repo, config), blob(repo, layer)
    for i in range(r, n, repos):
        m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}],
            "annotations": {"bench.imprint.dev/n": str(i)}}).encode()
        req("PUT", f"/v2/{repo}/manifests/v{i}", m,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        print(repo, f"v{i}", "sha256:" + hashlib.sha256(m).hexdigest())
PY
}
