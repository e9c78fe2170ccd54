//! The sigstore-rs peer for `bench/round-trips.sh`: one cold key-based verification of a
//! legacy `.sig` signature with sigstore-rs 0.15's cosign client (a dev-dependency, used only
//! as a cross-check and a baseline), over plain HTTP, as one process. Exit 0 when the image
//! verified, 1 when it did not, 2 on bad arguments.
//!
//! ```sh
//! cargo build --release --example sigstore_rs_verify
//! target/release/examples/sigstore_rs_verify cosign.pub 127.0.0.1:5000/repo:tag
//! ```

use std::process::ExitCode;

use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{ClientBuilder, CosignCapabilities};
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key_path, image] = args.as_slice() else {
        eprintln!("usage: sigstore_rs_verify KEY.pub IMAGE");
        return ExitCode::from(2);
    };
    match verify(key_path, image).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sigstore-rs: {image}: {e}");
            ExitCode::from(1)
        }
    }
}

async fn verify(key_path: &str, image: &str) -> Result<(), String> {
    let key = std::fs::read(key_path).map_err(|e| format!("reading {key_path}: {e}"))?;
    let reference: OciReference = image.parse().map_err(|e| format!("reference: {e}"))?;
    let config = ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    };
    let mut client = ClientBuilder::default()
        .with_oci_client_config(config)
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &reference)
        .await
        .map_err(|e| format!("signature layers: {e}"))?;
    let constraints: VerificationConstraintVec = vec![Box::new(
        PublicKeyVerifier::try_from(&key).map_err(|e| format!("key: {e}"))?,
    )];
    sigstore::cosign::verify_constraints(&layers, constraints.iter())
        .map_err(|e| format!("constraints: {e:?}"))
}
