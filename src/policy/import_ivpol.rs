//! `policy import` of Kyverno `ImageValidatingPolicy` resources (`policies.kyverno.io`
//! `v1alpha1`, `v1beta1`, `v1`; `NamespacedImageValidatingPolicy` too): one imprint rule per
//! policy.
//!
//! An `ImageValidatingPolicy` declares `attestors` and `attestations` and then decides in CEL
//! `validations` (`verifyImageSignatures(image, [attestors.a]) > 0`,
//! `verifyAttestationSignatures(image, attestations.x, [attestors.a])`, `extractPayload(…)`).
//! The CEL is not converted. What it requires is read from the names it uses: each
//! `verifyImageSignatures` call requires its attestors (all of them when it lists several:
//! stricter than `> 0`), each attestation named anywhere is required, signed by the attestors
//! of its `verifyAttestationSignatures` call (or the rule's signers). A policy whose
//! validations name no attestor or attestation requires every declared one. Every
//! validation is noted as not converted.

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::import::Converted;
use super::import_kyverno::{
    Ctx, PUBLIC_REKOR, add_authority, all_of, both, first_unknown, github_claims, note_common,
    note_unknown, public_keys, rule_block, static_fail, str_at, translate_glob, unknown_fail,
};

/// Convert one `ImageValidatingPolicy` (its `spec`) into a rule added to `out`.
pub(super) fn convert(
    policy: &str,
    kind: &str,
    spec: &Value,
    out: &mut Converted,
) -> Result<(), String> {
    let at = |f: &str| format!("{policy}.spec.{f}");
    note_common(
        policy,
        (kind == "NamespacedImageValidatingPolicy").then_some(
            "a namespaced policy applies to its namespace only; the imprint rule applies to \
             every image it matches, wherever it runs",
        ),
        spec,
        SPEC_FIELDS,
        out,
    );
    let mode = mode(spec, &at("validationActions"), out);
    for (f, why) in [
        (
            "mutateDigest",
            "not converted: imprint does not rewrite references; it verifies the digest each \
             reference resolves to",
        ),
        (
            "verifyDigest",
            "not converted: imprint does not require references to be written by digest",
        ),
        (
            "required",
            "not converted: imprint verifies each image when asked, it does not rely on an \
             earlier verification recorded in an annotation",
        ),
    ] {
        if spec
            .pointer(&format!("/validationConfigurations/{f}"))
            .is_some()
        {
            out.note(at(&format!("validationConfigurations.{f}")), why);
        }
    }
    for (f, why) in [
        (
            "matchConstraints",
            "resource selection is not converted (namespace and object selectors cannot be): \
             imprint decides images, whatever resource or namespace names them",
        ),
        (
            "matchConditions",
            "CEL match conditions over the admission request are not converted: the rule \
             applies whatever they say (stricter)",
        ),
        (
            "variables",
            "CEL variables are not converted (the validations that use them are not either)",
        ),
        (
            "images",
            "custom image extractors are not converted: imprint checks the images it is given",
        ),
        (
            "credentials",
            "registry credentials are not converted: imprint uses its own credentials",
        ),
    ] {
        if spec.get(f).is_some() {
            out.note(at(f), why);
        }
    }

    let mut images = Vec::new();
    let empty = Vec::new();
    let refs = spec
        .get("matchImageReferences")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (i, r) in refs.iter().enumerate() {
        let rat = at(&format!("matchImageReferences[{i}]"));
        if let Some(g) = str_at(r, "glob") {
            images.extend(translate_glob(g, &format!("{rat}.glob"), out));
        } else if r.get("expression").is_some() {
            out.note(
                format!("{rat}.expression"),
                "a CEL image match is not converted: the rule applies to every image (`**`, \
                 stricter)",
            );
            images.push("**".into());
        }
    }
    if images.is_empty() {
        out.note(
            at("matchImageReferences"),
            "absent: the policy applies to every image (`**`)",
        );
        images.push("**".into());
    }
    images.dedup();

    let attestors = named(spec, "attestors");
    let declared_attestations = named(spec, "attestations");
    let uses = Uses::read(spec, &at("validations"), out)?;
    // Names the validations use that are not declared (Kyverno would not compile them).
    let undeclared_attestors: BTreeSet<String> = uses
        .attestors
        .iter()
        .chain(uses.signers.iter().flatten())
        .filter(|n| !attestors.iter().any(|(a, _)| a == *n))
        .cloned()
        .collect();
    let undeclared_attestations: BTreeSet<String> = uses
        .attestations
        .iter()
        .chain(uses.signed.iter().map(|(a, _)| a))
        .filter(|n| !declared_attestations.iter().any(|(a, _)| a == *n))
        .cloned()
        .collect();
    let infer = !uses.is_empty();
    if !infer && (!attestors.is_empty() || !declared_attestations.is_empty()) {
        out.note(
            at("validations"),
            "the validations name no attestor or attestation: every declared attestor and \
             attestation is required (stricter)",
        );
    }

    // Authorities for the attestors that are used, in declaration order.
    let mut exprs: Vec<(String, Value)> = Vec::new();
    for (i, (name, a)) in attestors.iter().enumerate() {
        let used = !infer
            || uses.signers.iter().any(|s| s.contains(name))
            || uses.attestors.contains(name);
        let aat = at(&format!("attestors[{i}]"));
        if !used {
            out.note(aat, "declared but no validation uses it: not converted");
            continue;
        }
        exprs.push((
            name.clone(),
            attestor(a, &aat, &format!("{policy}-{name}"), out),
        ));
    }
    for n in &undeclared_attestors {
        let e = static_fail(
            out,
            &format!("{policy}-undeclared-{n}"),
            at("validations"),
            &format!("the validations name `attestors.{n}`, which is not declared"),
        );
        exprs.push((n.clone(), e));
    }
    // Attestors named outside a verify call (another function): required too.
    let others: Vec<String> = uses
        .attestors
        .iter()
        .filter(|n| {
            !uses.signers.iter().flatten().any(|s| s == *n)
                && !uses.signed.iter().any(|(_, s)| s.contains(n))
        })
        .cloned()
        .collect();
    if !others.is_empty() {
        out.note(
            at("validations"),
            "attestors named outside verifyImageSignatures/verifyAttestationSignatures are \
             required to have signed the image (stricter)",
        );
    }
    let expr_of = |names: &[String], out: &mut Converted, field: &str| -> Option<Value> {
        let list: Vec<Value> = names
            .iter()
            .filter_map(|n| exprs.iter().find(|(e, _)| e == n).map(|(_, v)| v.clone()))
            .collect();
        if list.len() > 1 {
            out.note(
                field.to_owned(),
                "a call listing several attestors is converted as requiring all of them \
                 (stricter than `> 0`)",
            );
        }
        all_of(list)
    };

    let signatures = if infer {
        let mut list = Vec::new();
        for names in &uses.signers {
            list.extend(expr_of(names, out, &at("validations")));
        }
        for n in &others {
            list.extend(expr_of(std::slice::from_ref(n), out, &at("validations")));
        }
        for n in &undeclared_attestations {
            list.push(static_fail(
                out,
                &format!("{policy}-undeclared-attestation-{n}"),
                at("validations"),
                &format!("the validations name `attestations.{n}`, which is not declared"),
            ));
        }
        list.dedup();
        all_of(list)
    } else {
        all_of(exprs.iter().map(|(_, v)| v.clone()).collect())
    };

    let mut attestations = Vec::new();
    for (i, (name, a)) in declared_attestations.iter().enumerate() {
        let aat = at(&format!("attestations[{i}]"));
        note_unknown(a, &["name", "intoto", "referrer"], &format!("{aat}."), out);
        let required = !infer
            || uses.attestations.contains(name)
            || uses.signed.iter().any(|(n, _)| n == name);
        if !required {
            out.note(aat, "declared but no validation uses it: not converted");
            continue;
        }
        let mut req = Map::new();
        req.insert("name".into(), json!(name));
        let signers: Vec<String> = uses
            .signed
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, s)| s.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if let Some(t) = a.pointer("/intoto/type").and_then(Value::as_str) {
            req.insert("predicateType".into(), json!(t));
            let signed_by = if signers.is_empty() {
                if signatures.is_some() {
                    None
                } else {
                    all_of(exprs.iter().map(|(_, v)| v.clone()).collect())
                }
            } else {
                expr_of(&signers, out, &format!("{aat}.signers"))
            };
            match signed_by {
                Some(e) => {
                    req.insert("signedBy".into(), e);
                }
                None if signatures.is_none() => {
                    let e = static_fail(
                        out,
                        &format!("{policy}-{name}-no-attestor"),
                        aat.clone(),
                        "no attestor is declared to sign this attestation",
                    );
                    req.insert("signedBy".into(), e);
                }
                None => {}
            }
        } else {
            let t = a
                .pointer("/referrer/type")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{aat}: neither intoto.type nor referrer.type"))?;
            req.insert("predicateType".into(), json!(t));
            let e = static_fail(
                out,
                &format!("{policy}-{name}-referrer"),
                format!("{aat}.referrer"),
                "OCI referrer artifacts (verified with Notary) are not in-toto attestations \
                 imprint can verify",
            );
            req.insert("signedBy".into(), e);
        }
        attestations.push(Value::Object(req));
    }

    let signatures = if signatures.is_none() && attestations.is_empty() {
        Some(static_fail(
            out,
            &format!("{policy}-nothing-to-verify"),
            at("validations"),
            "no attestor or attestation to verify: the validations (CEL) are not converted",
        ))
    } else {
        signatures
    };
    let name = out.rule_name(policy);
    out.rules.push(rule_block(
        &name,
        &images,
        &[],
        mode,
        signatures.as_ref(),
        &attestations,
    ));
    Ok(())
}

