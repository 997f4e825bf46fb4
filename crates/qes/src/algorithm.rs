//! Supported signature algorithms: public keys from certificates, digests, verification.

use std::fmt;

use const_oid::ObjectIdentifier;
use rsa::{Pkcs1v15Sign, RsaPublicKey, pkcs1::DecodeRsaPublicKey, traits::PublicKeyParts};
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::SubjectPublicKeyInfoOwned;
use streebog::{Streebog256, Streebog512};

use crate::asn1;
use crate::error::QesError;
use crate::gost::{GostCurve, GostPublicKey};
use crate::oids;

/// The smallest RSA modulus accepted, in bits.
const RSA_MIN_BITS: usize = 2048;

/// A signature algorithm: the key type together with its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// GOST R 34.10-2012 with a 256-bit key and GOST R 34.11-2012 (Streebog-256).
    Gost2012_256,
    /// GOST R 34.10-2012 with a 512-bit key and GOST R 34.11-2012 (Streebog-512).
    Gost2012_512,
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaSha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaSha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RsaSha512,
}

impl Algorithm {
    /// A stable machine-readable name.
    pub fn code(self) -> &'static str {
        match self {
            Self::Gost2012_256 => "gost2012_256",
            Self::Gost2012_512 => "gost2012_512",
            Self::EcdsaP256Sha256 => "ecdsa_p256_sha256",
            Self::EcdsaP384Sha384 => "ecdsa_p384_sha384",
            Self::RsaSha256 => "rsa_sha256",
            Self::RsaSha384 => "rsa_sha384",
            Self::RsaSha512 => "rsa_sha512",
        }
    }

    fn digest(self) -> DigestAlg {
        match self {
            Self::Gost2012_256 => DigestAlg::Streebog256,
            Self::Gost2012_512 => DigestAlg::Streebog512,
            Self::EcdsaP256Sha256 | Self::RsaSha256 => DigestAlg::Sha256,
            Self::EcdsaP384Sha384 | Self::RsaSha384 => DigestAlg::Sha384,
            Self::RsaSha512 => DigestAlg::Sha512,
        }
    }

    /// The digest of `data` with this algorithm's hash function.
    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        self.digest().hash(data)
    }
}

