//! `policy import`: a sigstore policy-controller `ClusterImagePolicy` (v1alpha1 / v1beta1)
//! converted to an imprint policy, with every input field that could not be converted listed
//! with why (Kyverno policies: `import_kyverno` and `import_ivpol`; [`import_policies`] takes
//! any mix of the three kinds). What cannot be converted fails closed: an authority imprint
//! cannot check (KMS keys, key secrets, other Fulcio instances) becomes `static: fail`, never
//! a pass.
//!
//! policy-controller's semantics and imprint's differ in one place that matters: an image
//! passes a `ClusterImagePolicy` when **any** of its authorities passes, and an authority
//! with `attestations` is satisfied by those attestations alone. imprint rules require the
//! signature expression **and** every attestation requirement, so a policy mixing authorities
//! with and without attestations is converted to the stricter reading, and the note says so.

use serde_json::Value;

use super::model::Policy;

/// A converted policy and what it could not convert.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Imported {
    /// The imprint policy (YAML), already checked to load.
    pub yaml: String,
    /// Every input field not converted (or converted with a change of meaning), with why.
    pub notes: Vec<ImportNote>,
}

/// One input field that was not converted as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ImportNote {
    /// Where in the input (`<policy name>.spec.authorities[0].key.kms`).
    pub field: String,
    /// What imprint did instead, and why.
    pub reason: String,
}

const PUBLIC_FULCIO: &str = "https://fulcio.sigstore.dev";

/// Convert every `ClusterImagePolicy` document in `yaml` (multi-document YAML, or a `List`)
/// into one imprint policy with one rule per input policy. Any other kind is refused (see
/// [`import_policies`] for Kyverno policies too).
pub fn import_cluster_image_policies(yaml: &str) -> Result<Imported, String> {
    import_documents(yaml, false)
}

/// Convert every policy document in `yaml` (multi-document YAML, or a `List`, any mix) into
/// one imprint policy: sigstore policy-controller `ClusterImagePolicy` (`policy.sigstore.dev`),
/// Kyverno `ClusterPolicy`/`Policy` `verifyImages` rules (`kyverno.io/v1`, `v2beta1`) and
/// Kyverno `ImageValidatingPolicy` (`policies.kyverno.io`). Dispatch is by apiVersion and kind.
pub fn import_policies(yaml: &str) -> Result<Imported, String> {
    import_documents(yaml, true)
}

/// What the converters of each input kind add to; assembled into one policy by `finish`.
#[derive(Default)]
pub(super) struct Converted {
    /// `(name, body)`: the body is a YAML flow mapping (JSON).
    pub(super) authorities: Authorities,
    /// Rule entries, each a block starting `    - name: …`.
    pub(super) rules: Vec<String>,
    pub(super) notes: Vec<ImportNote>,
    /// Which input kinds were seen, for the header and the `noMatch` note.
    sources: Vec<&'static str>,
}

impl Converted {
    /// `base`, or `base-2`, `base-3`, … if an authority of that name exists already.
    pub(super) fn authority_name(&self, base: &str) -> String {
        let taken = |n: &str| self.authorities.iter().any(|(a, _)| a == n);
        unique(base, taken)
    }

    /// `base`, or `base-2`, … if a rule of that name exists already.
    pub(super) fn rule_name(&self, base: &str) -> String {
        let taken = |n: &str| {
            let line = format!("    - name: {}\n", q(n));
            self.rules.iter().any(|r| r.starts_with(&line))
        };
        unique(base, taken)
    }

    pub(super) fn note(&mut self, field: String, reason: &str) {
        note(&mut self.notes, field, reason);
    }
}

fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_owned())
}