/// `validationActions` (`Deny`, `Warn`, `Audit`) as one imprint mode.
fn mode(spec: &Value, at: &str, out: &mut Converted) -> &'static str {
    let actions: Vec<&str> = spec
        .get("validationActions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if actions.contains(&"Deny") {
        return "enforce";
    }
    if actions.iter().any(|a| *a == "Warn" || *a == "Audit") {
        out.note(
            at.to_owned(),
            "Warn/Audit without Deny (admit, warn or report) is converted as mode `warn`: \
             failures are reported as `warned`",
        );
        return "warn";
    }
    out.note(
        at.to_owned(),
        "no Deny, Warn or Audit: converted as mode `enforce`",
    );
    "enforce"
}

/// `(name, entry)` of a named list (`attestors`, `attestations`).
fn named(spec: &Value, key: &str) -> Vec<(String, Value)> {
    spec.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, v)| {
                    let n = str_at(v, "name").map_or_else(|| format!("{key}-{i}"), str::to_owned);
                    (n, v.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The attestors and attestations the CEL validations name. Names may contain `-`, which CEL
/// would read as a minus (Kyverno's documentation writes `attestations.cosign-attes`): the
/// name as the author meant it is taken.
#[derive(Default)]
struct Uses {
    /// One list per `verifyImageSignatures` call.
    signers: Vec<Vec<String>>,
    /// `(attestation, its attestors)` per `verifyAttestationSignatures` call.
    signed: Vec<(String, Vec<String>)>,
    /// Attestations named anywhere (e.g. `extractPayload`).
    attestations: BTreeSet<String>,
    /// Attestors named anywhere.
    attestors: BTreeSet<String>,
}

impl Uses {
    fn is_empty(&self) -> bool {
        self.signers.is_empty()
            && self.signed.is_empty()
            && self.attestations.is_empty()
            && self.attestors.is_empty()
    }

    fn read(spec: &Value, vat: &str, out: &mut Converted) -> Result<Self, String> {
        let attestor_re = Regex::new(
            r#"attestors\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[\s*["']([^"']+)["']\s*\])"#,
        )
        .map_err(|e| format!("internal regex: {e}"))?;
        let attestation_re = Regex::new(
            r#"attestations\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[\s*["']([^"']+)["']\s*\])"#,
        )
        .map_err(|e| format!("internal regex: {e}"))?;
        let names = |re: &Regex, text: &str| -> Vec<String> {
            re.captures_iter(text)
                .filter_map(|c| c.get(1).or_else(|| c.get(2)))
                .map(|m| m.as_str().to_owned())
                .collect()
        };
        let mut uses = Self::default();
        let empty = Vec::new();
        let list = spec
            .get("validations")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for (i, v) in list.iter().enumerate() {
            let Some(expr) = str_at(v, "expression") else {
                continue;
            };
            out.note(
                format!("{vat}[{i}].expression"),
                "CEL validations are not converted (Kyverno's image functions have no imprint \
                 equivalent); the attestors and attestations it names are required",
            );
            for args in calls(expr, "verifyImageSignatures") {
                uses.signers.push(names(&attestor_re, &args));
            }
            for args in calls(expr, "verifyAttestationSignatures") {
                let signers = names(&attestor_re, &args);
                for a in names(&attestation_re, &args) {
                    uses.signed.push((a, signers.clone()));
                }
            }
            uses.attestations.extend(names(&attestation_re, expr));
            uses.attestors.extend(names(&attestor_re, expr));
        }
        Ok(uses)
    }
}

/// The argument text of every call of `function` in `expr` (balanced parentheses).
fn calls(expr: &str, function: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find(function) {
        let after = &rest[i + function.len()..];
        let Some(open) = after.find('(').filter(|o| after[..*o].trim().is_empty()) else {
            rest = after;
            continue;
        };
        let mut depth = 0usize;
        let mut end = None;
        for (k, ch) in after[open..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = Some(open + k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let stop = end.unwrap_or(after.len());
        found.push(after[open + 1..stop].to_owned());
        rest = &after[stop..];
    }
    found
}

/// One attestor (`cosign` or `notary`) as an authority expression.
fn attestor(a: &Value, aat: &str, base: &str, out: &mut Converted) -> Value {
    if let Some(f) = first_unknown(a, &["name", "cosign", "notary"]) {
        return unknown_fail(out, base, format!("{aat}.{f}"));
    }
    if a.get("notary").is_some() {
        return static_fail(
            out,
            base,
            format!("{aat}.notary"),
            "Notary (Notation) signatures are not supported yet",
        );
    }
    let Some(c) = a.get("cosign") else {
        return static_fail(
            out,
            base,
            aat.to_owned(),
            "an attestor with no cosign or notary",
        );
    };
    let field = |f: &str| format!("{aat}.cosign.{f}");
    let unknown = first_unknown(c, COSIGN_FIELDS)
        .map(str::to_owned)
        .or_else(|| {
            let key = c.get("key")?;
            first_unknown(key, &["data", "expression", "hashAlgorithm", "kms"])
                .map(|f| format!("key.{f}"))
        })
        .or_else(|| {
            let kl = c.get("keyless")?;
            first_unknown(kl, &["additionalExtensions", "identities", "roots"])
                .map(|f| format!("keyless.{f}"))
        })
        .or_else(|| {
            let ids = c.pointer("/keyless/identities")?.as_array()?;
            ids.iter().enumerate().find_map(|(k, id)| {
                first_unknown(id, IDENTITY_FIELDS).map(|f| format!("keyless.identities[{k}].{f}"))
            })
        });
    if let Some(f) = unknown {
        return unknown_fail(out, base, field(&f));
    }
    if c.get("source").is_some() {
        out.note(
            field("source"),
            "signatures from another repository are not read: imprint looks beside the image, \
             so images signed elsewhere are denied",
        );
    }
    if c.get("annotations").is_some() {
        return static_fail(
            out,
            base,
            field("annotations"),
            "imprint does not check signature annotations",
        );
    }
    if c.get("certificate").is_some() {
        return static_fail(
            out,
            base,
            field("certificate"),
            "certificate attestors (a given signing certificate and chain) are not supported",
        );
    }
    if let Some(key) = c.get("key") {
        if key.get("hashAlgorithm").is_some() {
            out.note(
                field("key.hashAlgorithm"),
                "not converted: the hash follows the key type, as cosign's default",
            );
        }
        if c.pointer("/ctlog/insecureIgnoreTlog")
            .and_then(Value::as_bool)
            != Some(true)
        {
            out.note(
                field("ctlog"),
                "imprint does not require a transparency-log entry for key signatures (Kyverno \
                 does unless ctlog.insecureIgnoreTlog is true)",
            );
        }
        if let Some(pem) = str_at(key, "data") {
            let ctx = Ctx::new(base.to_owned());
            let mut keys = public_keys(pem, &field("key.data"), &ctx, out);
            return if keys.len() == 1 {
                keys.remove(0)
            } else {
                out.note(
                    field("key.data"),
                    "several PEM keys in one attestor: all of them are required (stricter)",
                );
                json!({"allOf": keys})
            };
        }
        let (f, why) = if key.get("kms").is_some() {
            ("key.kms", "KMS keys are not supported")
        } else if key.get("expression").is_some() {
            (
                "key.expression",
                "a key computed by a CEL expression cannot be read at import",
            )
        } else {
            ("key", "a key without data")
        };
        return static_fail(out, base, field(f), why);
    }
    let Some(kl) = c.get("keyless") else {
        return static_fail(
            out,
            base,
            format!("{aat}.cosign"),
            "a cosign attestor with no key, keyless or certificate",
        );
    };
    for (f, why) in [
        ("trustedRoot", "a custom trusted root is not converted"),
        ("tuf", "a custom TUF repository is not converted"),
    ] {
        if c.get(f).is_some() {
            return static_fail(
                out,
                base,
                field(f),
                &format!(
                    "{why} (the public-good trust root is embedded; declare a trust root file for another instance)"
                ),
            );
        }
    }
    if kl.get("roots").is_some() {
        return static_fail(
            out,
            base,
            field("keyless.roots"),
            "custom Fulcio roots are not converted",
        );
    }
    let rekor = c.pointer("/ctlog/url").and_then(Value::as_str);
    if rekor.is_some_and(|u| u.trim_end_matches('/') != PUBLIC_REKOR) {
        return static_fail(
            out,
            base,
            field("ctlog.url"),
            "only the public-good Rekor is converted (its keys are in the embedded trust root)",
        );
    }
    for k in ["rekorPubKey", "ctLogPubKey"] {
        if c.pointer(&format!("/ctlog/{k}")).is_some() {
            return static_fail(
                out,
                base,
                field(&format!("ctlog.{k}")),
                "custom transparency-log keys are not converted",
            );
        }
    }
    for (k, why) in [
        (
            "insecureIgnoreTlog",
            "not converted: keyless signatures are always checked against the trust root's \
             transparency log (stricter)",
        ),
        (
            "insecureIgnoreSCT",
            "not converted: certificate SCTs are always checked (stricter)",
        ),
        (
            "tsaCertChain",
            "a separate timestamp authority is not converted: timestamps are verified from the \
             trust root",
        ),
    ] {
        if c.pointer(&format!("/ctlog/{k}")).is_some() {
            out.note(field(&format!("ctlog.{k}")), why);
        }
    }
    let github = match kl.get("additionalExtensions").map(github_claims) {
        None => None,
        Some(Ok(g)) => Some(g),
        Some(Err(k)) => {
            return static_fail(
                out,
                base,
                field(&format!("keyless.additionalExtensions.{k}")),
                "only the GitHub workflow extensions (githubWorkflowTrigger, Sha, Name, \
                 Repository, Ref) with exact values are converted",
            );
        }
    };
    let empty = Vec::new();
    let ids = kl
        .get("identities")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if ids.is_empty() {
        return static_fail(out, base, field("keyless.identities"), "no identities");
    }
    let mut list = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let iat = field(&format!("keyless.identities[{k}]"));
        let name = if ids.len() == 1 {
            base.to_owned()
        } else {
            format!("{base}-{k}")
        };
        if id.get("subjectExpression").is_some() {
            list.push(static_fail(
                out,
                &name,
                format!("{iat}.subjectExpression"),
                "a subject computed by a CEL expression cannot be read at import",
            ));
            continue;
        }
        let mut body = Map::new();
        let mut unwritable = None;
        for (exact, regexp) in [("issuer", "issuerRegExp"), ("subject", "subjectRegExp")] {
            if let (Some(v), Some(re)) = (str_at(id, exact), str_at(id, regexp)) {
                // cosign checks both when both are given.
                match both(v, re) {
                    Some(v) => {
                        body.insert(exact.into(), json!(v));
                    }
                    None => unwritable = Some(regexp),
                }
            } else if let Some(v) = str_at(id, regexp) {
                body.insert(regexp.into(), json!(v));
            } else if let Some(v) = str_at(id, exact).filter(|v| !v.is_empty()) {
                if v.contains('*') {
                    out.note(
                        format!("{iat}.{exact}"),
                        "cosign compares it exactly: the `*` is a literal character, not a \
                         wildcard (converted as written)",
                    );
                }
                body.insert(exact.into(), json!(v));
            } else {
                out.note(
                    format!("{iat}.{exact}"),
                    &format!("absent: cosign accepts any {exact}, written out as `{regexp}: .*`"),
                );
                body.insert(regexp.into(), json!(".*"));
            }
        }
        if let Some(regexp) = unwritable {
            list.push(static_fail(
                out,
                &name,
                format!("{iat}.{regexp}"),
                "a value and a regexp that must both match cannot be written as one (the \
                 regexp does not match the value)",
            ));
            continue;
        }
        if let Some(g) = &github {
            body.insert("github".into(), g.clone());
        }
        list.push(add_authority(out, &name, json!({"keyless": body}), None));
    }
    if list.len() == 1 {
        list.remove(0)
    } else {
        json!({"anyOf": list})
    }
}

// Known fields, from Kyverno's CRD (policies.kyverno.io_imagevalidatingpolicies.yaml, v1).
const SPEC_FIELDS: &[&str] = &[
    "attestations",
    "attestors",
    "auditAnnotations",
    "autogen",
    "credentials",
    "evaluation",
    "failurePolicy",
    "images",
    "matchConditions",
    "matchConstraints",
    "matchImageReferences",
    "validationActions",
    "validationConfigurations",
    "validations",
    "variables",
    "webhookConfiguration",
];
const COSIGN_FIELDS: &[&str] = &[
    "annotations",
    "certificate",
    "ctlog",
    "key",
    "keyless",
    "source",
    "trustedRoot",
    "tuf",
];
const IDENTITY_FIELDS: &[&str] = &[
    "issuer",
    "issuerRegExp",
    "subject",
    "subjectExpression",
    "subjectRegExp",
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "import_ivpol_tests.rs"]
mod tests;
