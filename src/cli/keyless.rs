//! Keyless signing of blobs (`sign-blob` / `attest-blob` without `--key`) and the Rekor upload of
//! key signatures (`--tlog-upload`): flags to `imprint::sign::keyless` calls, and printing.

#[cfg(feature = "keyless-sign")]
mod enabled {
    use std::path::Path;

    use anyhow::Context as _;
    use base64::Engine as _;

    use crate::cli::Outcome;
    use crate::cli::blob::{AttestBlobArgs, SignBlobArgs, api};
    use crate::cli::unsupported::SigningCompat;
    use imprint::format::IN_TOTO_PAYLOAD_TYPE;
    use imprint::keys::SigningKey;
    use imprint::sign::keyless::{self, KeylessSession, RekorEntry, Token};

    /// The identity token the flags and the environment give.
    pub(crate) async fn token(
        cosign: &SigningCompat,
        http: &reqwest::Client,
    ) -> anyhow::Result<Token> {
        let env = |k: &str| std::env::var(k).ok();
        let token = keyless::identity_token(cosign.identity_token.as_deref(), &env, http).await?;
        eprintln!(
            "Using the identity token from {} (issuer {}, identity {})",
            token.source(),
            imprint::format::text::for_terminal(token.issuer()),
            imprint::format::text::for_terminal(token.identity())
        );
        Ok(token)
    }

    fn write_certificate(out: Option<&Path>, pem: &str) -> anyhow::Result<()> {
        if let Some(out) = out {
            api::write_output(out, pem.as_bytes())?;
            eprintln!("Wrote the certificate to {}", out.display());
        }
        Ok(())
    }

    fn bundle_json(bundle: &sigstore_types::Bundle) -> anyhow::Result<Vec<u8>> {
        Ok(bundle
            .to_json()
            .context("encoding the Sigstore bundle")?
            .into_bytes())
    }

