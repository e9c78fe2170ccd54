//! The decision log (issue 13) through the CLI: `imprint audit --audit-log` writes one record
//! per distinct image and a checkpoint; `imprint audit-log verify` passes on it and names the
//! first broken record after an edit, a deletion, a truncated tail, a reordering, a forged
//! checkpoint, a wrong key and a rewrite caught by a trusted checkpoint; a torn last line is
//! recovered; `prove` and `verify-proof` round-trip and a tampered proof is rejected.
//! Offline: the images are the demo OCI layout and layouts that do not exist (denied rows).

use std::path::{Path, PathBuf};

use crate::support::cli::{imprint, run};

const DEMO: &str = "oci:testdata/demo-image:demo";

struct Log {
    tmp: tempfile::TempDir,
}

impl Log {
    fn key(&self) -> PathBuf {
        self.tmp.path().join("log.key")
    }
    fn public(&self) -> PathBuf {
        self.tmp.path().join("log.pub")
    }
    fn dir(&self) -> PathBuf {
        self.tmp.path().join("log")
    }
    fn records(&self) -> PathBuf {
        self.dir().join("decisions.jsonl")
    }
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.records())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn write_lines(&self, lines: &[String]) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(self.records(), text).unwrap();
    }
}

fn keygen(tmp: &Path, name: &str, stem: &str) {
    let (code, _, err) = run(imprint().args([
        "audit-log",
        "keygen",
        "--name",
        name,
        "--key-file",
        tmp.join(format!("{stem}.key")).to_str().unwrap(),
        "--pub-file",
        tmp.join(format!("{stem}.pub")).to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
}

fn audit_into(dir: &Path, key: &Path, images: &[&str]) -> (i32, String, String) {
    run(imprint()
        .args(["audit", "--policy", "policies/demo.yaml", "--audit-log"])
        .arg(dir)
        .arg("--audit-log-key")
        .arg(key)
        .args(images))
}

/// Two audits: the demo image (1 record, checkpoint at 1), then the demo image and three
/// missing layouts (4 more, checkpoint at 5).
fn make_log() -> Log {
    let tmp = tempfile::tempdir().unwrap();
    keygen(tmp.path(), "imprint.test/decisions", "log");
    let log = Log { tmp };
    let (code, _, err) = audit_into(&log.dir(), &log.key(), &[DEMO]);
    assert_eq!(code, 0, "{err}");
    let missing: Vec<String> = (0..3)
        .map(|i| format!("oci:{}/missing-{i}:v1", log.tmp.path().display()))
        .collect();
    let mut images = vec![DEMO];
    images.extend(missing.iter().map(String::as_str));
    let (code, _, err) = audit_into(&log.dir(), &log.key(), &images);
    assert_eq!(code, 1, "missing layouts are not allowed: {err}");
    assert_eq!(log.lines().len(), 5);
    log
}

fn verify(log: &Log, extra: &[&str]) -> (i32, String, String) {
    run(imprint()
        .args(["audit-log", "verify"])
        .arg(log.dir())
        .arg("--key")
        .arg(log.public())
        .args(extra))
}

fn assert_broken(log: &Log, extra: &[&str], first: &str) -> String {
    let (code, out, err) = verify(log, extra);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    let line = err.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!("error: first broken record: {first}")),
        "expected `{first}` first, got:\n{err}"
    );
    err
}

#[test]
fn audit_writes_records_and_verify_passes() {
    let log = make_log();
    let lines = log.lines();
    let records: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["index"], i as u64);
        assert_eq!(r["source"]["kind"], "audit");
        assert!(
            r["decision"]["policyHash"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        assert!(
            r["decision"]["trustRootHash"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
    }
    assert_eq!(records[0]["decision"]["outcome"], "allowed");
    assert_eq!(records[1]["decision"]["image"], DEMO);
    assert_ne!(records[2]["decision"]["outcome"], "allowed");
    assert!(records[0].get("prev").is_none());
    assert!(records[1]["prev"].is_string());
    let (code, out, err) = verify(&log, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("5 records, 2 valid checkpoints, 5 sealed, 0 unsealed"),
        "{out}"
    );
    // JSON, and without --key (the directory's log.pub).
    let (code, out, _) = run(imprint()
        .args(["audit-log", "verify", "-o", "json"])
        .arg(log.dir()));
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["sealed"], 5);
    assert!(report["key"].as_str().unwrap().contains("log.pub"));
    // `--audit-log` needs a key; a key that is not a note key stops the audit before it runs.
    let (code, _, err) = run(imprint()
        .args(["audit", "--policy", "policies/demo.yaml", "--audit-log"])
        .arg(log.tmp.path().join("unused"))
        .arg(DEMO));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = audit_into(&log.tmp.path().join("unused"), &log.public(), &[DEMO]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a note private key"), "{err}");
    assert!(!log.tmp.path().join("unused").exists());
    // A directory that is not there is an operational error, not an empty log.
    let (code, _, err) = run(imprint()
        .args(["audit-log", "verify"])
        .arg(log.tmp.path().join("nothing-here"))
        .arg("--key")
        .arg(log.public()));
    assert_eq!(code, 2, "{err}");
    // keygen never replaces a key.
    let (code, _, err) = run(imprint().args([
        "audit-log",
        "keygen",
        "--name",
        "x",
        "--key-file",
        log.key().to_str().unwrap(),
        "--pub-file",
        log.tmp.path().join("new.pub").to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(!log.tmp.path().join("new.pub").exists());
    // The private key is mode 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(log.key()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = std::fs::read_to_string(log.key()).unwrap();
    assert!(key.starts_with("PRIVATE+KEY+imprint.test/decisions+"));
}

#[test]
fn an_edited_record_is_named() {
    let log = make_log();
    let mut lines = log.lines();
    lines[2] = lines[2].replacen("missing-0", "missing-X", 1);
    log.write_lines(&lines);
    assert_broken(&log, &[], "index 2 (decisions.jsonl line 3)");
}

#[test]
fn a_deleted_record_is_named() {
    let log = make_log();
    let mut lines = log.lines();
    lines.remove(2);
    log.write_lines(&lines);
    assert_broken(&log, &[], "index 2 (decisions.jsonl line 3)");
}

#[test]
fn a_truncated_tail_is_named() {
    let log = make_log();
    let mut lines = log.lines();
    lines.truncate(3);
    log.write_lines(&lines);
    let err = assert_broken(&log, &[], "index 3 (checkpoints.jsonl line 2)");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn reordered_records_are_named() {
    let log = make_log();
    let mut lines = log.lines();
    lines.swap(1, 3);
    log.write_lines(&lines);
    assert_broken(&log, &[], "index 1 (decisions.jsonl line 2)");
}

#[test]
fn a_forged_checkpoint_is_named() {
    // An attacker edits the last record (the chain cannot show it) and signs a checkpoint over
    // the new tree with a key of the same name.
    let log = make_log();
    keygen(log.tmp.path(), "imprint.test/decisions", "forger");
    let mut lines = log.lines();
    lines[4] = lines[4].replacen("missing-2", "missing-Z", 1);
    log.write_lines(&lines);
    let forged = log.tmp.path().join("forged");
    std::fs::create_dir(&forged).unwrap();
    std::fs::copy(log.records(), forged.join("decisions.jsonl")).unwrap();
    // Make the forger's checkpoint over the edited records with the library.
    let signer = imprint::decisionlog::note::NoteSigner::parse(
        &std::fs::read_to_string(log.tmp.path().join("forger.key")).unwrap(),
    )
    .unwrap();
    let note = imprint::decisionlog::DecisionLog::open(
        &forged,
        imprint::decisionlog::Options::new("imprint.test/decisions", signer),
    )
    .unwrap()
    .checkpoint()
    .unwrap();
    let cps = log.dir().join("checkpoints.jsonl");
    let text = std::fs::read_to_string(&cps).unwrap();
    let first = text.lines().next().unwrap();
    let forged_line = serde_json::json!({ "note": note }).to_string();
    std::fs::write(&cps, format!("{first}\n{forged_line}\n")).unwrap();
    let err = assert_broken(&log, &[], "index 1 (checkpoints.jsonl line 2)");
    assert!(err.contains("no valid signature"), "{err}");
}

#[test]
fn a_wrong_key_fails_every_checkpoint() {
    let log = make_log();
    keygen(log.tmp.path(), "imprint.test/decisions", "other");
    let (code, _, err) = run(imprint()
        .args(["audit-log", "verify"])
        .arg(log.dir())
        .arg("--key")
        .arg(log.tmp.path().join("other.pub")));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("error: first broken record: index 0 (checkpoints.jsonl line 1)"),
        "{err}"
    );
    assert!(err.contains("no valid signature"), "{err}");
}

#[test]
fn a_trusted_checkpoint_catches_truncation_and_rewrites() {
    let log = make_log();
    let saved = log.tmp.path().join("saved.checkpoint");
    std::fs::copy(log.dir().join("checkpoint"), &saved).unwrap();
    let trusted = ["--trusted-checkpoint", saved.to_str().unwrap()];
    let (code, _, err) = verify(&log, &trusted);
    assert_eq!(code, 0, "{err}");

    // Truncated to the first checkpoint, with the later checkpoint removed too: the log
    // alone looks fine, the saved checkpoint does not.
    let lines = log.lines();
    log.write_lines(&lines[..1]);
    let cps = log.dir().join("checkpoints.jsonl");
    let text = std::fs::read_to_string(&cps).unwrap();
    std::fs::write(&cps, format!("{}\n", text.lines().next().unwrap())).unwrap();
    let (code, _, err) = verify(&log, &[]);
    assert_eq!(code, 0, "{err}");
    let err = assert_broken(&log, &trusted, "index 1");
    assert!(err.contains("truncated"), "{err}");

    // Rewritten from scratch with the real key (an attacker on the host holds it).
    std::fs::remove_dir_all(log.dir()).unwrap();
    let other: Vec<String> = (0..4)
        .map(|i| format!("oci:{}/other-{i}:v1", log.tmp.path().display()))
        .collect();
    let mut images = vec![DEMO];
    images.extend(other.iter().map(String::as_str));
    audit_into(&log.dir(), &log.key(), &images);
    let (code, _, err) = verify(&log, &[]);
    assert_eq!(code, 0, "{err}");
    let err = assert_broken(&log, &trusted, "index 0");
    assert!(err.contains("rewritten"), "{err}");
}

#[test]
fn a_torn_last_line_is_recovered() {
    let log = make_log();
    let mut bytes = std::fs::read(log.records()).unwrap();
    bytes.extend_from_slice(b"{\"index\":5,\"time\":\"2026-");
    std::fs::write(log.records(), &bytes).unwrap();
    let err = assert_broken(&log, &[], "index 5 (decisions.jsonl line 6)");
    assert!(err.contains("torn"), "{err}");
    // The next writer cuts it back and notes it.
    let (code, _, err) = audit_into(&log.dir(), &log.key(), &[DEMO]);
    assert_eq!(code, 0, "{err}");
    let lines = log.lines();
    assert_eq!(lines.len(), 7);
    let recovery: serde_json::Value = serde_json::from_str(&lines[5]).unwrap();
    assert_eq!(recovery["source"]["kind"], "recovery");
    assert_eq!(recovery["source"]["truncatedBytes"], 24);
    let (code, out, err) = verify(&log, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("7 records"), "{out}");
}

#[test]
fn prove_and_verify_proof_round_trip() {
    let log = make_log();
    let proof = log.tmp.path().join("r2.tlog-proof");
    let (code, _, err) = run(imprint()
        .args(["audit-log", "prove"])
        .arg(log.dir())
        .args(["--index", "2", "-o"])
        .arg(&proof));
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&proof).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
    assert!(text.contains("\nindex 2\n"));
    let check = |file: &Path, key: &Path| {
        run(imprint()
            .args(["audit-log", "verify-proof"])
            .arg(file)
            .arg("--key")
            .arg(key))
    };
    let (code, out, err) = check(&proof, &log.public());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"index\":2"), "{out}");
    assert_eq!(out.trim_end(), log.lines()[2]);

    // A changed proof hash, another record in `extra`, another key: rejected (exit 1).
    let hash_line = text.lines().nth(3).unwrap();
    let mut flipped = hash_line.to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let bad = log.tmp.path().join("bad.tlog-proof");
    std::fs::write(
        &bad,
        text.replacen(hash_line, std::str::from_utf8(&flipped).unwrap(), 1),
    )
    .unwrap();
    let (code, _, err) = check(&bad, &log.public());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not in the tree"), "{err}");

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let other_record = b64.encode(log.lines()[3].replace("\"index\":3", "\"index\":2"));
    let extra_line = text.lines().nth(1).unwrap();
    std::fs::write(
        &bad,
        text.replacen(extra_line, &format!("extra {other_record}"), 1),
    )
    .unwrap();
    let (code, _, err) = check(&bad, &log.public());
    assert_eq!(code, 1, "{err}");

    keygen(log.tmp.path(), "imprint.test/decisions", "other");
    let (code, _, err) = check(&proof, &log.tmp.path().join("other.pub"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no valid signature"), "{err}");

    // An index past the newest checkpoint cannot be proved.
    let (code, _, err) = run(imprint()
        .args(["audit-log", "prove"])
        .arg(log.dir())
        .args(["--index", "5"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not sealed"), "{err}");
}

/// `imprint verify --policy --audit-log`: one `verify` record per image in the order given,
/// sealed by a checkpoint, accepted by `imprint audit-log verify`; a record edited afterwards
/// is named; `--audit-log` without `--policy` is refused.
#[test]
fn verify_policy_writes_a_verifiable_log() {
    let tmp = tempfile::tempdir().unwrap();
    keygen(tmp.path(), "imprint.test/verify", "log");
    let log = Log { tmp };
    let missing = format!("oci:{}/missing:v1", log.tmp.path().display());
    let verify_into = |images: &[&str]| {
        run(imprint()
            .args(["verify", "--policy", "policies/demo.yaml", "--audit-log"])
            .arg(log.dir())
            .arg("--audit-log-key")
            .arg(log.key())
            .args(images))
    };
    let (code, _, err) = verify_into(&[DEMO, &missing]);
    assert_eq!(code, 1, "the missing layout is denied: {err}");
    let (code, _, err) = verify_into(&[DEMO]);
    assert_eq!(code, 0, "{err}");
    let records: Vec<serde_json::Value> = log
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r["source"]["kind"], "verify", "{r}");
    }
    assert_eq!(records[0]["decision"]["image"], DEMO);
    assert_eq!(records[0]["decision"]["outcome"], "allowed");
    assert!(
        records[0]["decision"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(records[1]["decision"]["image"], missing.as_str());
    assert_ne!(records[1]["decision"]["outcome"], "allowed");
    assert_eq!(records[2]["decision"]["outcome"], "allowed");
    let (code, out, err) = verify(&log, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("3 records, 2 valid checkpoints, 3 sealed, 0 unsealed"),
        "{out}"
    );
    let mut lines = log.lines();
    lines[1] = lines[1].replace("\"outcome\":\"", "\"outcome\":\"x");
    log.write_lines(&lines);
    assert_broken(&log, &[], "index 1");

    let (code, _, err) = run(imprint()
        .args(["verify", "--key", "cosign.pub", "--audit-log"])
        .arg(log.tmp.path().join("other"))
        .arg("--audit-log-key")
        .arg(log.key())
        .arg(DEMO));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs `--policy`"), "{err}");
    assert!(!log.tmp.path().join("other").exists());
}
