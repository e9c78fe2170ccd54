//! C2SP `signed-note` (Ed25519), `tlog-checkpoint` and `tlog-proof@v1` texts, and the key
//! files of Go's `golang.org/x/mod/sumdb/note` (so `note.NewSigner`/`note.NewVerifier` read
//! ours and we read theirs).
//!
//! * Verifier key: `<name>+<hash>+<base64(0x01 || public key)>`; private key:
//!   `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`. `<hash>` is 8 hex digits: the first
//!   4 bytes of SHA-256(`<name>` || `\n` || 0x01 || public key), the key hash.
//! * A signed note is its text (ending in a newline), an empty line, then one line per
//!   signature: `— <name> <base64(key hash || Ed25519 signature over the text)>`.
//! * A checkpoint's text is `<origin>\n<tree size>\n<base64 tree head>\n` (extension lines
//!   are refused: imprint writes none).
//! * A `c2sp.org/tlog-proof@v1` proof is that first line, an optional `extra <base64>` line,
//!   `index <n>`, the inclusion proof one base64 hash per line, an empty line, then the
//!   checkpoint verbatim.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::merkle::Hash;

const ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

/// A key or note text that is not in the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A key file's text is malformed.
    #[error("malformed note key: {0}")]
    Key(&'static str),
    /// The key hash in a key does not match its name and key.
    #[error(
        "the key hash `{stated}` of key `{name}` does not match its key (expected `{computed}`)"
    )]
    KeyHash {
        /// The key name.
        name: String,
        /// The hash written in the key.
        stated: String,
        /// The hash of its name and key.
        computed: String,
    },
    /// A signed note is malformed.
    #[error("malformed signed note: {0}")]
    Note(&'static str),
    /// A checkpoint's text is malformed.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
    /// A tlog proof is malformed.
    #[error("malformed tlog proof: {0}")]
    Proof(&'static str),
    /// The note carries no valid signature by the key.
    #[error("no valid signature by key `{name}` (key hash {hash})")]
    Unsigned {
        /// The key's name.
        name: String,
        /// Its key hash.
        hash: String,
    },
    /// Generating a key failed (the system's randomness).
    #[error("cannot generate an Ed25519 key")]
    Generate,
}

/// An Ed25519 note signer (the private key). Its `Debug` shows the name and key hash only.
pub struct NoteSigner {
    name: String,
    hash: [u8; 4],
    seed: zeroize::Zeroizing<[u8; 32]>,
    pair: aws_lc_rs::signature::Ed25519KeyPair,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("hash", &hex::encode(self.hash))
            .finish_non_exhaustive()
    }
}

/// An Ed25519 note verifier (the public key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    hash: [u8; 4],
    public: [u8; 32],
}

