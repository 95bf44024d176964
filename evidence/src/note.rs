//! Keys and signed checkpoints in the C2SP forms: a checkpoint (`c2sp.org/tlog-checkpoint`:
//! origin, tree size, head hash) signed as a note (`c2sp.org/signed-note`) with Ed25519.
//!
//! Key texts are those of Go's `golang.org/x/mod/sumdb/note`: a verifier key is
//! `name+hash+base64(0x01 || public key)`, a signer key `PRIVATE+KEY+name+hash+base64(0x01 ||
//! seed)`, where `hash` is the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`
//! in hex. A signature line is `— name base64(hash || signature)`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};

/// The algorithm byte of Ed25519 keys in signed notes.
const ED25519: u8 = 0x01;
/// What starts a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a key or note was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NoteError {
    /// The key text is not in the expected form.
    #[error("not a {0} key: {1}")]
    BadKey(&'static str, String),
    /// The note is malformed.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// No signature by a trusted key.
    #[error("no signature by a trusted key (signed by: {0})")]
    Unsigned(String),
    /// A trusted key's signature does not verify.
    #[error("the signature of `{0}` does not verify")]
    BadSignature(String),
}

/// A private key that signs checkpoints.
pub struct SigningKey {
    name: String,
    hash: u32,
    key: ed25519_dalek::SigningKey,
}

/// A public key that verifies checkpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifierKey {
    name: String,
    hash: u32,
    key: ed25519_dalek::VerifyingKey,
}

fn key_hash(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// Splits `name+hash+base64` and checks the name, the algorithm byte and the length.
fn parse_parts(kind: &'static str, text: &str) -> Result<(String, u32, [u8; 32]), NoteError> {
    let bad = |why: &str| NoteError::BadKey(kind, why.to_string());
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(hash), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+hash+key"));
    };
    if !valid_name(name) {
        return Err(bad("the name is empty or has a `+` or a space"));
    }
    let hash = u32::from_str_radix(hash, 16)
        .ok()
        .filter(|_| hash.len() == 8)
        .ok_or_else(|| bad("the key hash is not 8 hex digits"))?;
    let bytes = B64.decode(data).map_err(|_| bad("the key is not base64"))?;
    let Some((&alg, key)) = bytes.split_first() else {
        return Err(bad("the key is empty"));
    };
    if alg != ED25519 {
        return Err(bad("not an Ed25519 key (algorithm byte 0x01)"));
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| bad("an Ed25519 key has 32 bytes"))?;
    Ok((name.to_string(), hash, key))
}

impl SigningKey {
    /// The key with this name and 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey(
                "signer",
                "the name is empty or has a `+` or a space".into(),
            ));
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let hash = key_hash(name, key.verifying_key().as_bytes());
        Ok(SigningKey {
            name: name.to_string(),
            hash,
            key,
        })
    }

    /// Reads a `PRIVATE+KEY+name+hash+base64` text; the hash must match the key.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(|| {
            NoteError::BadKey("signer", "expected PRIVATE+KEY+name+hash+key".into())
        })?;
        let (name, hash, seed) = parse_parts("signer", rest)?;
        let key = SigningKey::from_seed(&name, seed)?;
        if key.hash != hash {
            return Err(NoteError::BadKey(
                "signer",
                "the key hash does not match the key".into(),
            ));
        }
        Ok(key)
    }

    /// The `PRIVATE+KEY+...` text.
    pub fn encode(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.hash,
            B64.encode(bytes)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching public key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }

    /// The signature line of `text`.
    fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut bytes = self.hash.to_be_bytes().to_vec();
        bytes.extend_from_slice(&sig.to_bytes());
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(bytes))
    }
}

impl VerifierKey {
    /// Reads a `name+hash+base64` text; the hash must match the key.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, hash, public) = parse_parts("verifier", text)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadKey("verifier", "not a valid Ed25519 point".into()))?;
        if key_hash(&name, &public) != hash {
            return Err(NoteError::BadKey(
                "verifier",
                "the key hash does not match the key".into(),
            ));
        }
        Ok(VerifierKey { name, hash, key })
    }

    /// The `name+hash+base64` text.
    pub fn encode(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.hash, B64.encode(bytes))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A checkpoint: the log's origin, its size and the chain hash after the last entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The log's origin line (`palisade.dev/evidence/<log id>`).
    pub origin: String,
    /// Entries covered.
    pub size: u64,
    /// The chain hash after entry `size`.
    pub head: [u8; 32],
}