    pub(crate) fn sign_blob(args: &SignBlobArgs) -> anyhow::Result<Outcome> {
        let bundle_path = args.bundle.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "keyless sign-blob needs --bundle FILE: the certificate and Rekor entry live in the bundle"
            )
        })?;
        let services = args.cosign.services()?;
        let http = keyless::http_client()?;
        let bundle = crate::cli::block_on(async {
            let token = token(&args.cosign, &http).await?;
            let data = imprint::fs::read_limited(&args.file, u64::MAX)?;
            anyhow::Ok(keyless::sign_blob(&services, &token, &data, &http).await?)
        })??;
        let (sig, cert) = match (&bundle.content, &bundle.verification_material.content) {
            (
                sigstore_types::bundle::SignatureContent::MessageSignature(m),
                sigstore_types::bundle::VerificationMaterialContent::Certificate(c),
            ) => (
                m.signature.as_bytes().to_vec(),
                c.raw_bytes.as_bytes().to_vec(),
            ),
            _ => anyhow::bail!(
                "the signer returned a bundle without a message signature and certificate"
            ),
        };
        api::write_output(bundle_path, &bundle_json(&bundle)?)?;
        eprintln!(
            "Wrote bundle to file {} (Fulcio {}, Rekor {}{})",
            bundle_path.display(),
            services.fulcio,
            services.rekor,
            services
                .tsa
                .as_deref()
                .map(|t| format!(", timestamp {t}"))
                .unwrap_or_default()
        );
        write_certificate(
            args.output_certificate.as_deref(),
            &keyless::pem_lf("CERTIFICATE", &cert),
        )?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
        crate::cli::blob::write_signature(args.output_signature.as_deref(), &b64)?;
        Ok(Outcome::Success)
    }

    pub(crate) fn attest_blob(args: &AttestBlobArgs, statement: &[u8]) -> anyhow::Result<Outcome> {
        let bundle_path = args.bundle.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "keyless attest-blob needs --bundle FILE: the certificate and Rekor entry live in the bundle"
            )
        })?;
        let services = args.cosign.services()?;
        let http = keyless::http_client()?;
        let (bundle, envelope) = crate::cli::block_on(async {
            let token = token(&args.cosign, &http).await?;
            let session = KeylessSession::start(services.clone(), &token, http.clone()).await?;
            let signed = session
                .sign_dsse(
                    IN_TOTO_PAYLOAD_TYPE,
                    statement,
                    keyless::StampOver::Signature,
                )
                .await?;
            anyhow::Ok((session.dsse_bundle(&signed)?, signed.envelope))
        })??;
        api::write_output(bundle_path, &bundle_json(&bundle)?)?;
        eprintln!("Wrote bundle to file {}", bundle_path.display());
        crate::cli::blob::write_envelope(args.output_signature.as_deref(), &envelope)?;
        Ok(Outcome::Success)
    }

    /// Starts a keyless session: token, services, ephemeral key, Fulcio certificate.
    pub(crate) async fn session(cosign: &SigningCompat) -> anyhow::Result<KeylessSession> {
        let services = cosign.services()?;
        let http = keyless::http_client()?;
        let token = token(cosign, &http).await?;
        let session = KeylessSession::start(services, &token, http).await?;
        eprintln!(
            "Got a Fulcio certificate from {} (Rekor {}{})",
            session.services().fulcio,
            session.services().rekor,
            session
                .services()
                .tsa
                .as_deref()
                .map(|t| format!(", timestamp {t}"))
                .unwrap_or_default()
        );
        Ok(session)
    }

    /// Signs `images` keyless, one session for all.
    pub(crate) async fn sign_images(
        cosign: &SigningCompat,
        client: &imprint::store::Client,
        images: &[imprint::format::reference::ImageRef],
        opts: &imprint::sign::SignOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        let session = session(cosign).await?;
        let timeout = crate::cli::registry_opts::timeout();
        let mut out = Vec::new();
        for image in images {
            let done = tokio::time::timeout(
                timeout,
                imprint::sign::keyless_image::sign_image_keyless(client, image, &session, opts),
            )
            .await
            .map_err(|_| anyhow::anyhow!("timed out after {timeout:?} (--timeout)"))?
            .with_context(|| format!("signing `{image}`"))?;
            out.extend(done);
        }
        Ok(out)
    }

    /// Attests one image keyless in `session`.
    pub(crate) async fn attest_image(
        client: &imprint::store::Client,
        image: &imprint::format::reference::ImageRef,
        session: &KeylessSession,
        opts: &imprint::sign::AttestOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        Ok(
            imprint::sign::keyless_image::attest_image_keyless(client, image, session, opts)
                .await?,
        )
    }

    fn rekor_url(cosign: &SigningCompat) -> anyhow::Result<String> {
        Ok(cosign.services()?.rekor)
    }

    pub(crate) fn upload_key_signature(
        cosign: &SigningCompat,
        key: &SigningKey,
        signed: &[u8],
        signature: &[u8],
    ) -> anyhow::Result<RekorEntry> {
        let rekor = rekor_url(cosign)?;
        let http = keyless::http_client()?;
        let entry = crate::cli::block_on(keyless::upload_key_signature(
            &rekor, key, signed, signature, &http,
        ))??;
        eprintln!(
            "tlog entry created with index: {} ({rekor})",
            entry.log_index()
        );
        Ok(entry)
    }

    pub(crate) fn upload_key_envelope(
        cosign: &SigningCompat,
        key: &SigningKey,
        statement: &[u8],
        signature: &[u8],
    ) -> anyhow::Result<RekorEntry> {
        let rekor = rekor_url(cosign)?;
        let http = keyless::http_client()?;
        let entry = crate::cli::block_on(keyless::upload_key_envelope(
            &rekor, key, statement, signature, &http,
        ))??;
        eprintln!(
            "tlog entry created with index: {} ({rekor})",
            entry.log_index()
        );
        Ok(entry)
    }

    /// Signs images with `key` and logs each signature in Rekor (`sign --key K --tlog-upload`).
    pub(crate) async fn sign_images_with_key_tlog(
        cosign: &SigningCompat,
        client: &imprint::store::Client,
        image: &imprint::format::reference::ImageRef,
        key: &SigningKey,
        opts: &imprint::sign::SignOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        let tlog = key_tlog_upload(cosign)?;
        let done =
            imprint::sign::key_tlog::sign_image_with_tlog(client, image, key, opts, &tlog).await?;
        report_key_tlog(&done, &tlog.rekor);
        Ok(done)
    }

    /// Attests an image with `key` and logs each envelope in Rekor (`attest --key K
    /// --tlog-upload`).
    pub(crate) async fn attest_image_with_key_tlog(
        cosign: &SigningCompat,
        client: &imprint::store::Client,
        image: &imprint::format::reference::ImageRef,
        key: &SigningKey,
        opts: &imprint::sign::AttestOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        let tlog = key_tlog_upload(cosign)?;
        let done = imprint::sign::key_tlog::attest_image_with_tlog(client, image, key, opts, &tlog)
            .await?;
        report_key_tlog(&done, &tlog.rekor);
        Ok(done)
    }

    fn key_tlog_upload(
        cosign: &SigningCompat,
    ) -> anyhow::Result<imprint::sign::key_tlog::TlogUpload> {
        Ok(imprint::sign::key_tlog::TlogUpload {
            rekor: rekor_url(cosign)?,
            http: keyless::http_client()?,
        })
    }

    fn report_key_tlog(done: &[imprint::sign::Attached], rekor: &str) {
        eprintln!(
            "tlog entries created for {} signature(s) ({rekor})",
            done.len()
        );
    }

    /// Adds the Rekor entry (if any) to a key-based bundle's `verificationMaterial.tlogEntries`.
    pub(crate) fn with_tlog_entry(
        bundle: Vec<u8>,
        entry: Option<&RekorEntry>,
    ) -> anyhow::Result<Vec<u8>> {
        let Some(entry) = entry else {
            return Ok(bundle);
        };
        let mut v: serde_json::Value =
            serde_json::from_slice(&bundle).context("re-reading the key bundle")?;
        let tlog =
            serde_json::to_value(entry.to_bundle_entry()?).context("encoding the tlog entry")?;
        v["verificationMaterial"]["tlogEntries"] = serde_json::json!([tlog]);
        serde_json::to_vec(&v).context("encoding the bundle")
    }
}

