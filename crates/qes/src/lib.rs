//! Verification of qualified electronic signatures (квалифицированная электронная подпись).
//!
//! A citizen signs a challenge with a qualified certificate (a token with CryptoPro, a
//! browser plug-in, OpenSSL with the GOST engine); Uslugi receives a detached CMS
//! SignedData and calls [`verify_detached`], which checks that
//!
//! - the input is a CMS SignedData (DER, BER with indefinite lengths, PEM or bare base64)
//!   with exactly one signer;
//! - the signer's certificate is present (embedded, or passed in `extra_certs`), found by
//!   issuer and serial number or by subject key identifier;
//! - with signed attributes: the messageDigest attribute equals the digest of the content,
//!   the contentType attribute matches, and the signature covers the DER of the signed
//!   attributes (re-tagged as SET OF); without them, the signature covers the content;
//! - the signer's certificate allows digitalSignature or nonRepudiation and is valid at
//!   `now`;
//! - a chain leads to a root in the [`TrustStore`]: every link's signature verifies with its
//!   issuer's key, names chain, every issuer is a CA (basicConstraints, keyCertSign, path
//!   length) and valid at `now`.
//!
//! Supported algorithms ([`Algorithm`]): GOST R 34.10-2012 with 256- and 512-bit keys and
//! GOST R 34.11-2012 (Streebog), ECDSA P-256/SHA-256 and P-384/SHA-384, RSA PKCS#1 v1.5
//! (2048 bits or more) with SHA-256/384/512. GOST R 34.10-2001 is refused by name.
//!
//! Time is a parameter: nothing here reads the clock.
//!
//! # What is written by hand, and why
//!
//! - **GOST R 34.10-2012 arithmetic** ([`gost`]): no maintained Rust crate verifies GOST
//!   signatures, so the curve arithmetic is implemented here on top of `crypto-bigint`
//!   (Montgomery field elements with compile-time moduli). Verification handles public
//!   data only, so it is variable-time; it uses Jacobian coordinates and a width-5 NAF
//!   double-scalar multiplication (Shamir's trick). Curves: TC26 256-bit paramSetA–D
//!   (including the CryptoPro A–C and XchA/XchB sets they alias), 512-bit paramSetA–C;
//!   the twisted Edwards sets are used in their Weierstrass form. It is tested against the
//!   standard's own examples (RFC 7091, section 7) and against signatures made by OpenSSL's
//!   GOST engine on every parameter set.
//! - **The CMS envelope walk** (`asn1`, `cms`): signatures are checked over the bytes as the
//!   signer encoded them, which a decode-and-re-encode with typed structures can change
//!   (SET OF ordering, BER). Certificates are still decoded with `x509-cert`, keys with
//!   `spki`, `p256`, `p384` and `rsa`.
//!
//! # Out of scope
//!
//! **Revocation is not checked**: no CRL or OCSP is fetched or read, so a revoked but
//! unexpired certificate is accepted. Neither are timestamps (CAdES-T), certificate
//! policies, or qualified-certificate statements; `signing_time` is the signer's own claim.

mod algorithm;
mod asn1;
mod cert;
mod chain;
mod cms;
mod encoding;
mod error;
pub mod gost;
mod oids;
mod signer;
mod trust;

pub use algorithm::Algorithm;
pub use cert::{Certificate, Subject, parse_certificate};
pub use cms::{Verified, verify_detached};
pub use error::QesError;
pub use signer::DocumentSigner;
pub use trust::TrustStore;

impl gost::GostPublicKey {
    /// The GOST public key of a certificate.
    pub fn from_certificate(cert: &Certificate) -> Result<Self, QesError> {
        Self::from_public_key(cert.public_key()?)
    }

    /// A GOST public key from a DER SubjectPublicKeyInfo (as `openssl pkey -pubout
    /// -outform DER` writes it).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, QesError> {
        use der::Decode;
        let spki = spki::SubjectPublicKeyInfoOwned::from_der(der)
            .map_err(|_| QesError::MalformedCertificate)?;
        Self::from_public_key(algorithm::PublicKey::from_spki(&spki)?)
    }

    fn from_public_key(key: algorithm::PublicKey) -> Result<Self, QesError> {
        match key {
            algorithm::PublicKey::Gost(key) => Ok(key),
            _ => Err(QesError::UnsupportedAlgorithm("ключ не ГОСТ Р 34.10-2012".to_owned())),
        }
    }
}
