//! `policy import` of Kyverno `ClusterPolicy` / `Policy` resources (`kyverno.io/v1`,
//! `kyverno.io/v2beta1`): their `verifyImages` rules become imprint rules, one per
//! `verifyImages` entry. Every field not converted as written is noted with why; what imprint
//! cannot check (KMS keys, secrets, certificates, custom roots or logs, Notary, signature
//! annotations, keys from variables) becomes a `static: fail` authority, never a pass.
//!
//! Semantics kept: every attestor set of an entry must pass (`allOf`); inside a set, `count`
//! entries must (default all; 1 is `anyOf`, between is a `threshold`); a `publicKeys` value
//! with several PEM keys counts as that many entries, as Kyverno expands it; `Enforce` is
//! `enforce` and `Audit` (Kyverno's default) is `warn`. Kyverno's `*` in image references and
//! keyless identities also matches `/`; image patterns are widened as far as imprint's globs
//! can (`*` segments become `**`, a trailing `*` also gets a `/**` variant) and identities with
//! wildcards become anchored regular expressions.
//!
//! The helpers marked `pub(super)` are shared with the `ImageValidatingPolicy` import.

use serde_json::{Map, Value, json};

use super::import::{Converted, q};

pub(super) const PUBLIC_REKOR: &str = "https://rekor.sigstore.dev";

/// The notes both Kyverno kinds share: a namespaced policy's scope (`namespaced`, the note
/// for it), fields outside the CRD's `spec` (`fields`, the known ones), and
/// `failurePolicy: Ignore`.
pub(super) fn note_common(
    policy: &str,
    namespaced: Option<&str>,
    spec: &Value,
    fields: &[&str],
    out: &mut Converted,
) {
    if let Some(why) = namespaced {
        out.note(format!("{policy}.metadata.namespace"), why);
    }
    note_unknown(spec, fields, &format!("{policy}.spec."), out);
    if str_at(spec, "failurePolicy") == Some("Ignore") {
        out.note(
            format!("{policy}.spec.failurePolicy"),
            "Ignore (admit when Kyverno cannot verify) is not converted: imprint fails closed \
             when it cannot check",
        );
    }
}

/// Convert one `ClusterPolicy`/`Policy` (its `spec`) into rules added to `out`.
pub(super) fn convert(
    policy: &str,
    kind: &str,
    spec: &Value,
    out: &mut Converted,
) -> Result<(), String> {
    let at = |f: &str| format!("{policy}.spec.{f}");
    note_common(
        policy,
        (kind == "Policy").then_some(
            "a namespaced Policy applies to its namespace only; the imprint rules apply to \
             every image they match, wherever it runs",
        ),
        spec,
        SPEC_FIELDS,
        out,
    );
    if str_at(spec, "applyRules") == Some("One") {
        out.note(
            at("applyRules"),
            "One (only the first matching rule applies) is not converted: every matching rule \
             applies (stricter)",
        );
    }
    let default_mode = str_at(spec, "validationFailureAction")
        .map(|action| mode_of(action, &at("validationFailureAction"), out));
    if spec.get("validationFailureActionOverrides").is_some() {
        out.note(
            at("validationFailureActionOverrides"),
            "per-namespace actions are not converted: every image gets the policy's action",
        );
    }
    let empty = Vec::new();
    let rules = spec
        .get("rules")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut converted = 0;
    for (i, r) in rules.iter().enumerate() {
        let rat = at(&format!("rules[{i}]"));
        let rule_name = str_at(r, "name").map_or_else(|| format!("rule-{i}"), str::to_owned);
        let Some(verify) = r.get("verifyImages").and_then(Value::as_array) else {
            out.note(
                rat,
                "not a verifyImages rule (validate, mutate or generate): not converted",
            );
            continue;
        };
        note_unknown(r, RULE_FIELDS, &format!("{rat}."), out);
        rule_level_notes(r, &rat, out);
        for (j, v) in verify.iter().enumerate() {
            let base = if verify.len() == 1 {
                format!("{policy}-{rule_name}")
            } else {
                format!("{policy}-{rule_name}-{j}")
            };
            convert_verify(
                &base,
                v,
                &format!("{rat}.verifyImages[{j}]"),
                default_mode,
                out,
            )?;
            converted += 1;
        }
    }
    if converted == 0 {
        return Err(format!("{}: no verifyImages rule", at("rules")));
    }
    Ok(())
}

