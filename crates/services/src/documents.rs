//! Result documents: the PDF an agency issues when an application is approved, signed
//! with the platform's ES256 key, and its check by anyone at `/verify`.
//!
//! The signing key is derived from the vault's master key (HMAC with a purpose of its
//! own), so it needs no storage and every node has it; each document keeps the public
//! key it was signed with, so documents signed before a master-key rotation still
//! verify. A document is authentic when its SHA-256 names an issued document and the
//! stored signature over those bytes verifies: a single changed byte finds nothing.
//!
//! When the operator configures a GOST R 34.10-2012 key and its qualified certificate
//! (`document_signing_key`, `document_signing_cert`), documents are signed with it
//! instead: a detached CMS (`qes::DocumentSigner`) that any Russian verifier reads, kept
//! with the certificate. Such a document is authentic when the CMS verifies over the
//! bytes, chains to a trusted root and was made with the certificate recorded at issue,
//! which must have been valid then.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use store::vault::Vault;

/// The platform's document-signing key.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    gost: Option<Gost>,
    /// The roots GOST documents chain to when no GOST key signs any more (`qes_roots`).
    roots: Option<std::sync::Arc<qes::TrustStore>>,
}

/// A configured GOST key, and the roots its documents chain to.
#[derive(Clone)]
struct Gost {
    signer: std::sync::Arc<qes::DocumentSigner>,
    trust: std::sync::Arc<qes::TrustStore>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public", &self.public_key())
            .field("gost", &self.gost.as_ref().map(|g| g.signer.certificate().subject_name()))
            .finish_non_exhaustive()
    }
}

/// How a document is signed: `ES256` (raw r‖s, key in SEC1) or `GOST` (detached CMS,
/// the signer's certificate).
pub const ES256: &str = "ES256";
pub const GOST: &str = "GOST";

/// A document's signature as stored: algorithm, signature and key (base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub algorithm: &'static str,
    pub signature: String,
    pub public_key: String,
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
                return Self { key, gost: None, roots: None };
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

    /// Trusts `roots` for the GOST documents issued before (when no GOST key is
    /// configured now, or besides its chain).
    pub fn with_roots(mut self, roots: Option<std::sync::Arc<qes::TrustStore>>) -> Self {
        self.roots = roots;
        self
    }

    /// Signs with the GOST key from now on. `roots` are the trusted roots of qualified
    /// certificates besides the CA certificates given with the signer's. Refused unless a
    /// signature made now verifies (a chain to a trusted root, a valid certificate).
    pub fn with_gost(
        mut self,
        signer: qes::DocumentSigner,
        roots: Option<&qes::TrustStore>,
        now: DateTime<Utc>,
    ) -> Result<Self, String> {
        let mut ders: Vec<&[u8]> = signer.certificates()[1..].iter().map(|c| c.der()).collect();
        if let Some(roots) = roots {
            ders.extend(roots.certificates().iter().map(|c| c.der()));
        }
        let trust = qes::TrustStore::from_pem_or_der(&ders).map_err(|_| {
            "нет сертификата удостоверяющего центра: добавьте цепочку в файл сертификата \
             или корневой сертификат в qes_roots"
                .to_owned()
        })?;
        let probe = b"uslugi document signing self-check";
        let cms = signer.sign_detached(probe, now, &entropy()).map_err(|e| e.to_string())?;
        qes::verify_detached(&cms, probe, &[], &trust, now).map_err(|e| e.to_string())?;
        self.gost =
            Some(Gost { signer: std::sync::Arc::new(signer), trust: std::sync::Arc::new(trust) });
        Ok(self)
    }

    /// Signs a document with the configured key: GOST when configured, else ES256.
    pub fn sign_document(&self, bytes: &[u8], now: DateTime<Utc>) -> Result<Signed, String> {
        match &self.gost {
            Some(g) => Ok(Signed {
                algorithm: GOST,
                signature: B64URL.encode(
                    g.signer.sign_detached(bytes, now, &entropy()).map_err(|e| e.to_string())?,
                ),
                public_key: B64URL.encode(g.signer.certificate().der()),
            }),
            None => Ok(Signed {
                algorithm: ES256,
                signature: self.sign(bytes),
                public_key: self.public_key(),
            }),
        }
    }

    /// The line the document prints under «Подписано».
    pub fn describe(&self) -> String {
        match &self.gost {
            Some(g) => {
                let cert = g.signer.certificate();
                format!(
                    "ГОСТ Р 34.10-2012, сертификат № {} ({}), выдан {}",
                    cert.serial(),
                    cert.subject_name(),
                    cert.issuer_name()
                )
            }
            None => format!("ES256, ключ {}", &self.public_key()[..16]),
        }
    }

    /// Whether a stored signature covers `bytes`. GOST: the CMS verifies with the
    /// certificate recorded at issue, valid at `issued_at`, chained to a trusted root.
    pub fn verify_document(
        &self,
        algorithm: &str,
        public_key: &str,
        signature: &str,
        bytes: &[u8],
        issued_at: DateTime<Utc>,
    ) -> bool {
        match algorithm {
            ES256 => verify(public_key, signature, bytes),
            GOST => {
                let (Ok(cms), Ok(cert)) = (B64URL.decode(signature), B64URL.decode(public_key))
                else {
                    return false;
                };
                let mut stores =
                    self.gost.as_ref().map(|g| &*g.trust).into_iter().chain(self.roots.as_deref());
                stores.any(|trust| {
                    qes::verify_detached(&cms, bytes, &[], trust, issued_at)
                        .is_ok_and(|v| v.certificate.der() == cert.as_slice())
                })
            }
            _ => false,
        }
    }
}

/// Fresh randomness for a GOST nonce (two UUIDv4s: 244 random bits from the OS).
fn entropy() -> Vec<u8> {
    [uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat()
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

    /// A GOST document stays verifiable with the roots of `qes_roots` once the key is no
    /// longer configured, and not without them. (Needs the generated material.)
    #[test]
    fn gost_documents_verify_with_the_roots_after_the_key_is_gone() {
        let Some(dir) = std::env::var_os("USLUGI_QES_MATERIAL").filter(|d| !d.is_empty()) else {
            eprintln!("skipped: USLUGI_QES_MATERIAL is not set (scripts/test sets it)");
            return;
        };
        let dir = std::path::PathBuf::from(dir).join("citizen/gost256");
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let chain = [read("user.pem"), read("ca.pem")].concat();
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 9, 0, 0).unwrap();
        let vault = Vault::new(&[7; 32], &[]);
        let gost = qes::DocumentSigner::from_pem(&read("key.pem"), &chain).unwrap();
        let signer = Signer::from_vault(&vault).with_gost(gost, None, at).unwrap();
        let pdf = b"%PDF-1.7 a document".to_vec();
        let signed = signer.sign_document(&pdf, at).unwrap();
        assert_eq!(signed.algorithm, GOST);
        let check = |s: &Signer, bytes: &[u8]| {
            s.verify_document(GOST, &signed.public_key, &signed.signature, bytes, at)
        };
        assert!(check(&signer, &pdf));
        let later = Signer::from_vault(&vault);
        assert!(!check(&later, &pdf), "no trusted root");
        let roots = qes::TrustStore::from_pem_or_der(&[&read("ca.pem")]).unwrap();
        let later = later.with_roots(Some(std::sync::Arc::new(roots)));
        assert!(check(&later, &pdf));
        let mut changed = pdf.clone();
        changed[3] ^= 1;
        assert!(!check(&later, &changed));
    }
}