/// The name a citizen would recognise.
impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gost2012_256 => "ГОСТ Р 34.10-2012 (256 бит)",
            Self::Gost2012_512 => "ГОСТ Р 34.10-2012 (512 бит)",
            Self::EcdsaP256Sha256 => "ECDSA P-256 с SHA-256",
            Self::EcdsaP384Sha384 => "ECDSA P-384 с SHA-384",
            Self::RsaSha256 => "RSA с SHA-256",
            Self::RsaSha384 => "RSA с SHA-384",
            Self::RsaSha512 => "RSA с SHA-512",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigestAlg {
    Streebog256,
    Streebog512,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        Some(match *oid {
            oids::STREEBOG_256 => Self::Streebog256,
            oids::STREEBOG_512 => Self::Streebog512,
            oids::SHA256 => Self::Sha256,
            oids::SHA384 => Self::Sha384,
            oids::SHA512 => Self::Sha512,
            _ => return None,
        })
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Streebog256 => Streebog256::digest(data).to_vec(),
            Self::Streebog512 => Streebog512::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// A public key of a supported type, taken from a certificate.
#[derive(Debug, Clone)]
pub(crate) enum PublicKey {
    Gost(GostPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(RsaPublicKey),
}

impl PublicKey {
    /// Decodes a SubjectPublicKeyInfo. Unknown or unsupported key types are refused with
    /// their name; a supported type whose bits do not decode is a malformed certificate.
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, QesError> {
        let oid = spki.algorithm.oid;
        let bits = spki.subject_public_key.as_bytes().ok_or(QesError::MalformedCertificate)?;
        let params = spki.algorithm.parameters.as_ref();
        match oid {
            oids::GOST_2012_256 | oids::GOST_2012_512 => {
                // parameters: SEQUENCE { publicKeyParamSet OID, digestParamSet OID OPTIONAL }
                let params = params.ok_or(QesError::MalformedCertificate)?;
                let params_der =
                    der::Encode::to_der(params).map_err(|_| QesError::MalformedCertificate)?;
                let seq = asn1::single(&params_der).map_err(|_| QesError::MalformedCertificate)?;
                if seq.tag != asn1::SEQUENCE {
                    return Err(QesError::MalformedCertificate);
                }
                let paramset = seq
                    .children()
                    .expect(asn1::OID)
                    .and_then(|t| t.oid())
                    .map_err(|_| QesError::MalformedCertificate)?;
                let curve = GostCurve::from_oid(&paramset).ok_or_else(|| {
                    QesError::UnsupportedAlgorithm(format!(
                        "ГОСТ Р 34.10-2012 с набором параметров {paramset}"
                    ))
                })?;
                let expected = if oid == oids::GOST_2012_256 { 32 } else { 64 };
                if curve.size() != expected {
                    return Err(QesError::MalformedCertificate);
                }
                // The point is an OCTET STRING inside the BIT STRING.
                let point = asn1::single(bits)
                    .ok()
                    .filter(|t| t.tag == asn1::OCTET_STRING)
                    .ok_or(QesError::MalformedCertificate)?;
                GostPublicKey::from_le_bytes(curve, point.content)
                    .map(Self::Gost)
                    .ok_or(QesError::MalformedCertificate)
            }
            oids::EC_PUBLIC_KEY => {
                let curve = params
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                    .ok_or(QesError::MalformedCertificate)?;
                match curve {
                    oids::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                        .map(Self::P256)
                        .map_err(|_| QesError::MalformedCertificate),
                    oids::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                        .map(Self::P384)
                        .map_err(|_| QesError::MalformedCertificate),
                    other => {
                        Err(QesError::UnsupportedAlgorithm(format!("ECDSA на кривой {other}")))
                    }
                }
            }
            oids::RSA => {
                let key = RsaPublicKey::from_pkcs1_der(bits)
                    .map_err(|_| QesError::MalformedCertificate)?;
                let size = key.size() * 8;
                if size < RSA_MIN_BITS {
                    return Err(QesError::UnsupportedAlgorithm(format!("RSA-{size}")));
                }
                Ok(Self::Rsa(key))
            }
            other => Err(QesError::UnsupportedAlgorithm(algorithm_name(&other))),
        }
    }

    /// The algorithm of a certificate signature made with this (issuer) key.
    pub(crate) fn algorithm_for_certificate(
        &self,
        signature_oid: &ObjectIdentifier,
    ) -> Result<Algorithm, QesError> {
        let alg = match (*signature_oid, self) {
            (oids::GOST_2012_256_SIGN, Self::Gost(k)) if k.curve().size() == 32 => {
                Algorithm::Gost2012_256
            }
            (oids::GOST_2012_512_SIGN, Self::Gost(k)) if k.curve().size() == 64 => {
                Algorithm::Gost2012_512
            }
            (oids::ECDSA_SHA256, Self::P256(_)) => Algorithm::EcdsaP256Sha256,
            (oids::ECDSA_SHA384, Self::P384(_)) => Algorithm::EcdsaP384Sha384,
            (oids::RSA_SHA256, Self::Rsa(_)) => Algorithm::RsaSha256,
            (oids::RSA_SHA384, Self::Rsa(_)) => Algorithm::RsaSha384,
            (oids::RSA_SHA512, Self::Rsa(_)) => Algorithm::RsaSha512,
            (other, _) => return Err(QesError::UnsupportedAlgorithm(self.mismatch(&other))),
        };
        Ok(alg)
    }

    /// The algorithm of a CMS SignerInfo: its signatureAlgorithm may name the key type
    /// (as OpenSSL and CryptoPro write it) or the combined algorithm; the digest comes from
    /// digestAlgorithm and must fit the key.
    pub(crate) fn algorithm_for_signer(
        &self,
        signature_oid: &ObjectIdentifier,
        digest_oid: &ObjectIdentifier,
    ) -> Result<Algorithm, QesError> {
        let digest = DigestAlg::from_oid(digest_oid)
            .ok_or_else(|| QesError::UnsupportedAlgorithm(algorithm_name(digest_oid)))?;
        let alg = match self {
            Self::Gost(k) if k.curve().size() == 32 => Algorithm::Gost2012_256,
            Self::Gost(_) => Algorithm::Gost2012_512,
            Self::P256(_) => Algorithm::EcdsaP256Sha256,
            Self::P384(_) => Algorithm::EcdsaP384Sha384,
            Self::Rsa(_) => match digest {
                DigestAlg::Sha256 => Algorithm::RsaSha256,
                DigestAlg::Sha384 => Algorithm::RsaSha384,
                DigestAlg::Sha512 => Algorithm::RsaSha512,
                _ => {
                    return Err(QesError::UnsupportedAlgorithm(format!(
                        "RSA с {}",
                        algorithm_name(digest_oid)
                    )));
                }
            },
        };
        if alg.digest() != digest {
            return Err(QesError::UnsupportedAlgorithm(format!(
                "{} с хэш-функцией {}",
                self.kind_name(),
                algorithm_name(digest_oid)
            )));
        }
        let key_oid_matches = match self {
            Self::Gost(k) if k.curve().size() == 32 => {
                *signature_oid == oids::GOST_2012_256 || *signature_oid == oids::GOST_2012_256_SIGN
            }
            Self::Gost(_) => {
                *signature_oid == oids::GOST_2012_512 || *signature_oid == oids::GOST_2012_512_SIGN
            }
            Self::P256(_) => {
                *signature_oid == oids::EC_PUBLIC_KEY || *signature_oid == oids::ECDSA_SHA256
            }
            Self::P384(_) => {
                *signature_oid == oids::EC_PUBLIC_KEY || *signature_oid == oids::ECDSA_SHA384
            }
            Self::Rsa(_) => {
                *signature_oid == oids::RSA
                    || (*signature_oid == oids::RSA_SHA256 && digest == DigestAlg::Sha256)
                    || (*signature_oid == oids::RSA_SHA384 && digest == DigestAlg::Sha384)
                    || (*signature_oid == oids::RSA_SHA512 && digest == DigestAlg::Sha512)
            }
        };
        if !key_oid_matches {
            return Err(QesError::UnsupportedAlgorithm(self.mismatch(signature_oid)));
        }
        Ok(alg)
    }

    /// Verifies `signature` over `message` (hashed here) with algorithm `alg`, which must
    /// come from `algorithm_for_*` for this key.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Gost(k) => k.verify_digest(&alg.hash(message), signature),
            Self::P256(k) => {
                use p256::ecdsa::signature::Verifier;
                p256::ecdsa::Signature::from_der(signature)
                    .is_ok_and(|sig| k.verify(message, &sig).is_ok())
            }
            Self::P384(k) => {
                use p384::ecdsa::signature::Verifier;
                p384::ecdsa::Signature::from_der(signature)
                    .is_ok_and(|sig| k.verify(message, &sig).is_ok())
            }
            Self::Rsa(k) => {
                let scheme = match alg {
                    Algorithm::RsaSha256 => Pkcs1v15Sign::new::<Sha256>(),
                    Algorithm::RsaSha384 => Pkcs1v15Sign::new::<Sha384>(),
                    Algorithm::RsaSha512 => Pkcs1v15Sign::new::<Sha512>(),
                    _ => return false,
                };
                k.verify(scheme, &alg.hash(message), signature).is_ok()
            }
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Self::Gost(k) if k.curve().size() == 32 => "ГОСТ Р 34.10-2012 (256 бит)",
            Self::Gost(_) => "ГОСТ Р 34.10-2012 (512 бит)",
            Self::P256(_) => "ECDSA P-256",
            Self::P384(_) => "ECDSA P-384",
            Self::Rsa(_) => "RSA",
        }
    }

    fn mismatch(&self, signature_oid: &ObjectIdentifier) -> String {
        format!("{} для ключа {}", algorithm_name(signature_oid), self.kind_name())
    }
}