/// Notes for the fields of a Kyverno rule that select resources or add data.
fn rule_level_notes(r: &Value, rat: &str, out: &mut Converted) {
    if let Some(m) = r.get("match") {
        let selects_namespaces = ["namespaces", "namespaceSelector", "selector"]
            .iter()
            .any(|k| contains_key(m, k));
        out.note(
            format!("{rat}.match"),
            if selects_namespaces {
                "resource selection is not converted, and namespace and label selectors cannot \
                 be: imprint decides images, whatever resource or namespace names them"
            } else {
                "resource selection (kinds, names, operations) is not converted: imprint decides \
                 images, whatever resource names them"
            },
        );
    }
    for (field, why) in [
        (
            "exclude",
            "resource exclusions are not converted: the excluded resources' images are checked \
             too (stricter)",
        ),
        (
            "preconditions",
            "JMESPath preconditions are not converted: the rule applies whatever they say \
             (stricter)",
        ),
        (
            "celPreconditions",
            "CEL preconditions over the admission request are not converted: the rule applies \
             whatever they say (stricter)",
        ),
        (
            "context",
            "context variables (ConfigMaps, API calls) are not read: fields that use them are \
             converted to `static: fail`",
        ),
        (
            "imageExtractors",
            "custom image extractors are not converted: imprint checks the images it is given",
        ),
    ] {
        if r.get(field).is_some() {
            out.note(format!("{rat}.{field}"), why);
        }
    }
}

fn convert_verify(
    base: &str,
    v: &Value,
    vat: &str,
    default_mode: Option<&'static str>,
    out: &mut Converted,
) -> Result<(), String> {
    let field = |f: &str| format!("{vat}.{f}");
    note_unknown(v, VERIFY_FIELDS, &field(""), out);
    let mut references: Vec<String> = strings(v, "imageReferences");
    if let Some(image) = str_at(v, "image") {
        references.push(image.to_owned());
    }
    if references.is_empty() {
        return Err(format!("{}: no image references", field("imageReferences")));
    }
    let mut images = Vec::new();
    for r in &references {
        images.extend(translate_glob(r, &field("imageReferences"), out));
    }
    let mut exclude = Vec::new();
    for r in strings(v, "skipImageReferences") {
        exclude.extend(translate_glob(&r, &field("skipImageReferences"), out));
    }
    let mode = match (str_at(v, "failureAction"), default_mode) {
        (Some(a), _) => mode_of(a, &field("failureAction"), out),
        (None, Some(m)) => m,
        (None, None) => {
            out.note(
                field("failureAction"),
                "absent, and no validationFailureAction: Kyverno's default is Audit, converted \
                 as mode `warn`",
            );
            "warn"
        }
    };
    let ty = str_at(v, "type").unwrap_or("Cosign");
    let format = match ty {
        "Cosign" => None,
        "SigstoreBundle" => Some("bundle"),
        "Notary" => {
            out.note(
                field("type"),
                "Notary (Notation) signatures are not supported yet: its attestors are \
                 converted to `static: fail` (fail closed)",
            );
            Some("notary")
        }
        _ => {
            out.note(
                field("type"),
                "unknown signature type: its attestors are converted to `static: fail` (fail \
                 closed)",
            );
            Some("notary")
        }
    };
    let ctx = Ctx {
        base: base.to_owned(),
        format,
    };
    for (f, why) in [
        (
            "mutateDigest",
            "not converted: imprint does not rewrite references; it verifies the digest each \
             reference resolves to",
        ),
        (
            "verifyDigest",
            "not converted: imprint does not require references to be written by digest; it \
             verifies the digest each reference resolves to",
        ),
        (
            "required",
            "not converted: imprint verifies each image when asked, it does not rely on an \
             earlier verification recorded in an annotation",
        ),
        (
            "useCache",
            "not converted: imprint caches nothing between verifications",
        ),
        (
            "imageRegistryCredentials",
            "registry credentials are not converted: imprint uses its own credentials",
        ),
        (
            "cosignOCI11",
            "not converted: imprint reads both cosign's tag layout and OCI 1.1 referrers",
        ),
        (
            "repository",
            "signatures from another repository are not read: imprint looks beside the image, \
             so images signed elsewhere are denied",
        ),
        (
            "validate",
            "the JMESPath `validate` block is not converted: its checks are not made",
        ),
    ] {
        if v.get(f).is_some() {
            out.note(field(f), why);
        }
    }

    let mut required = Vec::new();
    if let Some(key) = str_at(v, "key") {
        required.extend(public_keys(key, &field("key"), &ctx, out));
    }
    if v.get("subject").is_some() || v.get("issuer").is_some() {
        required.push(keyless(v, &field("subject"), &ctx, out));
    }
    if v.get("roots").is_some() && v.get("subject").is_none() && v.get("issuer").is_none() {
        required.push(static_fail(
            out,
            &format!("{base}-roots"),
            field("roots"),
            "custom Fulcio roots are not converted",
        ));
    }
    if let Some(sets) = v.get("attestors").and_then(Value::as_array) {
        for (k, set) in sets.iter().enumerate() {
            required.push(attestor_set(
                set,
                &field(&format!("attestors[{k}]")),
                &ctx.child(&format!("a{k}")),
                out,
            )?);
        }
    }
    let signatures = all_of(required);

    let mut attestations = Vec::new();
    let empty = Vec::new();
    let list = v
        .get("attestations")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (k, a) in list.iter().enumerate() {
        let aat = field(&format!("attestations[{k}]"));
        note_unknown(a, ATTESTATION_FIELDS, &format!("{aat}."), out);
        let ptype = str_at(a, "type")
            .or_else(|| str_at(a, "predicateType"))
            .ok_or_else(|| format!("{aat}: no type (predicateType)"))?;
        let mut req = Map::new();
        req.insert(
            "name".into(),
            json!(str_at(a, "name").unwrap_or(ptype).to_owned()),
        );
        req.insert("predicateType".into(), json!(ptype));
        let signed_by = match a.get("attestors").and_then(Value::as_array) {
            Some(sets) if !sets.is_empty() => {
                let mut exprs = Vec::new();
                for (m, set) in sets.iter().enumerate() {
                    exprs.push(attestor_set(
                        set,
                        &format!("{aat}.attestors[{m}]"),
                        &ctx.child(&format!("att{k}-a{m}")),
                        out,
                    )?);
                }
                all_of(exprs)
            }
            _ if signatures.is_some() => {
                out.note(
                    format!("{aat}.attestors"),
                    "absent: Kyverno then reads the attestation without verifying its \
                     signature; imprint requires it signed by the entry's attestors (stricter)",
                );
                None
            }
            _ => {
                let name = format!("{base}-att{k}-no-attestors");
                Some(static_fail(
                    out,
                    &name,
                    format!("{aat}.attestors"),
                    "absent here and on the entry: Kyverno then reads the attestation without \
                     verifying its signature, and imprint accepts only verified attestations",
                ))
            }
        };
        if let Some(e) = signed_by {
            req.insert("signedBy".into(), e);
        }
        if let Some(conds) = a.get("conditions") {
            match conditions_to_cel(conds) {
                Some(cel) => {
                    out.note(
                        format!("{aat}.conditions"),
                        &format!(
                            "converted to the CEL condition `{cel}` (Kyverno evaluates the \
                             conditions against the predicate)"
                        ),
                    );
                    req.insert("condition".into(), json!(cel));
                }
                None => out.note(
                    format!("{aat}.conditions"),
                    "JMESPath conditions beyond `{{ path }}` compared with a literal by \
                     Equals/NotEquals/GreaterThan/LessThan (and …OrEquals) are not converted: the \
                     attestation is required (type and signer) but its content is not checked; \
                     add a CEL `condition` or an `sbom`/`vulnerabilities` check",
                ),
            }
        }
        attestations.push(Value::Object(req));
    }
    let signatures = if signatures.is_none() && attestations.is_empty() {
        Some(static_fail(
            out,
            &format!("{base}-nothing-to-verify"),
            vat.to_owned(),
            "an entry with no attestors and no attestations (a digest-only check) has nothing \
             imprint can verify",
        ))
    } else {
        signatures
    };
    let name = out.rule_name(base);
    out.rules.push(rule_block(
        &name,
        &images,
        &exclude,
        mode,
        signatures.as_ref(),
        &attestations,
    ));
    Ok(())
}