#[cfg(feature = "keyless-sign")]
pub(crate) use enabled::*;

#[cfg(not(feature = "keyless-sign"))]
mod disabled {
    use crate::cli::Outcome;
    use crate::cli::blob::{AttestBlobArgs, SignBlobArgs};
    use crate::cli::unsupported::SigningCompat;
    use imprint::keys::SigningKey;

    const OFF: &str = "this imprint was built without the `keyless-sign` feature: keyless signing \
                       and Rekor uploads are not available; sign with --key (and without --tlog-upload)";

    pub(crate) struct RekorEntry;
    pub(crate) struct KeylessSession;

    pub(crate) async fn session(_: &SigningCompat) -> anyhow::Result<KeylessSession> {
        anyhow::bail!(OFF)
    }
    pub(crate) async fn sign_images(
        _: &SigningCompat,
        _: &imprint::store::Client,
        _: &[imprint::format::reference::ImageRef],
        _: &imprint::sign::SignOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        anyhow::bail!(OFF)
    }
    pub(crate) async fn attest_image(
        _: &imprint::store::Client,
        _: &imprint::format::reference::ImageRef,
        _: &KeylessSession,
        _: &imprint::sign::AttestOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        anyhow::bail!(OFF)
    }

    pub(crate) fn sign_blob(_: &SignBlobArgs) -> anyhow::Result<Outcome> {
        anyhow::bail!(OFF)
    }
    pub(crate) fn attest_blob(_: &AttestBlobArgs, _: &[u8]) -> anyhow::Result<Outcome> {
        anyhow::bail!(OFF)
    }
    pub(crate) fn upload_key_signature(
        _: &SigningCompat,
        _: &SigningKey,
        _: &[u8],
        _: &[u8],
    ) -> anyhow::Result<RekorEntry> {
        anyhow::bail!(OFF)
    }
    pub(crate) fn upload_key_envelope(
        _: &SigningCompat,
        _: &SigningKey,
        _: &[u8],
        _: &[u8],
    ) -> anyhow::Result<RekorEntry> {
        anyhow::bail!(OFF)
    }
    pub(crate) async fn sign_images_with_key_tlog(
        _: &SigningCompat,
        _: &imprint::store::Client,
        _: &imprint::format::reference::ImageRef,
        _: &SigningKey,
        _: &imprint::sign::SignOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        anyhow::bail!(OFF)
    }
    pub(crate) async fn attest_image_with_key_tlog(
        _: &SigningCompat,
        _: &imprint::store::Client,
        _: &imprint::format::reference::ImageRef,
        _: &SigningKey,
        _: &imprint::sign::AttestOptions,
    ) -> anyhow::Result<Vec<imprint::sign::Attached>> {
        anyhow::bail!(OFF)
    }
    pub(crate) fn with_tlog_entry(b: Vec<u8>, _: Option<&RekorEntry>) -> anyhow::Result<Vec<u8>> {
        Ok(b)
    }
}

#[cfg(not(feature = "keyless-sign"))]
pub(crate) use disabled::*;