/// A readable name for an algorithm identifier, known or not.
pub(crate) fn algorithm_name(oid: &ObjectIdentifier) -> String {
    let known = match *oid {
        oids::GOST_2001 | oids::GOST_2001_SIGN => "ГОСТ Р 34.10-2001",
        oids::GOST_2012_256 | oids::GOST_2012_256_SIGN => "ГОСТ Р 34.10-2012 (256 бит)",
        oids::GOST_2012_512 | oids::GOST_2012_512_SIGN => "ГОСТ Р 34.10-2012 (512 бит)",
        oids::RSA_SHA1 => "RSA с SHA-1",
        oids::RSA_PSS => "RSASSA-PSS",
        oids::ECDSA_SHA256 => "ECDSA с SHA-256",
        oids::ECDSA_SHA384 => "ECDSA с SHA-384",
        oids::RSA_SHA256 => "RSA с SHA-256",
        oids::RSA_SHA384 => "RSA с SHA-384",
        oids::RSA_SHA512 => "RSA с SHA-512",
        oids::STREEBOG_256 => "ГОСТ Р 34.11-2012 (256 бит)",
        oids::STREEBOG_512 => "ГОСТ Р 34.11-2012 (512 бит)",
        oids::SHA256 => "SHA-256",
        oids::SHA384 => "SHA-384",
        oids::SHA512 => "SHA-512",
        _ => return oid.to_string(),
    };
    known.to_owned()
}