/// Naming and the signature format for the authorities made from one entry.
pub(super) struct Ctx {
    pub(super) base: String,
    /// `bundle` (Kyverno `SigstoreBundle`), `notary` (not supported: every attestor fails),
    /// or `None` for any format.
    pub(super) format: Option<&'static str>,
}

impl Ctx {
    /// Authorities named from `base`, of any signature format.
    pub(super) fn new(base: String) -> Self {
        Self { base, format: None }
    }

    fn child(&self, suffix: &str) -> Self {
        Self {
            base: format!("{}-{suffix}", self.base),
            format: self.format,
        }
    }
}

/// One attestor set: `count` of its entries (default all) must verify.
fn attestor_set(set: &Value, sat: &str, ctx: &Ctx, out: &mut Converted) -> Result<Value, String> {
    let empty = Vec::new();
    let entries = set
        .get("entries")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if ctx.format == Some("notary") {
        return Ok(static_fail(
            out,
            &ctx.base,
            format!("{sat}.entries"),
            "Notary (Notation) attestors are not supported yet",
        ));
    }
    if entries.is_empty() {
        return Ok(static_fail(
            out,
            &ctx.base,
            format!("{sat}.entries"),
            "an attestor set with no entries",
        ));
    }
    let mut members = Vec::new();
    for (e, entry) in entries.iter().enumerate() {
        members.extend(entry_exprs(
            entry,
            &format!("{sat}.entries[{e}]"),
            &ctx.child(&format!("e{e}")),
            out,
        )?);
    }
    let count = match set.get("count") {
        None => members.len(),
        Some(c) => {
            let n = c
                .as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("{sat}.count: must be a number from 1, got {c}"))?;
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > members.len() {
                return Err(format!(
                    "{sat}.count: {n} is more than the set's {} entries",
                    members.len()
                ));
            }
            n
        }
    };
    Ok(threshold(count, members, sat, out))
}

