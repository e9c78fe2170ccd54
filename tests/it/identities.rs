//! Key identity end to end: one P-256 key given to a policy as three authorities, its SPKI
//! written with an uncompressed, a compressed and a hybrid point, is one signer. A real
//! signature in the real registry verifies under the compressed encoding, and does not meet a
//! 3-of-3 threshold over the three encodings.

use std::sync::Arc;
use std::time::SystemTime;

use crate::support::{point_encodings, push_random_image, registry, test_client, unique_repo};
use imprint::format::reference::ImageRef;
use imprint::gate::{Clock, Verifier};
use imprint::keys::SigningKey;
use imprint::policy::{Decision, Outcome, Policy, ReasonCode};
use imprint::sign::{self, SignOptions};
use imprint::store::{AuthSource, RegistryConfig};

#[derive(Debug)]
struct Now;
impl Clock for Now {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// `PUBLIC KEY` PEMs of `key` with the point uncompressed, compressed and hybrid.
fn three_encodings(key: &SigningKey) -> [String; 3] {
    point_encodings(key.public_key().spki_der())
}

async fn decide(policy: Policy, image: &ImageRef) -> Decision {
    Verifier::builder(policy)
        .registry(RegistryConfig {
            auth: AuthSource::Anonymous,
            ..RegistryConfig::default()
        })
        .clock(Arc::new(Now))
        .build()
        .unwrap()
        .verify(image)
        .await
}

#[tokio::test]
async fn one_key_in_three_encodings_is_one_signer() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate_p256().unwrap();
    for (name, pem) in ["plain", "compressed", "hybrid"]
        .iter()
        .zip(three_encodings(&key))
    {
        std::fs::write(dir.path().join(format!("{name}.pub")), pem).unwrap();
    }
    let prefix = "identities";
    let (image, _) = push_random_image(&format!("{prefix}/{}", unique_repo("img"))).await;
    sign::sign_image(&test_client(), &image, &key, &SignOptions::default())
        .await
        .unwrap();
    let policy = |signatures: &str| {
        let yaml = format!(
            "apiVersion: imprint.dev/v1\nkind: TrustPolicy\nspec:\n  authorities:\n    plain: {{key: {{file: plain.pub}}}}\n    compressed: {{key: {{file: compressed.pub}}}}\n    hybrid: {{key: {{file: hybrid.pub}}}}\n  rules:\n    - name: r\n      images: [\"{}/{prefix}/**\"]\n      signatures: {signatures}\n",
            registry()
        );
        Policy::from_str_with_base(&yaml, dir.path()).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    };

    for name in ["compressed", "hybrid"] {
        let d = decide(policy(&format!("{{authority: {name}}}")), &image).await;
        assert_eq!(
            d.outcome(),
            Outcome::Allowed,
            "{name}: {}",
            serde_json::to_string_pretty(&d).unwrap()
        );
        // The signer is reported by the key's one identity.
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains(&key.public_key().fingerprint()), "{json}");
    }

    let three = policy("{threshold: {count: 3, of: [plain, compressed, hybrid]}}");
    let lint: Vec<_> = three
        .lint()
        .into_iter()
        .filter(|f| f.code == "duplicate-key")
        .collect();
    assert_eq!(lint.len(), 1, "{lint:?}");
    let d = decide(three, &image).await;
    assert_eq!(d.outcome(), Outcome::Denied);
    assert_eq!(
        d.reason().map(|r| r.code),
        Some(ReasonCode::ThresholdNotMet),
        "{}",
        serde_json::to_string_pretty(&d).unwrap()
    );
}