fn import_documents(yaml: &str, kyverno: bool) -> Result<Imported, String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| format!("not YAML: {e}"))?;
    let mut policies = Vec::new();
    for doc in docs {
        if doc.get("kind").and_then(Value::as_str) == Some("List") {
            policies.extend(
                doc.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            );
        } else if !doc.is_null() {
            policies.push(doc);
        }
    }
    let mut out = Converted::default();
    for (n, p) in policies.iter().enumerate() {
        let kind = p.get("kind").and_then(Value::as_str).unwrap_or_default();
        let api = p
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let source = match (api.split_once('/').map_or(api, |(g, _)| g), kind) {
            ("policy.sigstore.dev", "ClusterImagePolicy") => {
                "sigstore policy-controller ClusterImagePolicy"
            }
            ("kyverno.io", "ClusterPolicy" | "Policy") if kyverno => "Kyverno ClusterPolicy/Policy",
            (
                "policies.kyverno.io",
                "ImageValidatingPolicy" | "NamespacedImageValidatingPolicy",
            ) if kyverno => "Kyverno ImageValidatingPolicy",
            _ if kyverno => {
                // Kyverno's own test files keep Namespaces and ConfigMaps beside the policy.
                out.note(
                    format!("document {}", n + 1),
                    &format!(
                        "`{api}` `{kind}` is not a ClusterImagePolicy, a kyverno.io ClusterPolicy \
                         or Policy, or a policies.kyverno.io ImageValidatingPolicy: skipped"
                    ),
                );
                continue;
            }
            _ => {
                return Err(format!(
                    "document {}: expected a policy.sigstore.dev ClusterImagePolicy, got `{api}` `{kind}`",
                    n + 1
                ));
            }
        };
        let name = p
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("policy-{}", n + 1), str::to_owned);
        let spec = p.get("spec").cloned().unwrap_or(Value::Null);
        match kind {
            "ClusterImagePolicy" => {
                let (auths, rule) = convert_one(&name, &spec, &mut out.notes)?;
                out.authorities.extend(auths);
                out.rules.push(rule);
            }
            "ClusterPolicy" | "Policy" => {
                super::import_kyverno::convert(&name, kind, &spec, &mut out)?;
            }
            _ => super::import_ivpol::convert(&name, kind, &spec, &mut out)?,
        }
        if !out.sources.contains(&source) {
            out.sources.push(source);
        }
    }
    if out.rules.is_empty() {
        return Err(if kyverno {
            "no ClusterImagePolicy, Kyverno ClusterPolicy/Policy or ImageValidatingPolicy found"
                .into()
        } else {
            "no ClusterImagePolicy found".into()
        });
    }
    finish(out)
}

fn finish(c: Converted) -> Result<Imported, String> {
    let Converted {
        authorities,
        rules,
        mut notes,
        sources,
    } = c;
    if sources.iter().any(|s| s.starts_with("sigstore")) {
        notes.push(ImportNote {
            field: "(all)".into(),
            reason: "images no policy matches are denied (noMatch: deny, policy-controller's \
                     no-match-policy default); set noMatch to match your cluster's config"
                .into(),
        });
    }
    if sources.iter().any(|s| s.starts_with("Kyverno")) {
        notes.push(ImportNote {
            field: "(all)".into(),
            reason: "images no rule matches are denied (noMatch: deny); Kyverno admits images \
                     that no verifyImages rule or ImageValidatingPolicy matches: set \
                     `noMatch: allow` for Kyverno's behaviour"
                .into(),
        });
    }
    let mut out = format!(
        "# Imported by `imprint policy import` from {}.\n# Review the notes it printed before enforcing.\n\
         apiVersion: imprint.dev/v1\nkind: TrustPolicy\nmetadata:\n  name: imported\nspec:\n  \
         noMatch: deny\n",
        if sources.len() == 1 && sources[0].starts_with("sigstore") {
            "sigstore policy-controller\n# ClusterImagePolicy resources".to_owned()
        } else {
            sources.join(", ")
        }
    );
    if !authorities.is_empty() {
        out.push_str("  authorities:\n");
    }
    for (name, body) in &authorities {
        out.push_str(&format!("    {}: {body}\n", q(name)));
    }
    out.push_str("  rules:\n");
    for r in &rules {
        out.push_str(r);
    }
    Policy::from_str_with_base(&out, std::path::Path::new("."))
        .map_err(|e| format!("the converted policy does not load (a bug): {e}\n{out}"))?;
    Ok(Imported { yaml: out, notes })
}

