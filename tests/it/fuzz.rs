//! Stable-Rust replay of the fuzz targets (`fuzz/`, issue 10): every `imprint::fuzzing` target
//! gets its seeds from the shared vectors (and the crate's own policies), a bounded number of
//! deterministic mutations of them (bit flips, truncations, insertions, deletions, splices) and
//! every crash input kept in `fuzz/regressions/<target>/`. No input may panic. Runs in a few
//! seconds in a debug build; `cargo test --test it fuzz -- --nocapture` prints the executions
//! per target.
//!
//! `IMPRINT_FUZZ_CORPUS=<dir> cargo test --test it fuzz::write_seed_corpus -- --ignored` writes
//! the seeds to `<dir>/<target>/` for libFuzzer (`fuzz/run-all.sh` does this).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::support::{crate_path, vectors};

/// A target: its name (as in `fuzz/fuzz_targets/`), the function, which files seed it and how
/// many mutations to run.
struct Target {
    name: &'static str,
    run: fn(&[u8]),
    seeds: fn(&str) -> bool,
    extra: &'static [&'static str],
    mutations: usize,
}

/// Seeds larger than this are replayed as they are but not mutated (mutating a 1 MiB SBOM a
/// hundred times would cost seconds in a debug build).
const MAX_MUTATED_SEED: usize = 64 * 1024;

const TARGETS: &[Target] = &[
    Target {
        name: "cosign_key",
        run: imprint::fuzzing::cosign_key,
        seeds: |p| p.starts_with("keys/") && p.ends_with(".key"),
        extra: &[],
        // Inputs that keep the envelope intact run scrypt (N >= 32768): keep this small.
        mutations: 300,
    },
    Target {
        name: "public_key",
        run: imprint::fuzzing::public_key,
        seeds: |p| p.ends_with(".pub") || p.ends_with(".crt.pem"),
        extra: &[],
        mutations: 3000,
    },
    Target {
        name: "certificate",
        run: imprint::fuzzing::certificate,
        seeds: |p| {
            !p.starts_with("notation/notation/")
                && (p.ends_with(".pem") || p.ends_with(".crt") || p.ends_with(".cer"))
        },
        extra: &[],
        mutations: 3000,
    },
    Target {
        name: "image_reference",
        run: imprint::fuzzing::image_reference,
        seeds: |_| false,
        extra: &[
            "busybox",
            "library/busybox:1.36",
            "docker.io/library/busybox:latest",
            "index.docker.io/library/busybox",
            "ghcr.io/sigstore/cosign/cosign:v2.4.1",
            "localhost:5000/a/b/c:tag",
            "127.0.0.1:5000/repo@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "[::1]:5000/repo:tag",
            "registry.example.com:443/team/app:1.0@sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
            "oci:./layout",
            "oci:/tmp/layout:tag",
            "oci:relative/dir@sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
            "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
            "UPPER/case",
            "a_b.c-d/e__f:ta.g-_",
        ],
        mutations: 20000,
    },
    Target {
        name: "oci_manifest",
        run: imprint::fuzzing::oci_manifest,
        seeds: |p| {
            p.ends_with("manifest.json")
                || p.ends_with("/index.json")
                || p.ends_with(".sig.json")
                || (p.contains("/blobs/sha256/") && !p.starts_with("notation/notation/"))
        },
        extra: &[],
        mutations: 6000,
    },
    Target {
        name: "simple_signing",
        run: imprint::fuzzing::simple_signing,
        seeds: |p| {
            p.ends_with("legacy-sig-keyless-containers-image/payload.json")
                || p.starts_with("legacy-signatures/connaisseur/blobs/")
        },
        extra: &[],
        mutations: 6000,
    },
    Target {
        name: "dsse_envelope",
        run: imprint::fuzzing::dsse_envelope,
        seeds: |p| p.ends_with(".dsse.json") || p.ends_with("layer-envelope.json"),
        extra: &[],
        mutations: 3000,
    },
    Target {
        name: "intoto_statement",
        run: imprint::fuzzing::intoto_statement,
        seeds: |p| p.ends_with(".statement.json") || p.ends_with(".payload.json"),
        extra: &[],
        mutations: 3000,
    },
    Target {
        name: "sigstore_bundle",
        run: imprint::fuzzing::sigstore_bundle,
        seeds: |p| p.ends_with(".sigstore.json") || p.ends_with(".bundle.json"),
        extra: &[],
        mutations: 2000,
    },
    Target {
        name: "trust_root",
        run: imprint::fuzzing::trust_root,
        seeds: |p| p.starts_with("trust-roots/"),
        extra: &[],
        mutations: 1000,
    },
    Target {
        name: "trust_policy",
        run: imprint::fuzzing::trust_policy,
        // The crate's own policies are added in `seeds_of`.
        seeds: |_| false,
        extra: &[],
        mutations: 3000,
    },
    Target {
        name: "sbom",
        run: imprint::fuzzing::sbom,
        seeds: |p| p.starts_with("predicates/sbom/"),
        extra: &[
            "MIT OR Apache-2.0",
            "GPL-2.0+ WITH Classpath-exception-2.0 AND (BSD-3-Clause OR LicenseRef-x)",
            ">=2.0, <2.17.1 || =1.2.3",
            r#"{"spdxVersion":"SPDX-2.3","packages":[{"name":"log4j-core","versionInfo":"2.14.0","licenseConcluded":"GPL-3.0+ OR MIT","licenseDeclared":"NOASSERTION"}]}"#,
            r#"{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"name":"app","licenses":[{"expression":"AGPL-3.0"}]}},"components":[{"name":"openssl","version":"1:3.0.8-r3","licenses":[{"license":{"id":"Apache-2.0"}},{"license":{"name":"custom"}}],"components":[{"name":"x"}]}]}"#,
        ],
        mutations: 800,
    },
    Target {
        name: "vuln_report",
        run: imprint::fuzzing::vuln_report,
        seeds: |p| p.starts_with("predicates/vuln/") || p.starts_with("predicates/vex/"),
        extra: &[],
        mutations: 2000,
    },
    Target {
        name: "token_response",
        run: imprint::fuzzing::token_response,
        seeds: |_| false,
        extra: &[
            r#"{"token":"abc","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#,
            r#"{"access_token":"abc","token":""}"#,
            r#"{"token":"t","expires_in":18446744073709551615}"#,
            r#"{"expires_in":0}"#,
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
            r#"bearer realm="http://127.0.0.1:1/t?a=1,b=2""#,
            r#"Basic realm="registry""#,
        ],
        mutations: 10000,
    },
];

