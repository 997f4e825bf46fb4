//! Personal data at rest: AES-256-GCM encryption with a key id, and keyed blind indexes
//! (HMAC-SHA-256) to look encrypted values up by equality.
//!
//! All keys derive from one 32-byte master key (HMAC-SHA-256 with a purpose label), so an
//! operator manages one secret. A stored value reads `v1.<key id>.<base64(nonce ‖
//! ciphertext ‖ tag)>`; the associated data is the value's *context* (for example
//! `contact.phone`), so a ciphertext copied into another column does not decrypt.
//! Older master keys can be kept for decryption while values are re-encrypted.
//!
//! Files (blobs) are sealed as bytes, without text encoding: `USB1 ‖ key id (8 ASCII hex)
//! ‖ nonce ‖ ciphertext ‖ tag`, encrypted in place in one buffer.

use std::io::Write as _;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadInOut, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Why a stored value could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("encrypted value is malformed")]
    Malformed,
    #[error("encrypted with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("encrypted value does not authenticate (wrong key, context or tampering)")]
    Forged,
    #[error("master key must be 32 bytes as 64 hex digits or base64")]
    BadKey,
}

struct Sealer {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Encrypts, decrypts and indexes personal data.
#[derive(Debug)]
pub struct Vault {
    current: Sealer,
    previous: Vec<Sealer>,
    index_key: [u8; 32],
    hash_key: [u8; 32],
}

fn derive(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

fn sealer(master: &[u8; 32]) -> Sealer {
    let key = derive(master, "uslugi/v1/pii-encryption");
    let id = hex::encode(&Sha256::digest(key)[..4]);
    Sealer { id, cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(key)) }
}

impl Vault {
    /// A vault over `master`; `previous` masters are kept for decrypting old values.
    pub fn new(master: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            current: sealer(master),
            previous: previous.iter().map(sealer).collect(),
            index_key: derive(master, "uslugi/v1/blind-index"),
            hash_key: derive(master, "uslugi/v1/secret-hash"),
        }
    }

    /// The id of the key new values are encrypted with.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plaintext` for storage in `context`.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let nonce = Nonce::generate();
        let payload = Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() };
        // AES-GCM encryption fails only for inputs over 64 GiB.
        let sealed = self.current.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("v1.{}.{}", self.current.id, B64.encode(bytes))
    }

    /// Decrypts a value written by [`Vault::encrypt`] for the same `context`.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<String, VaultError> {
        let mut parts = stored.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VaultError::Malformed);
        };
        let sealer = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|s| s.id == kid)
            .ok_or_else(|| VaultError::UnknownKey(kid.to_owned()))?;
        let bytes = B64.decode(body).map_err(|_| VaultError::Malformed)?;
        if bytes.len() < 12 + 16 {
            return Err(VaultError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| VaultError::Malformed)?;
        let plain = sealer
            .cipher
            .decrypt(&nonce, Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| VaultError::Forged)?;
        String::from_utf8(plain).map_err(|_| VaultError::Malformed)
    }

    /// Encrypts bytes (a file) for storage in `context`, in one buffer of the input's size
    /// plus 40 bytes.
    pub fn seal_bytes(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let nonce = Nonce::generate();
        let mut out = Vec::with_capacity(BLOB_HEADER + plaintext.len() + 16);
        out.extend_from_slice(BLOB_MAGIC);
        out.extend_from_slice(self.current.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        // AES-GCM encryption fails only for inputs over 64 GiB.
        let tag = self
            .current
            .cipher
            .encrypt_inout_detached(&nonce, context.as_bytes(), (&mut out[BLOB_HEADER..]).into())
            .unwrap_or_default();
        out.extend_from_slice(&tag);
        out
    }

    /// Decrypts bytes sealed by [`Vault::seal_bytes`] (or, from before it, text sealed by
    /// [`Vault::encrypt`] holding base64) for the same `context`, in place.
    pub fn open_bytes(&self, mut sealed: Vec<u8>, context: &str) -> Result<Vec<u8>, VaultError> {
        if sealed.starts_with(b"v1.") {
            let text = String::from_utf8(sealed).map_err(|_| VaultError::Malformed)?;
            let b64 = self.decrypt(&text, context)?;
            return base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| VaultError::Malformed);
        }
        if sealed.len() < BLOB_HEADER + 16 || !sealed.starts_with(BLOB_MAGIC) {
            return Err(VaultError::Malformed);
        }
        let kid = std::str::from_utf8(&sealed[4..12]).map_err(|_| VaultError::Malformed)?;
        let sealer = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|s| s.id == kid)
            .ok_or_else(|| VaultError::UnknownKey(kid.to_owned()))?;
        let nonce = Nonce::try_from(&sealed[12..BLOB_HEADER]).map_err(|_| VaultError::Malformed)?;
        let tag_at = sealed.len() - 16;
        let tag = aes_gcm::Tag::try_from(&sealed[tag_at..]).map_err(|_| VaultError::Malformed)?;
        sealer
            .cipher
            .decrypt_inout_detached(
                &nonce,
                context.as_bytes(),
                (&mut sealed[BLOB_HEADER..tag_at]).into(),
                &tag,
            )
            .map_err(|_| VaultError::Forged)?;
        sealed.truncate(tag_at);
        sealed.drain(..BLOB_HEADER);
        Ok(sealed)
    }

    /// A deterministic keyed digest of a normalized value, for equality look-ups of
    /// encrypted columns. `kind` separates value spaces (a phone never matches an INN).
    pub fn blind_index(&self, kind: &str, normalized: &str) -> String {
        keyed(&self.index_key, kind, normalized)
    }

    /// A keyed hash of a secret (a one-time code, a session id) for storage: a database
    /// dump alone does not let anyone test guesses.
    pub fn secret_hash(&self, purpose: &str, secret: &str) -> String {
        keyed(&self.hash_key, purpose, secret)
    }
}