/// A JSON string literal, which is also a YAML flow scalar.
pub(super) fn q(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn note(notes: &mut Vec<ImportNote>, field: String, reason: &str) {
    notes.push(ImportNote {
        field,
        reason: reason.to_owned(),
    });
}

pub(super) type Authorities = Vec<(String, String)>;

fn convert_one(
    policy: &str,
    spec: &Value,
    notes: &mut Vec<ImportNote>,
) -> Result<(Authorities, String), String> {
    let at = |f: &str| format!("{policy}.spec.{f}");
    for (field, why) in [
        (
            "policy",
            "CIP-level CUE/Rego policies are not converted: express the check as an attestation `condition` (CEL) or a built-in check",
        ),
        (
            "match",
            "resource selection (kinds, label selectors) is not converted: imprint decides images, whatever resource names them",
        ),
    ] {
        if spec.get(field).is_some() {
            note(notes, at(field), why);
        }
    }
    let globs: Vec<String> = spec
        .get("images")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| i.get("glob").and_then(Value::as_str))
                .map(q)
                .collect()
        })
        .unwrap_or_default();
    if globs.is_empty() {
        return Err(format!("{}: no image globs", at("images")));
    }
    let mode = match spec.get("mode").and_then(Value::as_str) {
        None | Some("enforce") => "enforce",
        Some("warn") => "warn",
        Some(other) => {
            note(notes, at("mode"), "unknown mode: converted as enforce");
            let _ = other;
            "enforce"
        }
    };
    let mut authorities = Vec::new();
    let mut signers = Vec::new();
    let mut attestations = Vec::new();
    let empty = Vec::new();
    let list = spec
        .get("authorities")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (i, a) in list.iter().enumerate() {
        let af = at(&format!("authorities[{i}]"));
        let base = a
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("authority-{i}"), str::to_owned);
        let base = format!("{policy}-{base}");
        let names = convert_authority(&base, a, &af, &mut authorities, notes);
        for (field, why) in [
            (
                "source",
                "signature sources (other repositories, pull secrets) are not converted: signatures are read beside the image",
            ),
            (
                "rfc3161timestamp",
                "a separate timestamp authority is not converted: keyless timestamps are verified from the trust root",
            ),
        ] {
            if a.get(field).is_some() {
                note(notes, format!("{af}.{field}"), why);
            }
        }
        if a.get("ctlog").is_some() && a.get("key").is_some() {
            note(
                notes,
                format!("{af}.ctlog"),
                "imprint does not require a transparency-log entry for key signatures \
                 (policy-controller does with ctlog); keyless signatures are always checked \
                 against the trust root's logs",
            );
        }
        let expr = if names.len() == 1 {
            format!("{{authority: {}}}", q(&names[0]))
        } else {
            let items: Vec<String> = names
                .iter()
                .map(|n| format!("{{authority: {}}}", q(n)))
                .collect();
            format!("{{anyOf: [{}]}}", items.join(", "))
        };
        match a.get("attestations").and_then(Value::as_array) {
            Some(atts) if !atts.is_empty() => {
                for (j, att) in atts.iter().enumerate() {
                    let ptype = att
                        .get("predicateType")
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("{af}.attestations[{j}]: no predicateType"))?;
                    if att.get("policy").is_some() {
                        note(
                            notes,
                            format!("{af}.attestations[{j}].policy"),
                            "CUE/Rego attestation policies are not converted: the attestation \
                             is required (type and signer) but its content is not checked; add \
                             a CEL `condition` or an `sbom`/`vulnerabilities` check",
                        );
                    }
                    let label = att.get("name").and_then(Value::as_str).unwrap_or(ptype);
                    attestations.push(format!(
                        "        - name: {}\n          predicateType: {}\n          signedBy: {expr}\n",
                        q(label),
                        q(ptype)
                    ));
                }
            }
            _ => signers.push(expr),
        }
    }
    if list.is_empty() {
        return Err(format!("{}: no authorities", at("authorities")));
    }
    if !signers.is_empty() && !attestations.is_empty() {
        note(
            notes,
            at("authorities"),
            "policy-controller passes an image when any authority passes; imprint requires the \
             signature authorities and every attestation: converted to the stricter reading",
        );
    }
    let attesting = list
        .iter()
        .filter(|a| {
            a.get("attestations")
                .and_then(Value::as_array)
                .is_some_and(|v| !v.is_empty())
        })
        .count();
    if attesting > 1 {
        note(
            notes,
            at("authorities"),
            "several authorities with attestations: policy-controller needs one of them, imprint \
             now requires the attestations of each",
        );
    }
    let mut rule = format!(
        "    - name: {}\n      images: [{}]\n      mode: {mode}\n",
        q(policy),
        globs.join(", ")
    );
    match signers.as_slice() {
        [] => {}
        [one] => rule.push_str(&format!("      signatures: {one}\n")),
        many => rule.push_str(&format!(
            "      signatures: {{anyOf: [{}]}}\n",
            many.join(", ")
        )),
    }
    if !attestations.is_empty() {
        rule.push_str("      attestations:\n");
        for a in attestations {
            rule.push_str(&a);
        }
    }
    Ok((authorities, rule))
}