/// `count` of `members` must pass.
fn threshold(count: usize, mut members: Vec<Value>, sat: &str, out: &mut Converted) -> Value {
    if members.len() == 1 {
        return members.remove(0);
    }
    if count == members.len() {
        return json!({"allOf": members});
    }
    if count == 1 {
        return json!({"anyOf": members});
    }
    let names: Option<Vec<Value>> = members
        .iter()
        .map(|m| m.get("authority").cloned())
        .collect();
    match names {
        Some(names) => json!({"threshold": {"count": count, "of": names}}),
        None => {
            out.note(
                format!("{sat}.count"),
                "a count over nested attestor sets is not converted: all of them are required \
                 (stricter)",
            );
            json!({"allOf": members})
        }
    }
}

/// The authority expressions of one attestor entry (several for a multi-key `publicKeys`).
fn entry_exprs(
    entry: &Value,
    eat: &str,
    ctx: &Ctx,
    out: &mut Converted,
) -> Result<Vec<Value>, String> {
    let field = |f: &str| format!("{eat}.{f}");
    if let Some(f) = first_unknown(entry, ENTRY_FIELDS) {
        return Ok(vec![unknown_fail(out, &ctx.base, field(f))]);
    }
    if entry.get("repository").is_some() {
        out.note(
            field("repository"),
            "signatures from another repository are not read: imprint looks beside the image, \
             so images signed elsewhere are denied",
        );
    }
    if str_at(entry, "signatureAlgorithm").is_some_and(|a| a != "sha256") {
        out.note(
            field("signatureAlgorithm"),
            "not converted: the hash follows the key type, as cosign's default",
        );
    }
    if entry.get("annotations").is_some() {
        return Ok(vec![static_fail(
            out,
            &ctx.base,
            field("annotations"),
            "imprint does not check signature annotations",
        )]);
    }
    if let Some(keys) = entry.get("keys") {
        return Ok(key_entry(keys, &field("keys"), ctx, out));
    }
    if let Some(kl) = entry.get("keyless") {
        return Ok(vec![keyless(kl, &field("keyless"), ctx, out)]);
    }
    if entry.get("certificates").is_some() {
        return Ok(vec![static_fail(
            out,
            &ctx.base,
            field("certificates"),
            "certificate attestors (a given signing certificate and chain) are not supported",
        )]);
    }
    if let Some(nested) = entry.get("attestor") {
        if nested.get("entries").is_some() {
            return Ok(vec![attestor_set(nested, &field("attestor"), ctx, out)?]);
        }
        return Ok(vec![static_fail(
            out,
            &ctx.base,
            field("attestor"),
            "a nested attestor that is not an inline attestor set (a variable) cannot be read",
        )]);
    }
    Ok(vec![static_fail(
        out,
        &ctx.base,
        eat.to_owned(),
        "an attestor entry with no keys, keyless, certificates or attestor",
    )])
}

fn key_entry(keys: &Value, kat: &str, ctx: &Ctx, out: &mut Converted) -> Vec<Value> {
    let field = |f: &str| format!("{kat}.{f}");
    if let Some(f) = first_unknown(keys, KEYS_FIELDS) {
        return vec![unknown_fail(out, &ctx.base, field(f))];
    }
    if str_at(keys, "signatureAlgorithm").is_some_and(|a| a != "sha256") {
        out.note(
            field("signatureAlgorithm"),
            "not converted: the hash follows the key type, as cosign's default",
        );
    }
    let ignore_tlog = keys
        .pointer("/rekor/ignoreTlog")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !ignore_tlog {
        out.note(
            field("rekor"),
            "imprint does not require a transparency-log entry for key signatures (Kyverno \
             does unless rekor.ignoreTlog is true)",
        );
    }
    if keys.get("ctlog").is_some() {
        out.note(
            field("ctlog"),
            "not converted: key signatures have no certificate to carry SCTs",
        );
    }
    if keys.get("kms").is_some() {
        return vec![static_fail(
            out,
            &ctx.base,
            field("kms"),
            "KMS keys are not supported",
        )];
    }
    if keys.get("secret").is_some() {
        return vec![static_fail(
            out,
            &ctx.base,
            field("secret"),
            "Kubernetes secrets are not read: put the PEM in the policy or a file",
        )];
    }
    match str_at(keys, "publicKeys") {
        Some(pem) => public_keys(pem, &field("publicKeys"), ctx, out),
        None => vec![static_fail(
            out,
            &ctx.base,
            kat.to_owned(),
            "a keys entry with no publicKeys, kms or secret",
        )],
    }
}