impl NoteSigner {
    /// A new random key named `name` (a log's origin, e.g. `imprint.example/decisions`).
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(seed.as_mut()).map_err(|_| NoteError::Generate)?;
        Self::from_seed(name, seed)
    }

    fn from_seed(name: &str, seed: zeroize::Zeroizing<[u8; 32]>) -> Result<Self, NoteError> {
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(seed.as_ref())
            .map_err(|_| NoteError::Key("not an Ed25519 seed"))?;
        let public = public_of(&pair)?;
        Ok(Self {
            name: name.to_owned(),
            hash: key_hash(name, &public),
            seed,
            pair,
        })
    }

    /// Parse Go's private key text `PRIVATE+KEY+<name>+<hash>+<base64>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let text = text.trim_end_matches(['\n', '\r']);
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::Key("a private key starts with `PRIVATE+KEY+`"))?;
        let (name, stated, key) = split_key(rest)?;
        let raw = zeroize::Zeroizing::new(
            B64.decode(key)
                .map_err(|_| NoteError::Key("the key is not base64"))?,
        );
        if raw.len() != 33 || raw[0] != ED25519 {
            return Err(NoteError::Key("not an Ed25519 key (0x01 and 32 bytes)"));
        }
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&raw[1..]);
        let signer = Self::from_seed(name, seed)?;
        check_hash(name, stated, signer.hash)?;
        Ok(signer)
    }

    /// Go's private key text (a secret: write it with mode 0600).
    pub fn to_private_text(&self) -> zeroize::Zeroizing<String> {
        let mut raw = zeroize::Zeroizing::new(Vec::with_capacity(33));
        raw.push(ED25519);
        raw.extend_from_slice(self.seed.as_ref());
        zeroize::Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.hash),
            B64.encode(&raw[..])
        ))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        let mut public = [0u8; 32];
        if let Ok(p) = public_of(&self.pair) {
            public = p;
        }
        NoteVerifier {
            name: self.name.clone(),
            hash: self.hash,
            public,
        }
    }

    /// Sign `text` (which must end in a newline): the signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::Note("the text does not end in a newline"));
        }
        let signature = self.pair.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.hash);
        blob.extend_from_slice(signature.as_ref());
        Ok(format!(
            "{text}\n{DASH}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }
}

impl NoteVerifier {
    /// Parse Go's verifier key text `<name>+<hash>+<base64>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let text = text.trim_end_matches(['\n', '\r']);
        let (name, stated, key) = split_key(text)?;
        let raw = B64
            .decode(key)
            .map_err(|_| NoteError::Key("the key is not base64"))?;
        if raw.len() != 33 || raw[0] != ED25519 {
            return Err(NoteError::Key("not an Ed25519 key (0x01 and 32 bytes)"));
        }
        let mut public = [0u8; 32];
        public.copy_from_slice(&raw[1..]);
        let hash = key_hash(name, &public);
        check_hash(name, stated, hash)?;
        Ok(Self {
            name: name.to_owned(),
            hash,
            public,
        })
    }

    /// Go's verifier key text.
    pub fn to_text(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ED25519);
        raw.extend_from_slice(&self.public);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.hash),
            B64.encode(raw)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Open a signed note: check that a signature line by this key (same name and key hash)
    /// verifies over the text, and return the text. Lines by other keys are ignored, as Go
    /// does; a line by this key that does not verify fails the note.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (text, signatures) = split_note(note)?;
        let mut verified = false;
        for line in signatures.lines() {
            let rest = line
                .strip_prefix(DASH)
                .ok_or(NoteError::Note("a signature line does not start with `— `"))?;
            let (name, blob) = rest
                .split_once(' ')
                .ok_or(NoteError::Note("a signature line has no signature"))?;
            let blob = B64
                .decode(blob)
                .map_err(|_| NoteError::Note("a signature is not base64"))?;
            if name != self.name || blob.len() < 4 || blob[..4] != self.hash {
                continue;
            }
            let key = aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ED25519,
                &self.public,
            );
            if key.verify(text.as_bytes(), &blob[4..]).is_err() {
                return Err(self.unsigned());
            }
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(self.unsigned())
        }
    }

    fn unsigned(&self) -> NoteError {
        NoteError::Unsigned {
            name: self.name.clone(),
            hash: hex::encode(self.hash),
        }
    }
}