/// Convert one authority into one or more imprint authorities (keyless: one per identity);
/// returns their names.
fn convert_authority(
    base: &str,
    a: &Value,
    af: &str,
    out: &mut Authorities,
    notes: &mut Vec<ImportNote>,
) -> Vec<String> {
    let fail = |out: &mut Authorities, notes: &mut Vec<ImportNote>, field: String, why: &str| {
        note(
            notes,
            field,
            &format!("{why}; converted to `static: fail` (fail closed)"),
        );
        out.push((base.to_owned(), "{static: fail}".to_owned()));
        vec![base.to_owned()]
    };
    if let Some(key) = a.get("key") {
        if let Some(pem) = key.get("data").and_then(Value::as_str) {
            if key.get("hashAlgorithm").is_some() {
                note(
                    notes,
                    format!("{af}.key.hashAlgorithm"),
                    "not converted: the hash follows the key type, as cosign's default",
                );
            }
            out.push((base.to_owned(), format!("{{key: {{pem: {}}}}}", q(pem))));
            return vec![base.to_owned()];
        }
        let (field, why) = if key.get("kms").is_some() {
            ("kms", "KMS keys are not supported")
        } else if key.get("secretRef").is_some() {
            (
                "secretRef",
                "Kubernetes secrets are not read: put the PEM in the policy or a file",
            )
        } else {
            ("", "a key without data")
        };
        return fail(out, notes, format!("{af}.key.{field}"), why);
    }
    if let Some(kl) = a.get("keyless") {
        let url = kl
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or(PUBLIC_FULCIO);
        if url.trim_end_matches('/') != PUBLIC_FULCIO {
            return fail(
                out,
                notes,
                format!("{af}.keyless.url"),
                "only the public-good Fulcio is converted (its trust root is embedded); declare \
                 a trust root file for another instance",
            );
        }
        for (field, why) in [
            ("ca-cert", "a custom CA is not converted"),
            (
                "trustRootRef",
                "TrustRoot resources are not converted: the public-good root is used",
            ),
            (
                "insecureIgnoreSCT",
                "not converted: SCTs are always checked",
            ),
        ] {
            if kl.get(field).is_some() {
                note(notes, format!("{af}.keyless.{field}"), why);
            }
        }
        let empty = Vec::new();
        let ids = kl
            .get("identities")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        if ids.is_empty() {
            return fail(
                out,
                notes,
                format!("{af}.keyless.identities"),
                "no identities",
            );
        }
        let mut names = Vec::new();
        for (k, id) in ids.iter().enumerate() {
            let name = if ids.len() == 1 {
                base.to_owned()
            } else {
                format!("{base}-{k}")
            };
            let mut fields = Vec::new();
            for key in ["issuer", "issuerRegExp", "subject", "subjectRegExp"] {
                if let Some(v) = id.get(key).and_then(Value::as_str) {
                    fields.push(format!("{key}: {}", q(v)));
                }
            }
            let has = |k: &str| id.get(k).is_some();
            if !(has("issuer") || has("issuerRegExp")) || !(has("subject") || has("subjectRegExp"))
            {
                let _ = fail(
                    out,
                    notes,
                    format!("{af}.keyless.identities[{k}]"),
                    "an identity needs an issuer and a subject (exact or regexp)",
                );
                names.push(base.to_owned());
                continue;
            }
            out.push((
                name.clone(),
                format!("{{keyless: {{{}}}}}", fields.join(", ")),
            ));
            names.push(name);
        }
        names.dedup();
        return names;
    }
    if let Some(action) = a.pointer("/static/action").and_then(Value::as_str) {
        let body = if action == "pass" { "pass" } else { "fail" };
        out.push((base.to_owned(), format!("{{static: {body}}}")));
        return vec![base.to_owned()];
    }
    fail(
        out,
        notes,
        af.to_owned(),
        "an authority with no key, keyless or static",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn key_keyless_static_and_what_is_not_converted() {
        let yaml = r#"
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: release}
spec:
  mode: warn
  images: [{glob: "ghcr.io/acme/**"}]
  authorities:
    - name: ci
      keyless:
        identities:
          - {issuer: https://token.actions.githubusercontent.com, subjectRegExp: "^https://github.com/acme/.*$"}
      ctlog: {url: https://rekor.sigstore.dev}
    - name: kms
      key: {kms: "awskms:///arn:aws:kms:x"}
    - name: mirror
      static: {action: pass}
---
apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: sbom}
spec:
  images: [{glob: "**"}]
  authorities:
    - name: k
      key:
        data: |
          -----BEGIN PUBLIC KEY-----
          MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOc6HkISHzVdUbtUsdjYtPuyPYBeg
          4FCemyVurIM4KEORQk4OAu8ZNwxvGSoY3eAabYaFIPPQ8ROAjrbdPwNdJw==
          -----END PUBLIC KEY-----
      attestations:
        - {name: must-have-spdx, predicateType: spdxjson, policy: {type: cue, data: "x"}}
"#;
        let imp = import_cluster_image_policies(yaml).unwrap();
        let p = Policy::from_str_with_base(&imp.yaml, std::path::Path::new(".")).unwrap();
        assert_eq!(p.rules().len(), 2);
        assert_eq!(p.rules()[0].mode, super::super::Mode::Warn);
        let sig = p.rules()[0].signatures.as_ref().unwrap().to_string();
        assert!(
            sig.contains("release-ci")
                && sig.contains("release-kms")
                && sig.contains("release-mirror"),
            "{sig}"
        );
        assert!(
            imp.yaml.contains(r#""release-kms": {static: fail}"#),
            "{}",
            imp.yaml
        );
        assert_eq!(p.rules()[1].attestations.len(), 1);
        let fields: Vec<&str> = imp.notes.iter().map(|n| n.field.as_str()).collect();
        assert!(
            fields.contains(&"release.spec.authorities[1].key.kms"),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"sbom.spec.authorities[0].attestations[0].policy"),
            "{fields:?}"
        );
        assert!(imp.notes.iter().any(|n| n.reason.contains("fail closed")));
    }

    #[test]
    fn refuses_what_is_not_a_cluster_image_policy() {
        let e = import_cluster_image_policies("apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert!(e.contains("ClusterImagePolicy"), "{e}");
        let e = import_cluster_image_policies(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: x}\nspec:\n  images: [{glob: '**'}]\n  authorities:\n    - keyless: {url: 'https://fulcio.example', identities: [{issuer: a, subject: b}]}\n",
        )
        .unwrap();
        assert!(e.yaml.contains("{static: fail}"));
        assert!(e.notes.iter().any(|n| n.field.ends_with("keyless.url")));
    }
}
