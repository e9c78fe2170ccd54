//! Tests of the writer, the verifier and proofs over real directories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::note::{NoteSigner, NoteVerifier};
use super::*;

#[derive(Debug)]
struct FakeClock(Mutex<SystemTime>);

impl crate::gate::Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

impl FakeClock {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

const ORIGIN: &str = "imprint.test/decisions";

fn key() -> NoteSigner {
    // A fixed key, so reopening uses the same one.
    NoteSigner::parse(&NoteSigner::generate(ORIGIN).unwrap().to_private_text()).unwrap()
}

fn options(signer: &NoteSigner, clock: &Arc<FakeClock>) -> Options {
    let mut o = Options::new(
        ORIGIN,
        NoteSigner::parse(&signer.to_private_text()).unwrap(),
    );
    o.clock = clock.clone();
    o.checkpoint_every = 1000;
    o
}

fn clock() -> Arc<FakeClock> {
    Arc::new(FakeClock(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000),
    )))
}

fn record(i: usize) -> Record {
    Record {
        source: Source::Admission {
            decision_id: format!("{i:032x}"),
            uid: format!("uid-{i}"),
            user: "system:serviceaccount:ci:deployer".into(),
            operation: "CREATE".into(),
            object: ObjectRef {
                kind: "Pod".into(),
                namespace: Some("prod".into()),
                name: format!("web-{i}"),
            },
        },
        decision: Some(DecisionSummary {
            image: format!("registry.example/app:{i}"),
            digest: Some(Digest::of(format!("image {i}").as_bytes())),
            policy_hash: Digest::of(b"policy"),
            trust_root_hash: None,
            outcome: RecordOutcome::Denied,
            reasons: vec!["no-signatures".into()],
            evidence: Vec::new(),
        }),
    }
}

fn verify_with(dir: &std::path::Path, key: &NoteVerifier) -> VerifyReport {
    verify(
        dir,
        &VerifyOptions {
            key: Some(key.clone()),
            ..VerifyOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn appends_checkpoints_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let clock = clock();
    let log = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap();
    // A second writer is refused while the first has the log open.
    assert!(matches!(
        DecisionLog::open(dir.path(), options(&signer, &clock)),
        Err(LogError::Locked { .. })
    ));
    for i in 0..5 {
        let p = log.append(&record(i)).unwrap();
        assert_eq!(p.index, i as u64);
    }
    log.sync().unwrap();
    log.sync().unwrap(); // already synced: nothing to do
    let note = log.checkpoint().unwrap();
    assert!(note.starts_with(&format!("{ORIGIN}\n5\n")), "{note}");
    log.append(&record(5)).unwrap();
    let report = verify_with(dir.path(), &signer.verifier());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.records, report.sealed, report.unsealed), (6, 5, 1));
    log.close().unwrap();
    let report = verify_with(dir.path(), &signer.verifier());
    assert_eq!((report.records, report.sealed, report.unsealed), (6, 6, 0));
    assert_eq!(report.valid_checkpoints, 2);
    // The latest checkpoint file is the last note.
    let latest = std::fs::read_to_string(dir.path().join(LATEST_CHECKPOINT_FILE)).unwrap();
    assert!(latest.starts_with(&format!("{ORIGIN}\n6\n")));
    // Each line carries the previous line's leaf hash.
    let text = std::fs::read_to_string(dir.path().join(RECORDS_FILE)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(
        second["prev"],
        hex::encode(merkle::leaf_hash(lines[0].as_bytes()))
    );
    assert_eq!(second["source"]["kind"], "admission");
    assert_eq!(second["decision"]["outcome"], "denied");
    assert_eq!(second["time"], "2026-05-28T20:26:40.000Z");
}

#[test]
fn checkpoints_every_n_records_and_after_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let clock = clock();
    let mut o = options(&signer, &clock);
    o.checkpoint_every = 2;
    o.checkpoint_interval = Duration::from_secs(60);
    let log = DecisionLog::open(dir.path(), o).unwrap();
    for i in 0..5 {
        log.append(&record(i)).unwrap();
    }
    assert_eq!(
        verify_with(dir.path(), &signer.verifier()).valid_checkpoints,
        2
    );
    assert_eq!(log.checkpoint_if_due().unwrap(), None);
    clock.advance(Duration::from_secs(61));
    assert!(log.checkpoint_if_due().unwrap().is_some());
    assert_eq!(log.checkpoint_if_due().unwrap(), None); // nothing new since
    let report = verify_with(dir.path(), &signer.verifier());
    assert_eq!((report.valid_checkpoints, report.sealed), (3, 5));
}

#[test]
fn reopening_continues_the_chain_and_a_torn_line_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let clock = clock();
    let log = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap();
    log.append(&record(0)).unwrap();
    log.append(&record(1)).unwrap();
    log.close().unwrap();
    // A crash in the middle of a write.
    let path = dir.path().join(RECORDS_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let good = bytes.len() as u64;
    bytes.extend_from_slice(b"{\"index\":2,\"prev\":\"ab");
    std::fs::write(&path, &bytes).unwrap();
    let torn = verify_with(dir.path(), &signer.verifier());
    assert!(!torn.is_ok());
    assert_eq!(torn.first_broken().unwrap().index, Some(2));

    let log = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap();
    let r = *log.recovered().unwrap();
    assert_eq!(
        (r.truncated_bytes, r.at_offset, r.record.index),
        (21, good, 2)
    );
    assert_eq!(log.append(&record(3)).unwrap().index, 3);
    log.close().unwrap();
    let report = verify_with(dir.path(), &signer.verifier());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 4);
    let text = std::fs::read_to_string(&path).unwrap();
    let recovery: serde_json::Value = serde_json::from_str(text.lines().nth(2).unwrap()).unwrap();
    assert_eq!(recovery["source"]["kind"], "recovery");
    assert_eq!(recovery["source"]["truncatedBytes"], 21);
}

