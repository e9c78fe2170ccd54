//! Verify images against a trust policy with the library, the way a deploy gate would.
//!
//! ```sh
//! cargo run --example verify_policy -- policies/demo.yaml oci:testdata/demo-image:demo
//! ```

use std::process::ExitCode;

use imprint::format::reference::ImageRef;
use imprint::gate::Verifier;
use imprint::policy::{Policy, render_table};

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let policy_path = args.next().ok_or("usage: verify_policy POLICY IMAGE...")?;
    let images = args
        .map(|a| ImageRef::parse(&a))
        .collect::<Result<Vec<_>, _>>()?;

    // Build once (keys parsed, trust roots loaded, one connection pool), share everywhere.
    let verifier = Verifier::builder(Policy::from_path(policy_path.as_ref())?).build()?;
    let decisions = verifier.verify_all(&images).await;

    print!("{}", render_table(&decisions));
    Ok(if decisions.iter().all(|d| d.is_allowed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
