//! The `admission.k8s.io/v1` AdmissionReview wire format: the request imprint reads and the
//! response it writes (Kubernetes `k8s.io/api/admission/v1` types; only the fields used).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only API version served.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The object kind of both directions.
pub const KIND: &str = "AdmissionReview";

/// Why a request body is refused (answered with HTTP 400 or 413; the API server then applies
/// the webhook's `failurePolicy`, `Fail` in `deploy/`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// Over [`Limits::max_admission_body_bytes`](crate::limits::Limits).
    #[error("the request body is over the limit of {limit} bytes (max_admission_body_bytes)")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Not JSON, or not an AdmissionReview of the expected shape.
    #[error("the request body is not an AdmissionReview: {message}")]
    Malformed {
        /// What is wrong (serde's message, with the JSON line and column).
        message: String,
    },
    /// Another API version or kind.
    #[error("the request body is `{api_version}` `{kind}`, expected `{API_VERSION}` `{KIND}`")]
    Version {
        /// `apiVersion` as sent.
        api_version: String,
        /// `kind` as sent.
        kind: String,
    },
    /// No `request` field.
    #[error("the AdmissionReview has no `request`")]
    NoRequest,
}

/// A group/version/kind (`request.kind`, `request.requestKind`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// `""` for the core group.
    #[serde(default)]
    pub group: String,
    /// `v1`.
    #[serde(default)]
    pub version: String,
    /// `Pod`.
    #[serde(default)]
    pub kind: String,
}

/// Who sent the request (`request.userInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user name.
    #[serde(default)]
    pub username: String,
}

/// `request` of an AdmissionReview.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Identifies this admission call; echoed in the response.
    pub uid: String,
    /// The object's kind (the target of a subresource: `Pod` for `pods/ephemeralcontainers`).
    #[serde(default)]
    pub kind: GroupVersionKind,
    /// The subresource (`ephemeralcontainers`, `scale`, `status`), or empty.
    #[serde(default)]
    pub sub_resource: String,
    /// The object's name (may be empty on CREATE with `generateName`).
    #[serde(default)]
    pub name: String,
    /// The namespace, empty for cluster-scoped objects.
    #[serde(default)]
    pub namespace: String,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    #[serde(default)]
    pub operation: String,
    /// Who asked.
    #[serde(default)]
    pub user_info: UserInfo,
    /// The object as it would be stored (`null` for DELETE).
    #[serde(default)]
    pub object: serde_json::Value,
    /// The existing object (UPDATE and DELETE).
    #[serde(default)]
    pub old_object: serde_json::Value,
    /// A dry run: nothing is persisted (`sideEffects: NoneOnDryRun`).
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<AdmissionRequest>,
}

/// Parse an AdmissionReview body (at most `limit` bytes; the server also stops reading
/// there).
pub fn parse_request(body: &[u8], limit: u64) -> Result<AdmissionRequest, ReviewError> {
    if body.len() as u64 > limit {
        return Err(ReviewError::TooLarge { limit });
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| ReviewError::Malformed {
        message: e.to_string(),
    })?;
    if envelope.api_version != API_VERSION || envelope.kind != KIND {
        return Err(ReviewError::Version {
            api_version: envelope.api_version,
            kind: envelope.kind,
        });
    }
    envelope.request.ok_or(ReviewError::NoRequest)
}

/// `response.status` (a `metav1.Status`): the message shown to the user on denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// HTTP-like code (403 for a denial).
    pub code: u16,
    /// `Forbidden`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// What `kubectl` prints.
    pub message: String,
}

/// `response` of an AdmissionReview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's uid.
    pub uid: String,
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Why (on denial, and on an allowed request that was not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// base64 of a JSONPatch (RFC 6902) document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// `JSONPatch` when `patch` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Shown to the client (`kubectl` prints `Warning: …`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Recorded in the cluster's audit log (keys prefixed with the webhook's name there).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
}

impl AdmissionResponse {
    /// An allowed answer with nothing else.
    pub fn allow(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: true,
            status: None,
            patch: None,
            patch_type: None,
            warnings: Vec::new(),
            audit_annotations: BTreeMap::new(),
        }
    }

    /// A denial (403 Forbidden) with `message`.
    pub fn deny(uid: &str, message: String) -> Self {
        Self {
            allowed: false,
            status: Some(Status {
                code: 403,
                reason: "Forbidden".to_owned(),
                message,
            }),
            ..Self::allow(uid)
        }
    }

    /// The whole AdmissionReview document around this response.
    pub fn to_review_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            api_version: &'static str,
            kind: &'static str,
            response: &'a AdmissionResponse,
        }
        // Serialising strings, bools and maps of strings cannot fail.
        serde_json::to_vec(&Out {
            api_version: API_VERSION,
            kind: KIND,
            response: self,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD_CREATE: &str = r#"{
      "apiVersion": "admission.k8s.io/v1",
      "kind": "AdmissionReview",
      "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web",
        "namespace": "shop",
        "operation": "CREATE",
        "userInfo": {"username": "admin", "uid": "014fbff9a07c", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                   "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}},
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
      }
    }"#;

    #[test]
    fn parses_the_documented_example() {
        let r = parse_request(POD_CREATE.as_bytes(), 1 << 20).unwrap();
        assert_eq!(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(r.kind.kind, "Pod");
        assert_eq!(r.operation, "CREATE");
        assert_eq!(r.user_info.username, "admin");
        assert!(!r.dry_run);
        assert!(r.old_object.is_null());
    }

    #[test]
    fn refuses_oversize_malformed_and_other_versions() {
        assert!(matches!(
            parse_request(POD_CREATE.as_bytes(), 100),
            Err(ReviewError::TooLarge { limit: 100 })
        ));
        assert!(matches!(
            parse_request(b"{not json", 1 << 20),
            Err(ReviewError::Malformed { .. })
        ));
        let v1beta1 = POD_CREATE.replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1");
        assert!(matches!(
            parse_request(v1beta1.as_bytes(), 1 << 20),
            Err(ReviewError::Version { api_version, .. }) if api_version == "admission.k8s.io/v1beta1"
        ));
        let no_request = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#;
        assert!(matches!(
            parse_request(no_request.as_bytes(), 1 << 20),
            Err(ReviewError::NoRequest)
        ));
        let no_uid = POD_CREATE.replace("\"uid\": \"705ab4f5-6393-11e8-b7cc-42010a800002\",", "");
        assert!(matches!(
            parse_request(no_uid.as_bytes(), 1 << 20),
            Err(ReviewError::Malformed { message }) if message.contains("uid")
        ));
    }

    #[test]
    fn response_shape() {
        let mut r = AdmissionResponse::deny("u1", "no".to_owned());
        r.warnings.push("w".to_owned());
        let v: serde_json::Value = serde_json::from_slice(&r.to_review_json()).unwrap();
        assert_eq!(v["apiVersion"], API_VERSION);
        assert_eq!(v["kind"], KIND);
        assert_eq!(v["response"]["uid"], "u1");
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(v["response"]["status"]["code"], 403);
        assert_eq!(v["response"]["status"]["message"], "no");
        assert_eq!(v["response"]["warnings"][0], "w");
        assert!(v["response"].get("patch").is_none());
        assert!(v["response"].get("auditAnnotations").is_none());
    }
}
