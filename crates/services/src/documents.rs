//! Result documents: the PDF an agency issues when an application is approved, signed
//! with the platform's ES256 key, and its check by anyone at `/verify`.
//!
//! The signing key is derived from the vault's master key (HMAC with a purpose of its
//! own), so it needs no storage and every node has it; each document keeps the public
//! key it was signed with, so documents signed before a master-key rotation still
//! verify. A document is authentic when its SHA-256 names an issued document and the
//! stored signature over those bytes verifies: a single changed byte finds nothing.
//! GOST R 34.10-2012 signing (`qes`) is the next step where an agency's qualified key is
//! configured.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use store::vault::Vault;

/// The platform's document-signing key.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("public", &self.public_key()).finish_non_exhaustive()
    }
}

impl Signer {
    /// The key derived from the vault (the same on every node).
    pub fn from_vault(vault: &Vault) -> Self {
        let mut round = 0u32;
        loop {
            let hex = vault.secret_hash("document-signing", &format!("es256-v1-{round}"));
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            // Valid unless the digest is zero or above the group order (about 2^-32).
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Self { key };
            }
            round += 1;
        }
    }

    /// The public key, SEC1 uncompressed, base64url.
    pub fn public_key(&self) -> String {
        B64URL.encode(self.key.verifying_key().to_sec1_point(false).as_bytes())
    }

    /// The raw ES256 signature (r‖s) over `bytes`, base64url.
    pub fn sign(&self, bytes: &[u8]) -> String {
        let signature: Signature = self.key.sign(bytes);
        B64URL.encode(signature.to_bytes())
    }
}

/// Whether `signature` (base64url r‖s) by `public_key` (base64url SEC1) covers `bytes`.
pub fn verify(public_key: &str, signature: &str, bytes: &[u8]) -> bool {
    let (Ok(key), Ok(sig)) = (B64URL.decode(public_key), B64URL.decode(signature)) else {
        return false;
    };
    let (Ok(key), Ok(sig)) = (VerifyingKey::from_sec1_bytes(&key), Signature::from_slice(&sig))
    else {
        return false;
    };
    key.verify(bytes, &sig).is_ok()
}

/// The SHA-256 of a document, lowercase hex.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_a_changed_byte_does_not() {
        let vault = Vault::new(&[7; 32], &[]);
        let signer = Signer::from_vault(&vault);
        assert_eq!(signer.public_key(), Signer::from_vault(&vault).public_key(), "stable");
        let pdf = b"%PDF-1.7 a document".to_vec();
        let sig = signer.sign(&pdf);
        assert!(verify(&signer.public_key(), &sig, &pdf));
        let mut changed = pdf.clone();
        changed[10] ^= 1;
        assert!(!verify(&signer.public_key(), &sig, &changed));
        let other = Signer::from_vault(&Vault::new(&[8; 32], &[]));
        assert!(!verify(&other.public_key(), &sig, &pdf));
        assert!(!verify("garbage", &sig, &pdf));
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