#[test]
fn replay_seeds_mutations_and_regressions_without_panics() {
    let regressions = regression_inputs();
    let unknown: Vec<&String> = regressions
        .iter()
        .map(|(t, _, _)| t)
        .filter(|t| !TARGETS.iter().any(|k| k.name == t.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "fuzz/regressions has directories for unknown targets: {unknown:?}"
    );
    let files = vector_files();
    let mut failures = Vec::new();
    let total = Instant::now();
    for target in TARGETS {
        let started = Instant::now();
        let seeds = seeds_of(target, &files);
        assert!(!seeds.is_empty(), "{}: no seeds", target.name);
        let mut inputs: Vec<(String, Vec<u8>)> = seeds.clone();
        inputs.extend(
            regressions
                .iter()
                .filter(|(t, _, _)| t == target.name)
                .map(|(_, name, bytes)| (format!("regression {name}"), bytes.clone())),
        );
        let n_regressions = inputs.len() - seeds.len();
        let mut rng = Rng::new(fnv1a(target.name.as_bytes()));
        let mutable: Vec<&(String, Vec<u8>)> = seeds
            .iter()
            .filter(|(_, b)| b.len() <= MAX_MUTATED_SEED)
            .collect();
        if !mutable.is_empty() {
            for i in 0..target.mutations {
                let (name, base) = mutable[i % mutable.len()];
                let other = &mutable[rng.below(mutable.len())].1;
                let (how, bytes) = mutate(&mut rng, base, other);
                inputs.push((format!("mutation {i} of {name} ({how})"), bytes));
            }
        }
        for (index, (what, bytes)) in inputs.iter().enumerate() {
            let run = target.run;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| run(bytes))) {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                let saved =
                    std::env::temp_dir().join(format!("imprint-fuzz-{}-{index}.bin", target.name));
                let _ = std::fs::write(&saved, bytes);
                failures.push(format!(
                    "{} input #{index} ({what}, {} bytes, saved to {}): {message}",
                    target.name,
                    bytes.len(),
                    saved.display()
                ));
            }
        }
        println!(
            "fuzz replay {:<17} {:>5} executions ({} seeds, {} regressions, {} mutations) in {} ms",
            target.name,
            inputs.len(),
            seeds.len(),
            n_regressions,
            inputs.len() - seeds.len() - n_regressions,
            started.elapsed().as_millis()
        );
    }
    println!("fuzz replay total {} ms", total.elapsed().as_millis());
    assert!(
        failures.is_empty(),
        "{} inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let dir = crate_path("fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    on_disk.sort();
    let mut here: Vec<String> = TARGETS.iter().map(|t| t.name.to_owned()).collect();
    here.sort();
    assert_eq!(on_disk, here, "fuzz/fuzz_targets and TARGETS disagree");
}

