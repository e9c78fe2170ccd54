//! How fast the decision log appends with an fsync after every record and after every 64
//! (group commit): `cargo run --release --example decision_log_append [RECORDS]`. Writes to a
//! temporary directory on the file system of `$TMPDIR` (default `/tmp`).

use std::time::Instant;

use imprint::decisionlog::note::NoteSigner;
use imprint::decisionlog::{
    DecisionLog, DecisionSummary, ObjectRef, Options, Record, RecordOutcome, Source,
};
use imprint::format::digest::Digest;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 2_000,
    };
    for every in [1usize, 64] {
        let dir = tempfile::tempdir()?;
        let mut options = Options::new(
            "bench.example/log",
            NoteSigner::generate("bench.example/log")?,
        );
        options.checkpoint_every = u64::MAX;
        options.checkpoint_interval = std::time::Duration::from_secs(3600);
        let log = DecisionLog::open(dir.path(), options)?;
        let start = Instant::now();
        for i in 0..records {
            log.append(&record(i))?;
            if (i + 1) % every == 0 {
                log.sync()?;
            }
        }
        log.sync()?;
        let elapsed = start.elapsed();
        log.close()?;
        println!(
            "fsync every {every:>2} record(s): {records} appends in {:.3} s = {:.0} appends/s",
            elapsed.as_secs_f64(),
            records as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}

fn record(i: usize) -> Record {
    Record {
        source: Source::Admission {
            decision_id: format!("{i:032x}"),
            uid: format!("5f3c2a9e-{i:08}"),
            user: "system:serviceaccount:kube-system:replicaset-controller".into(),
            operation: "CREATE".into(),
            object: ObjectRef {
                kind: "Pod".into(),
                namespace: Some("prod".into()),
                name: format!("web-7d9f8c6b5-{i}"),
            },
        },
        decision: Some(DecisionSummary {
            image: "registry.example/team/web:1.4.2".into(),
            digest: Some(Digest::of(format!("image {i}").as_bytes())),
            policy_hash: Digest::of(b"policy"),
            trust_root_hash: Some(Digest::of(b"trust root")),
            outcome: RecordOutcome::Allowed,
            reasons: Vec::new(),
            evidence: Vec::new(),
        }),
    }
}