/// One key authority per PEM public key in `text` (Kyverno counts each as an entry).
pub(super) fn public_keys(text: &str, at: &str, ctx: &Ctx, out: &mut Converted) -> Vec<Value> {
    if text.contains("{{") {
        return vec![static_fail(
            out,
            &ctx.base,
            at.to_owned(),
            "a key from a variable (ConfigMap, context) cannot be read at import",
        )];
    }
    if text.trim_start().starts_with("k8s://") {
        return vec![static_fail(
            out,
            &ctx.base,
            at.to_owned(),
            "Kubernetes secrets are not read: put the PEM in the policy or a file",
        )];
    }
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let mut pems = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(end) = rest[start..].find(END) else {
            break;
        };
        let block = &rest[start..start + end + END.len()];
        let normalised: String = block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        pems.push(normalised);
        rest = &rest[start + end + END.len()..];
    }
    if pems.is_empty() {
        return vec![static_fail(
            out,
            &ctx.base,
            at.to_owned(),
            "not a PEM public key (`-----BEGIN PUBLIC KEY-----`)",
        )];
    }
    let many = pems.len() > 1;
    pems.into_iter()
        .enumerate()
        .map(|(i, pem)| {
            let base = if many {
                format!("{}-k{i}", ctx.base)
            } else {
                ctx.base.clone()
            };
            add_authority(out, &base, json!({"key": {"pem": pem}}), ctx.format)
        })
        .collect()
}

/// A Kyverno keyless attestor (`subject`/`subjectRegExp`, `issuer`/`issuerRegExp`, `roots`,
/// `rekor`, `ctlog`, `additionalExtensions`).
fn keyless(kl: &Value, kat: &str, ctx: &Ctx, out: &mut Converted) -> Value {
    let field = |f: &str| format!("{kat}.{f}");
    if let Some(f) = first_unknown(kl, KEYLESS_FIELDS) {
        return unknown_fail(out, &ctx.base, field(f));
    }
    if kl.get("subject").is_some() && kl.get("subjectRegExp").is_some() {
        out.note(
            kat.to_owned(),
            "both subject and subjectRegExp (Kyverno accepts either): the regexp is used \
             (stricter)",
        );
    }
    if kl.get("roots").is_some() {
        return static_fail(
            out,
            &ctx.base,
            field("roots"),
            "custom Fulcio roots are not converted (only the public-good trust root is \
             embedded; declare a trust root file for another instance)",
        );
    }
    let rekor_url = kl.pointer("/rekor/url").and_then(Value::as_str);
    if rekor_url.is_some_and(|u| u.trim_end_matches('/') != PUBLIC_REKOR) {
        return static_fail(
            out,
            &ctx.base,
            field("rekor.url"),
            "only the public-good Rekor is converted (its keys are in the embedded trust root)",
        );
    }
    for p in ["/rekor/pubkey", "/ctlog/pubkey"] {
        if kl.pointer(p).is_some() {
            return static_fail(
                out,
                &ctx.base,
                format!("{kat}{}", p.replace('/', ".")),
                "custom transparency-log keys are not converted (the public-good trust root's \
                 keys are used)",
            );
        }
    }
    if kl.pointer("/rekor/ignoreTlog").and_then(Value::as_bool) == Some(true) {
        out.note(
            field("rekor.ignoreTlog"),
            "not converted: keyless signatures are always checked against the trust root's \
             transparency log (stricter)",
        );
    }
    if kl.pointer("/ctlog/ignoreSCT").and_then(Value::as_bool) == Some(true) {
        out.note(
            field("ctlog.ignoreSCT"),
            "not converted: certificate SCTs are always checked (stricter)",
        );
    }
    if kl.pointer("/ctlog/tsaCertChain").is_some() {
        out.note(
            field("ctlog.tsaCertChain"),
            "a separate timestamp authority is not converted: timestamps are verified from the \
             trust root",
        );
    }
    let mut body = Map::new();
    // Kyverno checks the issuer against both when both are given.
    if let (Some(exact), Some(re)) = (str_at(kl, "issuer"), str_at(kl, "issuerRegExp")) {
        match both(exact, re) {
            Some(v) => {
                body.insert("issuer".into(), json!(v));
            }
            None => {
                return static_fail(
                    out,
                    &ctx.base,
                    field("issuerRegExp"),
                    "an issuer and an issuerRegExp that must both match cannot be written as \
                     one (a wildcard issuer, or one the regexp does not match)",
                );
            }
        }
    } else {
        identity(kl, "issuer", "issuerRegExp", kat, &mut body, out);
    }
    identity(kl, "subject", "subjectRegExp", kat, &mut body, out);
    if let Some(ext) = kl.get("additionalExtensions") {
        match github_claims(ext) {
            Ok(claims) => {
                body.insert("github".into(), claims);
            }
            Err(key) => {
                return static_fail(
                    out,
                    &ctx.base,
                    field(&format!("additionalExtensions.{key}")),
                    "only the GitHub workflow extensions (githubWorkflowTrigger, Sha, Name, \
                     Repository, Ref) with exact values are converted",
                );
            }
        }
    }
    add_authority(out, &ctx.base, json!({"keyless": body}), ctx.format)
}