/// Every target has seeds from the vectors, written to `<dir>/<target>/`: to
/// `$IMPRINT_FUZZ_CORPUS` when set (fuzz/run-all.sh's libFuzzer seed corpus), else to a
/// temporary directory that is checked and dropped.
#[test]
fn write_seed_corpus() {
    let temp = tempfile::tempdir().unwrap();
    let out = std::env::var_os("IMPRINT_FUZZ_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_owned());
    let files = vector_files();
    for target in TARGETS {
        let dir = out.join(target.name);
        std::fs::create_dir_all(&dir).unwrap();
        let seeds = seeds_of(target, &files);
        assert!(!seeds.is_empty(), "no seeds for {}", target.name);
        for (i, (_, bytes)) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), bytes).unwrap();
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), seeds.len());
    }
}

/// Every file under the vectors directory, as (path relative to it, absolute path).
fn vector_files() -> Vec<(String, PathBuf)> {
    let root = vectors();
    let mut out = Vec::new();
    walk(&root, &mut |p| {
        let rel = p
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.push((rel, p.to_owned()));
    });
    out.sort();
    out
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

fn seeds_of(target: &Target, files: &[(String, PathBuf)]) -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(rel, _)| (target.seeds)(rel))
        .map(|(rel, path)| (rel.clone(), std::fs::read(path).unwrap()))
        .collect();
    if target.name == "trust_policy" {
        for dir in ["policies", "testdata/policy", "testdata/policy/invalid"] {
            walk_yaml(&crate_path(dir), &mut seeds);
        }
    }
    if matches!(target.name, "public_key" | "certificate") {
        // The DER inside each PEM seed, so the DER parsers start from valid input too.
        let ders: Vec<(String, Vec<u8>)> = seeds
            .iter()
            .filter_map(|(name, bytes)| {
                let block = pem::parse(bytes).ok()?;
                Some((format!("{name} (DER)"), block.into_contents()))
            })
            .collect();
        seeds.extend(ders);
    }
    seeds.extend(
        target
            .extra
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("built-in seed {i}"), s.as_bytes().to_vec())),
    );
    seeds
}

fn walk_yaml(dir: &Path, seeds: &mut Vec<(String, Vec<u8>)>) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    for p in paths {
        seeds.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
}

/// `fuzz/regressions/<target>/<file>`: (target, file name, bytes).
fn regression_inputs() -> Vec<(String, String, Vec<u8>)> {
    let root = crate_path("fuzz/regressions");
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return out;
    };
    for dir in dirs {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        walk(&dir, &mut |p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((target.clone(), name, std::fs::read(p).unwrap()));
        });
    }
    out.sort();
    out
}

/// Bytes that tend to matter to the parsers: JSON and YAML punctuation, PEM dashes, base64
/// padding, NUL, high bytes, digits.
const INTERESTING: &[u8] = b"{}[]\",:\\-=+/0129aAzZ \n\t\x00\xff\x80'#&*!|>%@.";

/// One to three mutations of `base` (with `other` for splices); returns a label and the bytes.
fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> (String, Vec<u8>) {
    let mut bytes = base.to_vec();
    let mut ops = Vec::new();
    for _ in 0..=rng.below(3) {
        let len = bytes.len();
        let op = rng.below(7);
        match op {
            0 if len > 0 => {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
                ops.push("bit flip");
            }
            1 if len > 0 => {
                bytes.truncate(rng.below(len));
                ops.push("truncate");
            }
            2 => {
                let i = rng.below(len + 1);
                let b = INTERESTING[rng.below(INTERESTING.len())];
                bytes.insert(i, b);
                ops.push("insert");
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                bytes.drain(i..i + n);
                ops.push("delete");
            }
            4 if len > 0 => {
                let i = rng.below(len);
                bytes[i] = INTERESTING[rng.below(INTERESTING.len())];
                ops.push("replace");
            }
            5 if len > 0 => {
                // Repeat a chunk (deepens nesting, duplicates keys).
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = bytes[i..i + n].to_vec();
                let at = rng.below(len + 1);
                bytes.splice(at..at, chunk);
                ops.push("duplicate");
            }
            _ => {
                let cut = rng.below(bytes.len() + 1);
                let from = rng.below(other.len() + 1);
                bytes.truncate(cut);
                bytes.extend_from_slice(&other[from..]);
                ops.push("splice");
            }
        }
    }
    (ops.join("+"), bytes)
}

/// splitmix64: small, seeded, good enough to pick positions.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
