//! The in-toto claim checks, one primitive for images and blobs alike: after a DSSE signature
//! verified, what the signed payload says must be an in-toto statement about the artifact.
//!
//! In order, failing closed:
//! 1. the envelope's `payloadType` is `application/vnd.in-toto+json`;
//! 2. the payload parses as an in-toto Statement v0.1 or v1;
//! 3. a subject's `sha256` digest equals the artifact's (image or blob) digest;
//! 4. when one is asked for, the statement's `predicateType` equals it exactly (`--type`
//!    shortcuts are mapped to URIs by the caller).

use crate::format::digest::Digest;
use crate::format::{IN_TOTO_PAYLOAD_TYPE, PayloadError, Statement, parse_statement};

/// Which claim check rejected a payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// The DSSE payload type is not in-toto.
    #[error("payloadType `{found}` is not `{IN_TOTO_PAYLOAD_TYPE}`")]
    PayloadType {
        /// The payload type found (truncated when long).
        found: String,
    },
    /// The payload is not an in-toto statement.
    #[error(transparent)]
    Statement(PayloadError),
    /// No subject of the statement has the artifact's sha256 digest.
    #[error(transparent)]
    Subject(PayloadError),
    /// The statement's predicate type is not the one asked for.
    #[error("predicate type is `{found}`, wanted `{expected}`")]
    PredicateType {
        /// The predicate type asked for.
        expected: String,
        /// The statement's predicate type.
        found: String,
    },
}

/// A statement whose claims passed every check of [`check_claims`] for `subject`. Only that
/// function makes one; the proof types are sealed from it.
#[derive(Debug)]
pub(crate) struct CheckedStatement {
    subject: Digest,
    statement: Statement,
    /// The exact signed statement bytes (the predicate is read from them on demand).
    bytes: Vec<u8>,
}

impl CheckedStatement {
    /// The statement's predicate type.
    pub(crate) fn predicate_type(&self) -> &str {
        &self.statement.predicate_type
    }
    /// The parsed statement.
    pub(crate) fn statement(&self) -> &Statement {
        &self.statement
    }
    /// The artifact digest it was checked against, the statement, and its bytes.
    pub(crate) fn into_parts(self) -> (Digest, Statement, Vec<u8>) {
        (self.subject, self.statement, self.bytes)
    }
}

/// Run the claim checks (module docs) on a signed DSSE payload about `subject`.
pub(crate) fn check_claims(
    payload_type: &str,
    payload: Vec<u8>,
    subject: &Digest,
    predicate_type: Option<&str>,
) -> Result<CheckedStatement, ClaimError> {
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(ClaimError::PayloadType {
            found: payload_type.chars().take(80).collect(),
        });
    }
    let statement = parse_statement(&payload).map_err(ClaimError::Statement)?;
    statement
        .require_subject_digest(subject)
        .map_err(ClaimError::Subject)?;
    if let Some(expected) = predicate_type
        && statement.predicate_type != expected
    {
        return Err(ClaimError::PredicateType {
            expected: expected.to_owned(),
            found: statement.predicate_type,
        });
    }
    Ok(CheckedStatement {
        subject: subject.clone(),
        statement,
        bytes: payload,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::format;

    #[test]
    fn claims_in_order() {
        let d = Digest::of(b"artifact");
        let st = format::statement("a", &d, "https://example.com/p", serde_json::json!({}));
        let ok = check_claims(
            IN_TOTO_PAYLOAD_TYPE,
            st.clone(),
            &d,
            Some("https://example.com/p"),
        )
        .unwrap();
        assert_eq!(ok.predicate_type(), "https://example.com/p");
        assert!(matches!(
            check_claims("text/plain", st.clone(), &d, None),
            Err(ClaimError::PayloadType { .. })
        ));
        assert!(matches!(
            check_claims(IN_TOTO_PAYLOAD_TYPE, b"{}".to_vec(), &d, None),
            Err(ClaimError::Statement(_))
        ));
        assert!(matches!(
            check_claims(
                IN_TOTO_PAYLOAD_TYPE,
                st.clone(),
                &Digest::of(b"other"),
                None
            ),
            Err(ClaimError::Subject(PayloadError::SubjectMismatch { .. }))
        ));
        // The subject is checked before the predicate type.
        assert!(matches!(
            check_claims(
                IN_TOTO_PAYLOAD_TYPE,
                st.clone(),
                &Digest::of(b"other"),
                Some("x")
            ),
            Err(ClaimError::Subject(_))
        ));
        assert!(matches!(
            check_claims(IN_TOTO_PAYLOAD_TYPE, st, &d, Some("https://example.com/q")),
            Err(ClaimError::PredicateType { .. })
        ));
    }
}