/// `issuer`/`subject` (Kyverno wildcards become an anchored regexp) or their `…RegExp`; when
/// neither is given Kyverno accepts any value, which is written out as `.*`.
fn identity(
    kl: &Value,
    exact: &str,
    regexp: &str,
    kat: &str,
    body: &mut Map<String, Value>,
    out: &mut Converted,
) {
    if let Some(re) = str_at(kl, regexp) {
        body.insert(regexp.into(), json!(re));
    } else if let Some(v) = str_at(kl, exact).filter(|v| !v.is_empty()) {
        if v.contains(['*', '?']) {
            let re = wildcard_regexp(v);
            out.note(
                format!("{kat}.{exact}"),
                &format!("a wildcard {exact}: converted to `{regexp}: {re}`"),
            );
            body.insert(regexp.into(), json!(re));
        } else {
            body.insert(exact.into(), json!(v));
        }
    } else {
        out.note(
            format!("{kat}.{exact}"),
            &format!("absent: Kyverno accepts any {exact}, written out as `{regexp}: .*`"),
        );
        body.insert(regexp.into(), json!(".*"));
    }
}

/// An exact value and a regexp that must both match, as one exact value: the value when it
/// has no wildcard and the regexp matches it; `None` when that cannot be written.
pub(super) fn both(exact: &str, re: &str) -> Option<String> {
    let re = regex::Regex::new(re).ok()?;
    (!exact.contains(['*', '?']) && re.is_match(exact)).then(|| exact.to_owned())
}

/// Kyverno/Fulcio GitHub extension names (or their OIDs) to imprint's `github` claims;
/// `Err(name)` for the first extension that has no equivalent or whose value has a wildcard
/// (Kyverno matches extension values with wildcards; imprint's claims are exact).
pub(super) fn github_claims(ext: &Value) -> Result<Value, String> {
    let mut claims = Map::new();
    let Some(map) = ext.as_object() else {
        return Err(String::new());
    };
    for (k, v) in map {
        let claim = match k.as_str() {
            "githubWorkflowTrigger" | "1.3.6.1.4.1.57264.1.2" => "trigger",
            "githubWorkflowSha" | "1.3.6.1.4.1.57264.1.3" => "sha",
            "githubWorkflowName" | "1.3.6.1.4.1.57264.1.4" => "name",
            "githubWorkflowRepository" | "1.3.6.1.4.1.57264.1.5" => "repository",
            "githubWorkflowRef" | "1.3.6.1.4.1.57264.1.6" => "ref",
            _ => return Err(k.clone()),
        };
        let Some(v) = v.as_str().filter(|v| !v.contains(['*', '?'])) else {
            return Err(k.clone());
        };
        claims.insert(claim.into(), json!(v));
    }
    Ok(Value::Object(claims))
}

/// Kyverno `Enforce`/`Audit` (either case) as an imprint mode.
fn mode_of(action: &str, at: &str, out: &mut Converted) -> &'static str {
    match action.to_ascii_lowercase().as_str() {
        "enforce" => "enforce",
        "audit" => {
            out.note(
                at.to_owned(),
                "Audit (admit and report) is converted as mode `warn`: failures are reported as \
                 `warned`",
            );
            "warn"
        }
        _ => {
            out.note(at.to_owned(), "unknown action: converted as `enforce`");
            "enforce"
        }
    }
}