impl Checkpoint {
    /// The checkpoint's text: origin, size and base64 head hash, one a line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.head)
        )
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, key: &SigningKey) -> String {
        let body = self.body();
        let line = key.signature_line(&body);
        format!("{body}\n{line}")
    }

    /// Reads a signed note and returns its checkpoint and the name of the trusted key that
    /// signed it. Signatures by keys not in `trusted` are ignored; a trusted key's signature
    /// that does not verify is an error.
    pub fn open(note: &str, trusted: &[VerifierKey]) -> Result<(Checkpoint, String), NoteError> {
        let malformed = |why: &str| NoteError::Malformed(why.to_string());
        let Some(split) = note.rfind("\n\n") else {
            return Err(malformed("no blank line before the signatures"));
        };
        let (body, signatures) = (&note[..split + 1], &note[split + 2..]);
        if signatures.is_empty() || !signatures.ends_with('\n') {
            return Err(malformed("the signature lines do not end with a newline"));
        }
        let mut seen = Vec::new();
        let mut signed_by = None;
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix(SIGNATURE_PREFIX) else {
                return Err(malformed("a signature line does not start with `— `"));
            };
            let Some((name, data)) = rest.split_once(' ') else {
                return Err(malformed("a signature line has no signature"));
            };
            let bytes = B64
                .decode(data)
                .map_err(|_| malformed("a signature is not base64"))?;
            if bytes.len() != 68 {
                return Err(malformed("an Ed25519 signature line has 4 + 64 bytes"));
            }
            let hash = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            seen.push(name.to_string());
            let Some(key) = trusted.iter().find(|k| k.name == name && k.hash == hash) else {
                continue;
            };
            let sig_bytes: [u8; 64] = bytes[4..]
                .try_into()
                .map_err(|_| malformed("an Ed25519 signature has 64 bytes"))?;
            let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
            key.key
                .verify(body.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature(name.to_string()))?;
            signed_by = Some(name.to_string());
        }
        let Some(signer) = signed_by else {
            return Err(NoteError::Unsigned(if seen.is_empty() {
                "nobody".into()
            } else {
                seen.join(", ")
            }));
        };
        let mut lines = body.lines();
        let (Some(origin), Some(size), Some(head)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("expected origin, size and hash lines"));
        };
        if lines.next().is_some() {
            return Err(malformed("unexpected extension lines"));
        }
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| !size.starts_with('0') || size == "0")
            .ok_or_else(|| malformed("the size is not a decimal number"))?;
        let head: [u8; 32] = B64
            .decode(head)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed("the hash is not 32 bytes of base64"))?;
        Ok((
            Checkpoint {
                origin: origin.to_string(),
                size,
                head,
            },
            signer,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, byte: u8) -> SigningKey {
        SigningKey::from_seed(name, [byte; 32]).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn keys_round_trip_through_their_texts() {
        let k = key("ci.example", 7);
        let text = k.encode();
        assert!(text.starts_with("PRIVATE+KEY+ci.example+"));
        let back = SigningKey::parse(&text).map(|b| b.encode());
        assert_eq!(back, Ok(text));
        let v = k.verifier();
        assert_eq!(VerifierKey::parse(&v.encode()), Ok(v));
    }

    #[test]
    fn a_signed_checkpoint_opens_with_the_public_key_only() {
        let k = key("ci.example", 7);
        let cp = Checkpoint {
            origin: "palisade.dev/evidence/x".into(),
            size: 42,
            head: [9; 32],
        };
        let note = cp.sign(&k);
        assert!(note.contains("\n\n\u{2014} ci.example "));
        assert_eq!(
            Checkpoint::open(&note, &[k.verifier()]),
            Ok((cp.clone(), "ci.example".into()))
        );
        // Another key with the same name does not verify it; an unknown key is not trusted.
        let other = key("ci.example", 8).verifier();
        assert!(matches!(
            Checkpoint::open(&note, &[other]),
            Err(NoteError::Unsigned(_))
        ));
        // Every byte of the body counts.
        let edited = note.replacen("42", "43", 1);
        assert_eq!(
            Checkpoint::open(&edited, &[k.verifier()]),
            Err(NoteError::BadSignature("ci.example".into()))
        );
    }

    #[test]
    fn malformed_keys_are_refused_with_a_reason() {
        for (text, why) in [
            ("", "expected name+hash+key"),
            ("a+b", "expected name+hash+key"),
            ("a b+01234567+AQ==", "a `+` or a space"),
            ("a+0123+AQ==", "8 hex digits"),
            ("a+01234567+!!", "not base64"),
            ("a+01234567+Ag==", "not an Ed25519 key"),
            ("a+01234567+AQ==", "32 bytes"),
        ] {
            match VerifierKey::parse(text) {
                Err(e) => assert!(e.to_string().contains(why), "{text}: {e}"),
                Ok(_) => unreachable!("{text} was accepted"),
            }
        }
        let mut v = key("n", 1).verifier().encode();
        v.replace_range(2..3, if &v[2..3] == "0" { "1" } else { "0" });
        assert!(VerifierKey::parse(&v).is_err());
    }
}