/// The text of a checkpoint (a signed tree head), before or after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// How many records the tree holds.
    pub size: u64,
    /// The tree head.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 head>\n`.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parse a checkpoint's note text (without signatures).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::Checkpoint("the text does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::Checkpoint("no origin line"))?;
        let size = lines
            .next()
            .ok_or(NoteError::Checkpoint("no tree size line"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(NoteError::Checkpoint(
                "the tree size is not a decimal number without leading zeroes",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| NoteError::Checkpoint("the tree size is out of range"))?;
        let root = lines
            .next()
            .ok_or(NoteError::Checkpoint("no tree head line"))?;
        let root = decode_hash(root).ok_or(NoteError::Checkpoint(
            "the tree head is not a base64 SHA-256 hash",
        ))?;
        if lines.next().is_some() {
            return Err(NoteError::Checkpoint(
                "extension lines are not accepted in imprint's checkpoints",
            ));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// A parsed `c2sp.org/tlog-proof@v1` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The extra data (imprint puts the record's exact line bytes there).
    pub extra: Option<Vec<u8>>,
    /// The record's index.
    pub index: u64,
    /// The inclusion proof.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint, verbatim.
    pub checkpoint: String,
}

/// First line of a tlog proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

impl TlogProof {
    /// The proof text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parse a proof text.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .strip_prefix(TLOG_PROOF_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(NoteError::Proof(
                "the first line is not `c2sp.org/tlog-proof@v1`",
            ))?;
        let (head, checkpoint) = rest
            .split_once("\n\n")
            .ok_or(NoteError::Proof("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n').peekable();
        let mut extra = None;
        if let Some(e) = lines.peek().and_then(|l| l.strip_prefix("extra ")) {
            extra = Some(
                B64.decode(e)
                    .map_err(|_| NoteError::Proof("the extra data is not base64"))?,
            );
            lines.next();
        }
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or(NoteError::Proof("no `index N` line"))?;
        if index.is_empty()
            || !index.bytes().all(|b| b.is_ascii_digit())
            || (index.len() > 1 && index.starts_with('0'))
        {
            return Err(NoteError::Proof(
                "the index is not a decimal number without leading zeroes",
            ));
        }
        let index = index
            .parse()
            .map_err(|_| NoteError::Proof("the index is out of range"))?;
        let hashes = lines
            .map(|l| decode_hash(l).ok_or(NoteError::Proof("a proof line is not a base64 hash")))
            .collect::<Result<Vec<_>, _>>()?;
        if hashes.len() > 64 {
            return Err(NoteError::Proof("more than 64 proof hashes"));
        }
        Ok(Self {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// Split a signed note into its text (with its final newline) and its signature lines.
fn split_note(note: &str) -> Result<(&str, &str), NoteError> {
    let at = note
        .rfind("\n\n")
        .ok_or(NoteError::Note("no empty line before the signatures"))?;
    let (text, signatures) = (&note[..=at], &note[at + 2..]);
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(NoteError::Note("no signature lines, or no final newline"));
    }
    Ok((text, signatures))
}

fn decode_hash(s: &str) -> Option<Hash> {
    let raw = B64.decode(s).ok()?;
    <[u8; 32]>::try_from(raw.as_slice()).ok()
}

fn split_key(text: &str) -> Result<(&str, &str, &str), NoteError> {
    let (name, rest) = text
        .split_once('+')
        .ok_or(NoteError::Key("expected `<name>+<hash>+<key>`"))?;
    let (hash, key) = rest
        .split_once('+')
        .ok_or(NoteError::Key("expected `<name>+<hash>+<key>`"))?;
    check_name(name)?;
    if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::Key("the key hash is not 8 hex digits"));
    }
    Ok((name, hash, key))
}

/// Key names: non-empty, no spaces, no `+`, no control characters (as Go requires).
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
    {
        return Err(NoteError::Key(
            "a key name must be non-empty, without spaces, `+` or control characters",
        ));
    }
    Ok(())
}

fn check_hash(name: &str, stated: &str, computed: [u8; 4]) -> Result<(), NoteError> {
    if stated.eq_ignore_ascii_case(&hex::encode(computed)) {
        Ok(())
    } else {
        Err(NoteError::KeyHash {
            name: name.to_owned(),
            stated: stated.to_owned(),
            computed: hex::encode(computed),
        })
    }
}

fn key_hash(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[ED25519]);
    ctx.update(public);
    let d = ctx.finish();
    let mut h = [0u8; 4];
    h.copy_from_slice(&d.as_ref()[..4]);
    h
}

fn public_of(pair: &aws_lc_rs::signature::Ed25519KeyPair) -> Result<[u8; 32], NoteError> {
    use aws_lc_rs::signature::KeyPair as _;
    <[u8; 32]>::try_from(pair.public_key().as_ref())
        .map_err(|_| NoteError::Key("not an Ed25519 public key"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    // The example of golang.org/x/mod/sumdb/note's package documentation (and note_test.go).
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_note_vector_signs_and_verifies_byte_for_byte() {
        let signer = NoteSigner::parse(GO_SKEY).unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(signer.verifier().to_text(), GO_VKEY);
        assert_eq!(signer.to_private_text().as_str(), GO_SKEY);
        let note = signer.sign(GO_TEXT).unwrap();
        assert_eq!(note, format!("{GO_TEXT}\n{GO_SIG}"));
        let verifier = NoteVerifier::parse(GO_VKEY).unwrap();
        assert_eq!(verifier.open(&note).unwrap(), GO_TEXT);
        // A changed text, a changed signature, another key: refused.
        let edited = note.replacen("cryptography", "cryptographY", 1);
        assert!(matches!(
            verifier.open(&edited),
            Err(NoteError::Unsigned { .. })
        ));
        let other = NoteSigner::generate("PeterNeumann").unwrap().verifier();
        assert!(matches!(other.open(&note), Err(NoteError::Unsigned { .. })));
        assert!(verifier.open(GO_TEXT).is_err());
    }

    #[test]
    fn keys_with_a_wrong_hash_or_shape_are_refused() {
        assert!(matches!(
            NoteVerifier::parse(
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::KeyHash { .. })
        ));
        assert!(matches!(
            NoteVerifier::parse(
                "PeterNeumann+c74f20a3+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::Key(_))
        ));
        assert!(NoteSigner::parse(GO_VKEY).is_err());
        assert!(NoteVerifier::parse("Peter Neumann+c74f20a3+AA==").is_err());
    }

    #[test]
    fn generated_keys_round_trip() {
        let signer = NoteSigner::generate("imprint.example/log").unwrap();
        let again = NoteSigner::parse(&signer.to_private_text()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let v = NoteVerifier::parse(&signer.verifier().to_text()).unwrap();
        assert_eq!(v, signer.verifier());
        assert!(!format!("{signer:?}").contains(&B64.encode(&signer.seed[..])));
    }

    #[test]
    fn checkpoint_text_round_trip() {
        let c = Checkpoint {
            origin: "imprint.example/log".into(),
            size: 12,
            root: super::super::merkle::empty_root(),
        };
        let text = c.to_text();
        assert_eq!(
            text,
            "imprint.example/log\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
        assert_eq!(Checkpoint::parse(&text).unwrap(), c);
        for bad in [
            "imprint.example/log\n012\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
            "imprint.example/log\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu==\n",
            "imprint.example/log\n12\n",
            "\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
            "imprint.example/log\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "imprint.example/log\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
        let signer = NoteSigner::generate("imprint.example/log").unwrap();
        let note = signer.sign(&text).unwrap();
        assert_eq!(signer.verifier().open(&note).unwrap(), text);
    }

    #[test]
    fn tlog_proof_text_round_trip() {
        let p = TlogProof {
            extra: Some(b"{\"index\":3}".to_vec()),
            index: 3,
            hashes: vec![[1u8; 32], [2u8; 32]],
            checkpoint: "o\n4\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} o AAAA\n"
                .into(),
        };
        let text = p.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
        assert_eq!(TlogProof::parse(&text).unwrap(), p);
        let none = TlogProof {
            extra: None,
            hashes: Vec::new(),
            ..p
        };
        assert_eq!(TlogProof::parse(&none.to_text()).unwrap(), none);
        assert!(TlogProof::parse(&text.replace("index 3", "index 03")).is_err());
        assert!(TlogProof::parse(&text.replace("tlog-proof@v1", "tlog-proof@v2")).is_err());
    }
}