/// Kyverno conditions (`[{all: […], any: […]}]`, all blocks must hold) as one CEL expression
/// over `predicate`, when every condition is a `{{ dotted.path }}` compared with a literal.
fn conditions_to_cel(conds: &Value) -> Option<String> {
    let blocks = conds.as_array()?;
    let mut parts = Vec::new();
    for b in blocks {
        let obj = b.as_object()?;
        if obj.keys().any(|k| k != "all" && k != "any") {
            return None;
        }
        for (key, joiner) in [("all", " && "), ("any", " || ")] {
            if let Some(list) = b.get(key) {
                let list = list.as_array()?;
                let cel: Option<Vec<String>> = list.iter().map(condition_to_cel).collect();
                let cel = cel?;
                if cel.is_empty() {
                    continue;
                }
                parts.push(format!("({})", cel.join(joiner)));
            }
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join(" && "))
}

fn condition_to_cel(c: &Value) -> Option<String> {
    let key = str_at(c, "key")?.trim();
    let path = key.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let valid = !path.is_empty()
        && path.split('.').all(|seg| {
            let mut chars = seg.chars();
            chars
                .next()
                .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
                && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        });
    if !valid {
        return None;
    }
    let mut access = String::from("predicate");
    for seg in path.split('.') {
        access.push_str(&format!("[{}]", q(seg)));
    }
    let op = match str_at(c, "operator")? {
        "Equals" => "==",
        "NotEquals" => "!=",
        "GreaterThan" => ">",
        "GreaterThanOrEquals" => ">=",
        "LessThan" => "<",
        "LessThanOrEquals" => "<=",
        _ => return None,
    };
    let ordering = !matches!(op, "==" | "!=");
    match c.get("value")? {
        Value::Bool(b) if !ordering => Some(format!("{access} {op} {b}")),
        Value::String(s) if !ordering && !s.contains(['*', '?']) => {
            Some(format!("{access} {op} {}", q(s)))
        }
        Value::Number(n) => {
            let f = n.as_f64()?;
            Some(format!("double({access}) {op} {f:?}"))
        }
        _ => None,
    }
}

// Known fields, from Kyverno's CRDs (kyverno.io_clusterpolicies.yaml). A field outside these
// is noted; outside an attestor's, it fails closed (it may have constrained the signer).
const SPEC_FIELDS: &[&str] = &[
    "admission",
    "applyRules",
    "background",
    "emitWarning",
    "failurePolicy",
    "generateExisting",
    "generateExistingOnPolicyUpdate",
    "mutateExistingOnPolicyUpdate",
    "rules",
    "schemaValidation",
    "useServerSideApply",
    "validationFailureAction",
    "validationFailureActionOverrides",
    "webhookConfiguration",
    "webhookTimeoutSeconds",
];
const RULE_FIELDS: &[&str] = &[
    "celPreconditions",
    "context",
    "exclude",
    "generate",
    "imageExtractors",
    "match",
    "mutate",
    "name",
    "preconditions",
    "reportProperties",
    "skipBackgroundRequests",
    "validate",
    "verifyImages",
];
const VERIFY_FIELDS: &[&str] = &[
    "additionalExtensions",
    "annotations",
    "attestations",
    "attestors",
    "cosignOCI11",
    "failureAction",
    "image",
    "imageReferences",
    "imageRegistryCredentials",
    "issuer",
    "key",
    "mutateDigest",
    "repository",
    "required",
    "roots",
    "skipImageReferences",
    "subject",
    "type",
    "useCache",
    "validate",
    "verifyDigest",
];
const ATTESTATION_FIELDS: &[&str] = &["attestors", "conditions", "name", "predicateType", "type"];
const ENTRY_FIELDS: &[&str] = &[
    "annotations",
    "attestor",
    "certificates",
    "keyless",
    "keys",
    "repository",
    "signatureAlgorithm",
];
const KEYS_FIELDS: &[&str] = &[
    "ctlog",
    "kms",
    "publicKeys",
    "rekor",
    "secret",
    "signatureAlgorithm",
];
const KEYLESS_FIELDS: &[&str] = &[
    "additionalExtensions",
    "ctlog",
    "issuer",
    "issuerRegExp",
    "rekor",
    "roots",
    "subject",
    "subjectRegExp",
];

// ---- helpers shared with the ImageValidatingPolicy import ----

/// The first key of `v` (an object) that is not in `known`.
pub(super) fn first_unknown<'a>(v: &'a Value, known: &[&str]) -> Option<&'a str> {
    v.as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| !known.contains(k))
}

/// A note for every key of `v` not in `known`; `prefix` ends in `.`.
pub(super) fn note_unknown(v: &Value, known: &[&str], prefix: &str, out: &mut Converted) {
    let Some(map) = v.as_object() else {
        return;
    };
    for k in map.keys().filter(|k| !known.contains(&k.as_str())) {
        out.note(
            format!("{prefix}{k}"),
            "a field this import does not know: not converted",
        );
    }
}