const BLOB_MAGIC: &[u8; 4] = b"USB1";
/// Magic, key id, nonce.
const BLOB_HEADER: usize = 4 + 8 + 12;

fn keyed(key: &[u8; 32], kind: &str, value: &str) -> String {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(kind.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Reads a master key written as 64 hex digits or as base64 of 32 bytes.
pub fn parse_key(text: &str) -> Result<[u8; 32], VaultError> {
    let text = text.trim();
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .ok_or(VaultError::BadKey)?;
    bytes.try_into().map_err(|_| VaultError::BadKey)
}

/// The development key in `path`, created (mode 0600) with fresh randomness if missing.
/// Production deployments configure their key instead.
pub fn load_or_create_dev_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        return parse_key(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    }
    let key: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(hex::encode(key).as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_context_and_key() {
        let v = Vault::new(&[7; 32], &[]);
        let c = v.encrypt("+79161234567", "contact.phone");
        assert!(c.starts_with(&format!("v1.{}.", v.key_id())));
        assert!(!c.contains("7916"));
        assert_eq!(v.decrypt(&c, "contact.phone").as_deref(), Ok("+79161234567"));
        assert_ne!(v.encrypt("+79161234567", "contact.phone"), c, "random nonces");
        assert_eq!(v.decrypt(&c, "contact.email"), Err(VaultError::Forged));
        let other = Vault::new(&[8; 32], &[]);
        assert!(matches!(other.decrypt(&c, "contact.phone"), Err(VaultError::UnknownKey(_))));
        let rotated = Vault::new(&[8; 32], &[[7; 32]]);
        assert_eq!(rotated.decrypt(&c, "contact.phone").as_deref(), Ok("+79161234567"));
        let mut forged = c.clone();
        forged.pop();
        forged.push(if c.ends_with('A') { 'B' } else { 'A' });
        assert!(v.decrypt(&forged, "contact.phone").is_err());
    }

    #[test]
    fn bytes_round_trip_bound_to_context_and_key() {
        let v = Vault::new(&[7; 32], &[]);
        let file = b"%PDF-1.7 secret".to_vec();
        let sealed = v.seal_bytes(&file, "application.file:1");
        assert_eq!(sealed.len(), file.len() + 40);
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(v.open_bytes(sealed.clone(), "application.file:1"), Ok(file.clone()));
        assert_eq!(v.open_bytes(sealed.clone(), "application.file:2"), Err(VaultError::Forged));
        let mut tampered = sealed.clone();
        tampered[30] ^= 1;
        assert_eq!(v.open_bytes(tampered, "application.file:1"), Err(VaultError::Forged));
        let rotated = Vault::new(&[8; 32], &[[7; 32]]);
        assert_eq!(rotated.open_bytes(sealed, "application.file:1"), Ok(file.clone()));
        // Files sealed as text before keep opening.
        let old = v.encrypt(
            &base64::engine::general_purpose::STANDARD.encode(&file),
            "application.file:1",
        );
        assert_eq!(v.open_bytes(old.into_bytes(), "application.file:1"), Ok(file));
        assert_eq!(v.open_bytes(b"short".to_vec(), "x"), Err(VaultError::Malformed));
    }

    #[test]
    fn blind_indexes_are_deterministic_and_separated() {
        let v = Vault::new(&[7; 32], &[]);
        assert_eq!(v.blind_index("phone", "+79161234567"), v.blind_index("phone", "+79161234567"));
        assert_ne!(v.blind_index("phone", "x"), v.blind_index("email", "x"));
        assert_ne!(
            v.blind_index("phone", "x"),
            Vault::new(&[8; 32], &[]).blind_index("phone", "x")
        );
        assert_ne!(v.secret_hash("code", "123456"), v.blind_index("code", "123456"));
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        assert_eq!(parse_key(&"ab".repeat(32)), Ok([0xab; 32]));
        assert_eq!(parse_key("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="), Ok([0xab; 32]));
        assert_eq!(parse_key("short"), Err(VaultError::BadKey));
    }
}
