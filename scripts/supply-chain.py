#!/usr/bin/env python3
"""Supply-chain checks over the locked dependency graph, run by .ci/run.

What `cargo deny check licenses bans sources` would check with deny.toml, without installing
cargo-deny: building it from crates.io took 20+ minutes on a CI machine's 2 cores, more than
half of the 30-minute CI budget, and its advisories check needs the RustSec database from
GitHub, which CI cannot reach. deny.toml holds the same policy for developers who have
cargo-deny (`cargo deny check`); keep the two in step.

- licenses: every crate in the normal/build graph (what users build) has an SPDX expression
  satisfiable with ALLOWED; dev-dependencies are checked too (they run in CI).
- sources: every crate comes from crates.io (no git or other registries).
- bans: BANNED crates are not in the normal/build graph (one crypto provider, aws-lc-rs;
  serde_yaml is deprecated).

Exit 1 naming each violation; 0 with a one-line summary.
"""

import re
import subprocess
import sys

ALLOWED = {
    "MIT", "MIT-0", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-1-Clause",
    "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib", "Unicode-3.0", "Unlicense", "CC0-1.0",
    "BSL-1.0", "OpenSSL", "CDLA-Permissive-2.0",
}
BANNED = {
    "ring": "a second crypto provider (aws-lc-rs is the one)",
    "openssl": "a second crypto provider (aws-lc-rs is the one)",
    "openssl-sys": "a second crypto provider (aws-lc-rs is the one)",
    "native-tls": "TLS is rustls over aws-lc-rs",
    "serde_yaml": "deprecated; YAML is serde-saphyr",
}
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
# Crates that declare `license-file` instead of an SPDX expression, with what the file is
# (read from the crate source) and the version it was read for.
LICENSE_FILES = {
    ("sigstore-protobuf-specs-derive", "v0.0.1"): "Apache-2.0",
}


def tree(edges):
    """(name, version, license, source) of every crate `cargo tree` lists for `edges`."""
    out = subprocess.run(
        ["cargo", "tree", "--locked", "-e", edges, "--prefix", "none", "--format", "{p}|{l}"],
        check=True, capture_output=True, text=True,
    ).stdout
    crates = set()
    for line in out.splitlines():
        line = line.replace(" (*)", "").strip()
        if not line or "|" not in line:
            continue
        package, lic = line.split("|", 1)
        parts = package.split()
        name, version = parts[0], parts[1]
        source = " ".join(parts[2:])  # "(/path)" for the root, "(proc-macro)" for proc macros
        crates.add((name, version, lic.strip(), source))
    return crates


def satisfiable(expr):
    """Does some choice in the SPDX expression `expr` use only ALLOWED licenses?"""
    expr = expr.replace("/", " OR ")
    tokens = re.findall(r"\(|\)|[A-Za-z0-9.+-]+(?: WITH [A-Za-z0-9.+-]+)?", expr)
    pos = 0

    def term():
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("unexpected end")
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            v = disjunction()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise ValueError("missing )")
            pos += 1
            return v
        return tok in ALLOWED

    def conjunction():
        nonlocal pos
        v = term()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            v = term() and v
        return v

    def disjunction():
        nonlocal pos
        v = conjunction()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            v = conjunction() or v
        return v

    result = disjunction()
    if pos != len(tokens):
        raise ValueError(f"unexpected `{tokens[pos]}`")
    return result


def self_test():
    """The expression reader itself, on cases that must go each way."""
    cases = {
        "MIT": True, "MIT OR GPL-3.0-only": True, "MIT/Apache-2.0": True,
        "(MIT OR Apache-2.0) AND Unicode-3.0": True, "GPL-3.0-only": False,
        "MIT AND GPL-2.0-only": False, "LGPL-2.1-or-later OR (MIT AND AGPL-3.0-only)": False,
        "Apache-2.0 WITH LLVM-exception": True,
    }
    for expr, want in cases.items():
        if satisfiable(expr) != want:
            raise SystemExit(f"supply-chain self-test: `{expr}` should be {want}")


def main():
    self_test()
    problems = []
    shipped = tree("normal,build")
    everything = shipped | tree("normal,build,dev")
    for name, version, lic, source in sorted(everything):
        if source.startswith("(/"):
            continue  # imprint itself
        lic = lic or LICENSE_FILES.get((name, version), "")
        if not lic:
            problems.append(f"license: {name} {version} declares no SPDX license expression")
            continue
        try:
            ok = satisfiable(lic)
        except ValueError as e:
            problems.append(f"license: {name} {version}: cannot read `{lic}` ({e})")
            continue
        if not ok:
            problems.append(f"license: {name} {version} is `{lic}`, not satisfiable with the allowed licenses")
    for name, version, _, _ in sorted(shipped):
        if name in BANNED:
            problems.append(f"ban: {name} {version} is in the build graph: {BANNED[name]}")
    lock = open("Cargo.lock", encoding="utf-8").read()
    for m in re.finditer(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"\nsource = "([^"]+)"', lock):
        if m.group(3) != CRATES_IO:
            problems.append(f"source: {m.group(1)} {m.group(2)} comes from {m.group(3)}, not crates.io")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"supply-chain: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"supply-chain: {len(shipped)} shipped and {len(everything)} total crates: "
          "licenses allowed, all from crates.io, no banned crate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