#[test]
fn open_refuses_tampered_logs_and_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let clock = clock();
    let log = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap();
    for i in 0..3 {
        log.append(&record(i)).unwrap();
    }
    log.close().unwrap();
    let other = key();
    assert!(matches!(
        DecisionLog::open(dir.path(), options(&other, &clock)),
        Err(LogError::WrongKey { .. })
    ));
    let mut renamed = options(&signer, &clock);
    renamed.origin = "imprint.test/another".into();
    let err = DecisionLog::open(dir.path(), renamed).unwrap_err();
    assert!(err.to_string().contains("origin"), "{err}");
    // Truncated below the checkpoint.
    let path = dir.path().join(RECORDS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let two: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, &two).unwrap();
    let err = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    // An edited record.
    std::fs::write(&path, text.replacen("web-1", "web-9", 1)).unwrap();
    let err = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap_err();
    assert!(matches!(&err, LogError::Corrupt { line: 3, .. }), "{err}");
}

#[test]
fn concurrent_appends_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let clock = clock();
    let log = Arc::new(DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    log.append(&record(t * 100 + i)).unwrap();
                    log.sync().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(log.size(), 200);
    Arc::into_inner(log).unwrap().close().unwrap();
    let report = verify_with(dir.path(), &signer.verifier());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.sealed, 200);
}

#[test]
fn proofs_round_trip_and_tampering_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let clock = clock();
    let log = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap();
    for i in 0..7 {
        log.append(&record(i)).unwrap();
    }
    log.checkpoint().unwrap();
    log.append(&record(7)).unwrap();
    let verifier = signer.verifier();
    for i in 0..7 {
        let proof = prove(dir.path(), i, Some(&verifier)).unwrap();
        let ok = verify_proof(&proof.to_text(), &verifier, Some(ORIGIN)).unwrap();
        assert_eq!((ok.index, ok.checkpoint.size), (i, 7));
    }
    // Record 7 is not sealed yet.
    assert!(matches!(
        prove(dir.path(), 7, Some(&verifier)),
        Err(LogError::Proof(_))
    ));
    let text = prove(dir.path(), 3, Some(&verifier)).unwrap().to_text();
    let mut proof = note::TlogProof::parse(&text).unwrap();
    // Another record in `extra`.
    let record_text = String::from_utf8(proof.extra.clone().unwrap()).unwrap();
    proof.extra = Some(record_text.replace("web-3", "web-4").into_bytes());
    assert!(verify_proof(&proof.to_text(), &verifier, None).is_err());
    // A changed proof hash.
    let mut p2 = note::TlogProof::parse(&text).unwrap();
    p2.hashes[0][5] ^= 0x40;
    assert!(verify_proof(&p2.to_text(), &verifier, None).is_err());
    // Another key, another origin.
    assert!(verify_proof(&text, &key().verifier(), None).is_err());
    assert!(verify_proof(&text, &verifier, Some("other.example/log")).is_err());
    log.close().unwrap();
}

#[test]
fn verify_catches_shrinking_checkpoints_and_other_origins() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let clock = clock();
    let log = DecisionLog::open(dir.path(), options(&signer, &clock)).unwrap();
    log.append(&record(0)).unwrap();
    let first = log.checkpoint().unwrap();
    for i in 1..4 {
        log.append(&record(i)).unwrap();
    }
    log.close().unwrap();
    let verifier = signer.verifier();
    // The expected origin.
    let report = verify(
        dir.path(),
        &VerifyOptions {
            key: Some(verifier.clone()),
            origin: Some("imprint.test/another".into()),
            trusted_checkpoint: None,
        },
    )
    .unwrap();
    assert!(!report.is_ok());
    assert!(report.problems[0].message.contains("origin"), "{report:?}");
    // An older checkpoint saved elsewhere is consistent with the log.
    let report = verify(
        dir.path(),
        &VerifyOptions {
            key: Some(verifier.clone()),
            origin: None,
            trusted_checkpoint: Some(first.clone()),
        },
    )
    .unwrap();
    assert!(report.is_ok(), "{report:?}");
    // Checkpoints out of order: the log would have shrunk.
    let path = dir.path().join(CHECKPOINTS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, format!("{}\n{}\n", lines[1], lines[0])).unwrap();
    let report = verify_with(dir.path(), &verifier);
    let first_broken = report.first_broken().unwrap();
    assert!(first_broken.message.contains("shrinks"), "{report:?}");
    assert_eq!(first_broken.index, Some(1));
    // A trusted checkpoint signed by another key is unusable, not silently ignored.
    let other = key()
        .sign(
            &note::Checkpoint::parse(verifier.open(&first).unwrap())
                .unwrap()
                .to_text(),
        )
        .unwrap();
    let report = verify(
        dir.path(),
        &VerifyOptions {
            key: Some(verifier),
            origin: None,
            trusted_checkpoint: Some(other),
        },
    )
    .unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.message.contains("trusted checkpoint is unusable")),
        "{report:?}"
    );
}