/// A `static: fail` authority for an unknown field of an attestor.
pub(super) fn unknown_fail(out: &mut Converted, base: &str, field: String) -> Value {
    static_fail(
        out,
        base,
        field,
        "a field of an attestor this import does not know (it may constrain the signer)",
    )
}

/// A string field.
pub(super) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A list of strings (other entries skipped).
pub(super) fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn contains_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| k == key || contains_key(v, key)),
        Value::Array(a) => a.iter().any(|v| contains_key(v, key)),
        _ => false,
    }
}

/// Kyverno wildcards (`*` any characters, `/` included; `?` one character) as an anchored
/// regular expression.
pub(super) fn wildcard_regexp(s: &str) -> String {
    let mut re = String::from("^");
    let mut literal = String::new();
    for ch in s.chars() {
        if ch == '*' || ch == '?' {
            re.push_str(&regex::escape(&literal));
            literal.clear();
            re.push_str(if ch == '*' { ".*" } else { "." });
        } else {
            literal.push(ch);
        }
    }
    re.push_str(&regex::escape(&literal));
    re.push('$');
    re
}

/// A Kyverno image pattern (wildcards `*`, `?`; `*` also crosses `/`) as imprint globs: a `*`
/// segment becomes `**`; a pattern ending in `*` inside its last path segment (not in a tag
/// or digest) also gets a `/**` variant for what lies below; a `*` inside an earlier segment
/// stays within it, noted.
pub(super) fn translate_glob(pattern: &str, at: &str, out: &mut Converted) -> Vec<String> {
    if pattern == "*" || pattern == "**" {
        return vec!["**".into()];
    }
    let segments: Vec<String> = pattern
        .split('/')
        .map(|s| if s == "*" { "**".into() } else { s.to_owned() })
        .collect();
    let last = segments.len() - 1;
    let inner_star = segments[..last]
        .iter()
        .any(|s| s != "**" && s.contains('*'));
    if inner_star {
        out.note(
            at.to_owned(),
            &format!(
                "`{pattern}`: Kyverno's `*` also matches `/`, imprint's does not inside a path \
                 segment: deeper images fall to noMatch (deny)"
            ),
        );
    }
    let glob = segments.join("/");
    let mut globs = vec![glob.clone()];
    let tail = &segments[last];
    // A tag or digest has no `/`; an OCI layout path is matched as written.
    if tail != "**"
        && tail.ends_with('*')
        && !tail.contains([':', '@'])
        && !pattern.starts_with("oci:")
    {
        globs.push(format!("{glob}/**"));
    }
    globs
}

/// Add an authority (unique name) and return its expression.
pub(super) fn add_authority(
    out: &mut Converted,
    base: &str,
    mut body: Value,
    format: Option<&'static str>,
) -> Value {
    if let (Some(f), Some(map)) = (format.filter(|f| *f != "notary"), body.as_object_mut()) {
        map.insert("signatureFormat".into(), json!(f));
    }
    let name = out.authority_name(base);
    out.authorities.push((name.clone(), body.to_string()));
    json!({"authority": name})
}

/// A `static: fail` authority for `field`, with the note saying why.
pub(super) fn static_fail(out: &mut Converted, base: &str, field: String, why: &str) -> Value {
    out.note(
        field,
        &format!("{why}; converted to `static: fail` (fail closed)"),
    );
    let name = out.authority_name(base);
    out.authorities
        .push((name.clone(), json!({"static": "fail"}).to_string()));
    json!({"authority": name})
}

/// Every expression must pass (`None` for none).
pub(super) fn all_of(mut exprs: Vec<Value>) -> Option<Value> {
    match exprs.len() {
        0 => None,
        1 => Some(exprs.remove(0)),
        _ => Some(json!({"allOf": exprs})),
    }
}

/// One imprint rule entry (the block under `rules:`).
pub(super) fn rule_block(
    name: &str,
    images: &[String],
    exclude: &[String],
    mode: &str,
    signatures: Option<&Value>,
    attestations: &[Value],
) -> String {
    let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
    let mut r = format!(
        "    - name: {}\n      images: [{}]\n",
        q(name),
        list(images)
    );
    if !exclude.is_empty() {
        r.push_str(&format!("      exclude: [{}]\n", list(exclude)));
    }
    r.push_str(&format!("      mode: {mode}\n"));
    if let Some(s) = signatures {
        r.push_str(&format!("      signatures: {s}\n"));
    }
    if !attestations.is_empty() {
        r.push_str("      attestations:\n");
        for a in attestations {
            r.push_str(&format!("        - {a}\n"));
        }
    }
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "import_kyverno_tests.rs"]
pub(super) mod tests;
